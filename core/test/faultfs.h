/*
 * faultfs.h -- a fault-injecting, power-cut-simulating file-system table
 * for the tests (SQLite's test VFS is the model).
 *
 * It wraps cdb_os_posix (os.h): every call is counted by kind and passed
 * on, unless a fault is armed for it.  Two things can be armed:
 *
 *  - A fault: the Nth call (counted from arming) of one kind, or of any
 *    mutating kind (FFS_ANY: create, write, sync, sync_dir, truncate,
 *    rename, unlink), fails with a chosen errno (EIO, ENOSPC, ...).  A write
 *    can be made short: it writes a prefix of its bytes, then fails.  A
 *    sticky fault keeps failing every later call of its kind (a dead disk).
 *
 *  - A power cut.  With ffs_track(dir), the layer remembers for every file
 *    of dir its durable content (what it held at its last successful
 *    fdatasync; everything on disk when tracking starts counts as durable)
 *    and for every name whether its directory entry is durable (created,
 *    renamed or unlinked since the last sync_dir of dir, or not).  The
 *    model is by inode: data belongs to the file, names to the directory.
 *    A cut (now, or armed at the Nth mutating call) computes the image the
 *    disk would hold after it: each durable name gets its file's durable
 *    content, plus, when tearing, a random prefix of the bytes appended
 *    since (or of zeros, as some file systems leave); a name whose entry
 *    never became durable is gone (an unlink that was not synced is
 *    undone).  From the cut on, every mutating call fails with EIO (the
 *    machine is off); reads still work so that handles can be freed.
 *    ffs_apply_cut() then writes the image to disk with plain POSIX calls,
 *    once the test has closed its handles.
 *
 * The real fdatasync and directory fsync are skipped unless
 * ffs_real_sync(1): durability is simulated (or, for fault tests, beside
 * the point), so the tests stay fast on a real disk.
 *
 * Limits of the model: the database directory's own entry in its parent is
 * taken as durable; unsynced appends are lost or kept as a prefix, never
 * with holes (no page reordering within a file); the durable content of a
 * file is all of it as of the sync (fdatasync makes the size durable too).
 *
 * Header-only: every function is static inline, so each test that includes
 * it is still a single file and uses only what it needs.  Not thread-safe, like
 * cdb_os_set.
 */
#ifndef CASKDB_FAULTFS_H
#define CASKDB_FAULTFS_H

#include "os.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Kinds of calls, for counting and for arming faults. */
enum {
  FFS_OPEN,   /* open(2) of an existing file, without O_CREAT */
  FFS_CREATE, /* open(2) with O_CREAT */
  FFS_READ,   /* pread */
  FFS_WRITE,  /* pwritev_all */
  FFS_SYNC,   /* fdatasync */
  FFS_SYNC_DIR,
  FFS_TRUNCATE,
  FFS_RENAME,
  FFS_UNLINK,
  FFS_NKINDS
};
#define FFS_ANY (-1) /* any mutating kind: create .. unlink, not open/read */
#define FFS_STICKY_ALL 2 /* see ffs_fail */

static inline const char *ffs_kind_name(int kind) {
  static const char *const names[FFS_NKINDS] = {
      "open",     "create",   "read",   "write", "sync",
      "sync_dir", "truncate", "rename", "unlink"};
  return kind >= 0 && kind < FFS_NKINDS ? names[kind] : "any";
}

static inline int ffs_is_mutation(int kind) {
  return kind != FFS_OPEN && kind != FFS_READ;
}

/* ---- the state --------------------------------------------------------------
 */

typedef struct ffs_inode {
  unsigned char *durable; /* content as of the last fdatasync */
  size_t dlen;
  int fd;     /* an open descriptor of it, or -1 */
  char *path; /* the name it has now, or NULL */
} ffs_inode;

typedef struct ffs_name {
  char *path;
  int cur;     /* inode the name points to now, or -1 */
  int durable; /* inode the name points to durably, or -1 */
} ffs_name;

#define FFS_MAX_FD 4096

static struct {
  long count[FFS_NKINDS]; /* calls since ffs_reset_counts */
  long mutations;

  /* the armed fault */
  int f_kind; /* FFS_* or FFS_ANY; f_armed says whether one is armed */
  int f_armed, f_fired, f_sticky, f_short, f_errno;
  long f_at;      /* fire at this call (a count of f_kind, or of mutations) */
  size_t f_keep;  /* bytes a short write keeps */
  int fired_kind; /* the kind of the call that failed first */

  /* power cuts */
  char *dir; /* tracked directory, or NULL */
  int real_sync;
  ffs_inode *inodes;
  int ninodes;
  ffs_name *names;
  int nnames;
  int fd_inode[FFS_MAX_FD]; /* fd -> inode + 1 (0: untracked) */
  long cut_at;              /* cut at this mutation count (0: not armed) */
  uint64_t cut_seed;
  int cut_torn;
  int cut_fired;
  /* the image computed at the cut: per name, content or absent */
  unsigned char **img;
  size_t *img_len;
  int *img_exists;
} ffs_st;

/* ---- small helpers ----------------------------------------------------------
 */

static inline uint64_t ffs_rand(uint64_t *s) { /* splitmix64 */
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static inline char *ffs_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p == NULL)
    abort();
  memcpy(p, s, n);
  return p;
}

/* Read a whole open file.  Any failure aborts: it is the test's bug. */
static inline unsigned char *ffs_slurp_fd(int fd, size_t *len) {
  uint64_t size = 0;
  unsigned char *buf;
  if (cdb_os_posix.file_size(fd, &size) < 0)
    abort();
  buf = malloc((size_t)size + 1);
  if (buf == NULL ||
      cdb_os_posix.pread(fd, buf, (size_t)size, 0) != (ssize_t)size)
    abort();
  *len = (size_t)size;
  return buf;
}

/* Read a whole file by path; a missing file reads as NULL, *len 0. */
static inline unsigned char *ffs_slurp_path(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  unsigned char *buf;
  *len = 0;
  if (fd < 0)
    return NULL;
  buf = ffs_slurp_fd(fd, len);
  close(fd);
  return buf;
}

/* Is path directly inside the tracked directory? */
static inline int ffs_tracked(const char *path) {
  size_t n;
  if (ffs_st.dir == NULL)
    return 0;
  n = strlen(ffs_st.dir);
  return strncmp(path, ffs_st.dir, n) == 0 && path[n] == '/' &&
         strchr(path + n + 1, '/') == NULL;
}

static inline int ffs_find_name(const char *path) {
  int i;
  for (i = 0; i < ffs_st.nnames; i++)
    if (strcmp(ffs_st.names[i].path, path) == 0)
      return i;
  return -1;
}

static inline int ffs_new_inode(const unsigned char *durable, size_t dlen,
                                const char *path) {
  ffs_inode *ino;
  ffs_st.inodes =
      realloc(ffs_st.inodes, (size_t)(ffs_st.ninodes + 1) * sizeof *ino);
  if (ffs_st.inodes == NULL)
    abort();
  ino = &ffs_st.inodes[ffs_st.ninodes];
  ino->durable = malloc(dlen + 1);
  if (ino->durable == NULL)
    abort();
  if (dlen)
    memcpy(ino->durable, durable, dlen);
  ino->dlen = dlen;
  ino->fd = -1;
  ino->path = path ? ffs_strdup(path) : NULL;
  return ffs_st.ninodes++;
}

static inline int ffs_add_name(const char *path, int cur, int durable) {
  ffs_name *nm;
  ffs_st.names =
      realloc(ffs_st.names, (size_t)(ffs_st.nnames + 1) * sizeof *nm);
  if (ffs_st.names == NULL)
    abort();
  nm = &ffs_st.names[ffs_st.nnames];
  nm->path = ffs_strdup(path);
  nm->cur = cur;
  nm->durable = durable;
  return ffs_st.nnames++;
}

/* A file that exists now but was never seen: durable as it is. */
static inline int ffs_adopt(const char *path) {
  size_t len;
  unsigned char *data = ffs_slurp_path(path, &len);
  int ino = ffs_new_inode(data, len, path);
  free(data);
  return ffs_add_name(path, ino, ino);
}

static inline void ffs_set_inode_path(int ino, const char *path) {
  free(ffs_st.inodes[ino].path);
  ffs_st.inodes[ino].path = path ? ffs_strdup(path) : NULL;
}

/* ---- the fault decision -----------------------------------------------------
 */

static inline void ffs_cut_now(void);

/* Count a call of `kind`; return the errno it must fail with, or 0.
 * *short_write is set when a write must keep a prefix first. */
static inline int ffs_enter(int kind, int *short_write) {
  int hit = 0;
  long n;
  if (short_write)
    *short_write = 0;
  ffs_st.count[kind]++;
  if (ffs_is_mutation(kind))
    ffs_st.mutations++;
  if (ffs_st.cut_fired)
    return ffs_is_mutation(kind) ? EIO : 0;
  if (ffs_st.cut_at > 0 && ffs_is_mutation(kind) &&
      ffs_st.mutations >= ffs_st.cut_at) {
    /* The power goes at this call.  A write still reaches the page cache
     * (its bytes may survive as a torn tail); nothing else happens. */
    if (kind == FFS_WRITE && short_write) {
      *short_write = 2; /* write it all, then cut, then fail */
      return EIO;
    }
    ffs_cut_now();
    return EIO;
  }
  if (!ffs_st.f_armed)
    return 0;
  if (ffs_st.f_fired && ffs_st.f_sticky == FFS_STICKY_ALL &&
      ffs_is_mutation(kind))
    return ffs_st.f_errno; /* the whole disk is dead */
  if (ffs_st.f_kind == FFS_ANY ? !ffs_is_mutation(kind) : ffs_st.f_kind != kind)
    return 0;
  n = ffs_st.f_kind == FFS_ANY ? ffs_st.mutations : ffs_st.count[kind];
  if (ffs_st.f_fired && ffs_st.f_sticky)
    hit = 1;
  else if (!ffs_st.f_fired && n == ffs_st.f_at)
    hit = 1;
  if (!hit)
    return 0;
  if (!ffs_st.f_fired)
    ffs_st.fired_kind = kind;
  ffs_st.f_fired = 1;
  if (short_write && ffs_st.f_short && kind == FFS_WRITE)
    *short_write = 1;
  return ffs_st.f_errno;
}

/* ---- the table --------------------------------------------------------------
 */

static inline int ffs_open(const char *path, int flags, int mode) {
  int creating = (flags & O_CREAT) != 0;
  int existed = access(path, F_OK) == 0;
  int err = ffs_enter(creating ? FFS_CREATE : FFS_OPEN, NULL);
  int fd, nm;
  if (err) {
    errno = err;
    return -1;
  }
  fd = cdb_os_posix.open(path, flags, mode);
  if (fd < 0 || fd >= FFS_MAX_FD)
    return fd;
  ffs_st.fd_inode[fd] = 0;
  if (!ffs_tracked(path))
    return fd;
  nm = ffs_find_name(path);
  if (!existed) {
    int ino = ffs_new_inode(NULL, 0, path);
    if (nm < 0)
      nm = ffs_add_name(path, ino, -1);
    else
      ffs_st.names[nm].cur = ino;
  } else if (nm < 0 || ffs_st.names[nm].cur < 0) {
    if (nm < 0) {
      nm = ffs_adopt(path);
    } else { /* created behind our back: take it as it is */
      size_t len;
      unsigned char *data = ffs_slurp_fd(fd, &len);
      ffs_st.names[nm].cur = ffs_new_inode(data, len, path);
      free(data);
    }
  }
  ffs_st.fd_inode[fd] = ffs_st.names[nm].cur + 1;
  ffs_st.inodes[ffs_st.names[nm].cur].fd = fd;
  return fd;
}

static inline int ffs_close(int fd) {
  if (fd >= 0 && fd < FFS_MAX_FD && ffs_st.fd_inode[fd]) {
    ffs_inode *ino = &ffs_st.inodes[ffs_st.fd_inode[fd] - 1];
    if (ino->fd == fd)
      ino->fd = -1;
    ffs_st.fd_inode[fd] = 0;
  }
  return cdb_os_posix.close(fd);
}

static inline ssize_t ffs_pread(int fd, void *buf, size_t n, uint64_t off) {
  int err = ffs_enter(FFS_READ, NULL);
  if (err) {
    errno = err;
    return -1;
  }
  return cdb_os_posix.pread(fd, buf, n, off);
}

static inline int ffs_pwritev_all(int fd, const struct iovec *iov, int iovcnt,
                                  uint64_t off) {
  int short_write;
  int err = ffs_enter(FFS_WRITE, &short_write);
  if (err && short_write) {
    size_t total = 0, keep, done = 0;
    int i;
    for (i = 0; i < iovcnt; i++)
      total += iov[i].iov_len;
    keep = short_write == 2 ? total : ffs_st.f_keep;
    if (keep >= total && short_write != 2)
      keep = total ? total - 1 : 0;
    for (i = 0; i < iovcnt && done < keep; i++) {
      struct iovec part = iov[i];
      if (part.iov_len > keep - done)
        part.iov_len = keep - done;
      if (cdb_os_posix.pwritev_all(fd, &part, 1, off + done) < 0)
        return -1;
      done += part.iov_len;
    }
    if (short_write == 2)
      ffs_cut_now();
  }
  if (err) {
    errno = err;
    return -1;
  }
  return cdb_os_posix.pwritev_all(fd, iov, iovcnt, off);
}

static inline int ffs_fdatasync(int fd) {
  int err = ffs_enter(FFS_SYNC, NULL);
  if (err) {
    errno = err;
    return -1;
  }
  if (ffs_st.real_sync && cdb_os_posix.fdatasync(fd) < 0)
    return -1;
  if (fd >= 0 && fd < FFS_MAX_FD && ffs_st.fd_inode[fd]) {
    ffs_inode *ino = &ffs_st.inodes[ffs_st.fd_inode[fd] - 1];
    free(ino->durable);
    ino->durable = ffs_slurp_fd(fd, &ino->dlen);
  }
  return 0;
}

static inline int ffs_sync_dir(const char *path) {
  int err = ffs_enter(FFS_SYNC_DIR, NULL);
  int i;
  if (err) {
    errno = err;
    return -1;
  }
  if (ffs_st.real_sync && cdb_os_posix.sync_dir(path) < 0)
    return -1;
  if (ffs_st.dir != NULL && strcmp(path, ffs_st.dir) == 0)
    for (i = 0; i < ffs_st.nnames; i++)
      ffs_st.names[i].durable = ffs_st.names[i].cur;
  return 0;
}

static inline int ffs_ftruncate(int fd, uint64_t size) {
  int err = ffs_enter(FFS_TRUNCATE, NULL);
  if (err) {
    errno = err;
    return -1;
  }
  return cdb_os_posix.ftruncate(fd, size);
}

static inline int ffs_file_size(int fd, uint64_t *size) {
  return cdb_os_posix.file_size(fd, size);
}

static inline int ffs_rename(const char *from, const char *to) {
  int err = ffs_enter(FFS_RENAME, NULL);
  int a, b;
  if (err) {
    errno = err;
    return -1;
  }
  if (ffs_tracked(from) && ffs_find_name(from) < 0 && access(from, F_OK) == 0)
    ffs_adopt(from);
  if (ffs_tracked(to) && ffs_find_name(to) < 0 && access(to, F_OK) == 0)
    ffs_adopt(to);
  if (cdb_os_posix.rename(from, to) < 0)
    return -1;
  a = ffs_tracked(from) ? ffs_find_name(from) : -1;
  b = ffs_tracked(to) ? ffs_find_name(to) : -1;
  if (b < 0 && ffs_tracked(to))
    b = ffs_add_name(to, -1, -1);
  if (a >= 0 && b >= 0) {
    ffs_st.names[b].cur = ffs_st.names[a].cur;
    ffs_st.names[a].cur = -1;
    if (ffs_st.names[b].cur >= 0)
      ffs_set_inode_path(ffs_st.names[b].cur, to);
  } else if (b >= 0) { /* moved in from outside: take it as it is */
    size_t len;
    unsigned char *data = ffs_slurp_path(to, &len);
    ffs_st.names[b].cur = ffs_new_inode(data, len, to);
    free(data);
  } else if (a >= 0) {
    ffs_st.names[a].cur = -1;
  }
  return 0;
}

static inline int ffs_unlink(const char *path) {
  int err = ffs_enter(FFS_UNLINK, NULL);
  int nm;
  if (err) {
    errno = err;
    return -1;
  }
  if (ffs_tracked(path) && ffs_find_name(path) < 0 && access(path, F_OK) == 0)
    ffs_adopt(path);
  if (cdb_os_posix.unlink(path) < 0)
    return -1;
  nm = ffs_tracked(path) ? ffs_find_name(path) : -1;
  if (nm >= 0) {
    if (ffs_st.names[nm].cur >= 0)
      ffs_set_inode_path(ffs_st.names[nm].cur, NULL);
    ffs_st.names[nm].cur = -1;
  }
  return 0;
}

static inline int ffs_mkdir(const char *path, int mode) {
  return cdb_os_posix.mkdir(path, mode);
}

static inline int ffs_is_dir(const char *path) {
  return cdb_os_posix.is_dir(path);
}

static inline int ffs_lock(int fd) { return cdb_os_posix.lock(fd); }

static inline int ffs_list_dir(const char *path, cdb_dir_entry_fn fn,
                               void *ctx) {
  return cdb_os_posix.list_dir(path, fn, ctx);
}

/* Links (backups) pass through: the power-cut model does not follow them.
 * Mappings are refused, so that every read goes through ffs_pread and a
 * power cut that rewrites a file can never fault a mapped page. */
static inline int ffs_link(const char *from, const char *to) {
  return cdb_os_posix.link(from, to);
}

static inline const void *ffs_map(int fd, uint64_t len) {
  (void)fd;
  (void)len;
  return NULL;
}

static inline void ffs_unmap(const void *addr, uint64_t len) {
  (void)addr;
  (void)len;
}

static const cdb_os_table ffs_table = {
    ffs_open,     ffs_close,     ffs_pread,     ffs_pwritev_all, ffs_fdatasync,
    ffs_sync_dir, ffs_ftruncate, ffs_file_size, ffs_rename,      ffs_unlink,
    ffs_mkdir,    ffs_is_dir,    ffs_lock,      ffs_list_dir,    ffs_link,
    ffs_map,      ffs_unmap,
};

/* ---- the power cut ----------------------------------------------------------
 */

static inline void ffs_free_image(void) {
  int i;
  if (ffs_st.img != NULL)
    for (i = 0; i < ffs_st.nnames; i++)
      free(ffs_st.img[i]);
  free(ffs_st.img);
  free(ffs_st.img_len);
  free(ffs_st.img_exists);
  ffs_st.img = NULL;
  ffs_st.img_len = NULL;
  ffs_st.img_exists = NULL;
}

/* Compute what the disk holds after a cut at this instant. */
static inline void ffs_cut_now(void) {
  uint64_t rng = ffs_st.cut_seed;
  int i;
  ffs_st.cut_fired = 1;
  ffs_free_image();
  ffs_st.img = calloc((size_t)ffs_st.nnames + 1, sizeof *ffs_st.img);
  ffs_st.img_len = calloc((size_t)ffs_st.nnames + 1, sizeof *ffs_st.img_len);
  ffs_st.img_exists =
      calloc((size_t)ffs_st.nnames + 1, sizeof *ffs_st.img_exists);
  if (!ffs_st.img || !ffs_st.img_len || !ffs_st.img_exists)
    abort();
  for (i = 0; i < ffs_st.nnames; i++) {
    int d = ffs_st.names[i].durable;
    ffs_inode *ino;
    unsigned char *now = NULL, *out;
    size_t nlen = 0, keep = 0, extra;
    uint64_t r;
    if (d < 0)
      continue; /* the entry never became durable: the file is gone */
    ino = &ffs_st.inodes[d];
    if (ino->fd >= 0)
      now = ffs_slurp_fd(ino->fd, &nlen);
    else if (ino->path != NULL)
      now = ffs_slurp_path(ino->path, &nlen);
    extra = nlen > ino->dlen && memcmp(now, ino->durable, ino->dlen) == 0
                ? nlen - ino->dlen
                : 0;
    r = ffs_rand(&rng);
    if (ffs_st.cut_torn && extra > 0 && r % 5 != 0)
      keep = (size_t)(ffs_rand(&rng) % (extra + 1));
    out = malloc(ino->dlen + keep + 1);
    if (out == NULL)
      abort();
    memcpy(out, ino->durable, ino->dlen);
    if (keep > 0) {
      if (r % 5 == 1) /* a tail of zeros, not of the bytes written */
        memset(out + ino->dlen, 0, keep);
      else
        memcpy(out + ino->dlen, now + ino->dlen, keep);
    }
    free(now);
    ffs_st.img[i] = out;
    ffs_st.img_len[i] = ino->dlen + keep;
    ffs_st.img_exists[i] = 1;
  }
}

/* Write the image of the last cut to disk.  Call after closing every handle
 * of the directory: their descriptors would see the old files. */
static inline void ffs_apply_cut(void) {
  int i;
  if (!ffs_st.cut_fired || ffs_st.img == NULL)
    abort();
  for (i = 0; i < ffs_st.nnames; i++) {
    unlink(ffs_st.names[i].path);
    if (ffs_st.img_exists[i]) {
      int fd = open(ffs_st.names[i].path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      struct iovec iov;
      if (fd < 0)
        abort();
      iov.iov_base = ffs_st.img[i];
      iov.iov_len = ffs_st.img_len[i];
      if (ffs_st.img_len[i] > 0 && cdb_os_posix.pwritev_all(fd, &iov, 1, 0) < 0)
        abort();
      close(fd);
    }
  }
  ffs_free_image();
}

/* ---- the test's interface ---------------------------------------------------
 */

/* Forget what is tracked (the files stay as they are). */
static inline void ffs_untrack(void) {
  int i;
  ffs_free_image();
  for (i = 0; i < ffs_st.ninodes; i++) {
    free(ffs_st.inodes[i].durable);
    free(ffs_st.inodes[i].path);
  }
  for (i = 0; i < ffs_st.nnames; i++)
    free(ffs_st.names[i].path);
  free(ffs_st.inodes);
  free(ffs_st.names);
  free(ffs_st.dir);
  ffs_st.inodes = NULL;
  ffs_st.names = NULL;
  ffs_st.dir = NULL;
  ffs_st.ninodes = ffs_st.nnames = 0;
  memset(ffs_st.fd_inode, 0, sizeof ffs_st.fd_inode);
  ffs_st.cut_at = 0;
  ffs_st.cut_fired = 0;
}

static inline void ffs_reset_counts(void) {
  memset(ffs_st.count, 0, sizeof ffs_st.count);
  ffs_st.mutations = 0;
}

static inline void ffs_disarm(void) {
  ffs_st.f_armed = ffs_st.f_fired = ffs_st.f_sticky = ffs_st.f_short = 0;
  ffs_st.fired_kind = -1;
}

/* Install the table with nothing armed and nothing tracked. */
static inline void ffs_install(void) {
  ffs_untrack();
  ffs_disarm();
  ffs_reset_counts();
  ffs_st.real_sync = 0;
  cdb_os_set(&ffs_table);
}

/* Back to plain POSIX; forget everything. */
static inline void ffs_uninstall(void) {
  ffs_untrack();
  ffs_disarm();
  cdb_os_set(NULL);
}

/* Calls of `kind` (FFS_ANY: mutating calls) since the last reset. */
static inline long ffs_count(int kind) {
  return kind == FFS_ANY ? ffs_st.mutations : ffs_st.count[kind];
}

/* Fail the nth call of `kind` (FFS_ANY: of any mutating kind) from now on,
 * 1-based, with errno `err`; sticky 1: and every later one of that kind;
 * FFS_STICKY_ALL: and every later mutating call of any kind. */
static inline void ffs_fail(int kind, long nth, int err, int sticky) {
  ffs_disarm();
  ffs_st.f_kind = kind;
  ffs_st.f_at = ffs_count(kind) + nth;
  ffs_st.f_errno = err;
  ffs_st.f_sticky = sticky;
  ffs_st.f_armed = 1;
}

/* As ffs_fail, and if the failing call is a write, it first writes its first
 * `keep` bytes (at most all but one). */
static inline void ffs_fail_short(int kind, long nth, int err, int sticky,
                                  size_t keep) {
  ffs_fail(kind, nth, err, sticky);
  ffs_st.f_short = 1;
  ffs_st.f_keep = keep;
}

/* Whether the armed fault fired, and the kind of call it hit first. */
static inline int ffs_fired(void) { return ffs_st.f_fired; }
static inline int ffs_fired_kind(void) { return ffs_st.fired_kind; }

/* Track the files of directory `dir` for power cuts: what is there now is
 * taken as durable. */
static inline void ffs_track(const char *dir) {
  DIR *d;
  struct dirent *de;
  char path[4096];
  ffs_untrack();
  ffs_st.dir = ffs_strdup(dir);
  d = opendir(dir);
  if (d == NULL)
    abort();
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    ffs_adopt(path);
  }
  closedir(d);
}

/* Also do the real fdatasync/fsync (off by default). */
static inline void ffs_real_sync(int on) { ffs_st.real_sync = on; }

/* Cut the power at the nth mutating call from now on (1-based).  torn: keep
 * random prefixes of unsynced appends; seed: for those choices. */
static inline void ffs_cut_at(long nth, uint64_t seed, int torn) {
  ffs_st.cut_at = ffs_st.mutations + nth;
  ffs_st.cut_seed = seed;
  ffs_st.cut_torn = torn;
}

/* Cut the power now. */
static inline void ffs_power_cut(uint64_t seed, int torn) {
  ffs_st.cut_seed = seed;
  ffs_st.cut_torn = torn;
  ffs_cut_now();
}

static inline int ffs_cut_fired(void) { return ffs_st.cut_fired; }

#endif /* CASKDB_FAULTFS_H */

/*
 * db.c -- the public API: a handle's life, and put / get / delete.
 *
 * The write path, for one record:
 *   1. encode the header (CRC over header, key and value) into db->hdrbuf;
 *   2. if the record would take the active file past max_file_size, start a
 *      new active file first;
 *   3. write header, key and value with one pwritev at the end of the
 *      active file (no user-space buffer ever holds an acknowledged write);
 *   4. fdatasync, as the sync mode says;
 *   5. only then point the keydir at the new record.
 * If step 3 or 4 fails the file is cut back to its previous end, so the
 * file never holds a hole or half a record that later appends would bury.
 * If even that fails the handle is marked failed and refuses writes.
 */
#include "db.h"

#include "crc32c.h"
#include "datafile.h"
#include "hint.h"
#include "key.h"
#include "lock.h"
#include "shared.h"
#include "syncer.h"
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- versions, codes and messages ------------------------------------------
 */

const char *caskdb_version(void) { return CASKDB_VERSION_STRING; }

typedef struct code_info {
  int code;
  const char *name;
  const char *text;
} code_info;

static const code_info codes[] = {
    {CASKDB_OK, "ok", "success"},
    {CASKDB_DONE, "done", "no more keys"},
    {CASKDB_ENOTFOUND, "notfound", "key not found"},
    {CASKDB_EINVAL, "invalid", "invalid argument"},
    {CASKDB_ETOOLARGE, "toolarge", "key or value too large"},
    {CASKDB_EIO, "io", "input/output error"},
    {CASKDB_ENOSPC, "nospace", "no space left on device"},
    {CASKDB_ECORRUPT, "corrupt", "database file is corrupt"},
    {CASKDB_ELOCKED, "locked", "database is locked by another writer"},
    {CASKDB_EREADONLY, "readonly", "database is open read-only"},
    {CASKDB_ENOMEM, "nomem", "out of memory"},
    {CASKDB_EPERM, "permission", "permission denied"},
    {CASKDB_EVERSION, "version", "unknown file format version"},
    {CASKDB_ENOENT, "noent", "database directory does not exist"},
    {CASKDB_EFAILED, "failed", "an earlier write failed; reopen the database"},
    {CASKDB_ENOTLIST, "notlist", "the value is not a list"},
};

static const code_info *find_code(int code) {
  size_t i;
  for (i = 0; i < sizeof codes / sizeof codes[0]; i++)
    if (codes[i].code == code)
      return &codes[i];
  return NULL;
}

const char *caskdb_strerror(int code) {
  const code_info *c = find_code(code);
  return c ? c->text : "unknown error code";
}

const char *caskdb_code_name(int code) {
  const code_info *c = find_code(code);
  return c ? c->name : "unknown";
}

int cdb_code_from_errno(int err) {
  switch (err) {
  case ENOSPC:
  case EDQUOT:
  case EFBIG:
    return CASKDB_ENOSPC;
  case EACCES:
  case EPERM:
  case EROFS:
    return CASKDB_EPERM;
  case ENOMEM:
    return CASKDB_ENOMEM;
  case ENOENT:
    return CASKDB_ENOENT;
  default:
    return CASKDB_EIO;
  }
}

int cdb_fail(caskdb *db, int code, int sys, const char *fmt, ...) {
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(db->errmsg, sizeof db->errmsg, fmt, ap);
  va_end(ap);
  if (sys != 0 && n >= 0 && (size_t)n < sizeof db->errmsg)
    snprintf(db->errmsg + n, sizeof db->errmsg - (size_t)n, ": %s",
             strerror(sys));
  db->syserr = sys;
  return code;
}

const char *caskdb_errmsg(const caskdb *db) { return db ? db->errmsg : ""; }

int caskdb_syserr(const caskdb *db) { return db ? db->syserr : 0; }

static void clear_error(caskdb *db) {
  db->errmsg[0] = '\0';
  db->syserr = 0;
}

/* ---- clocks
 * ------------------------------------------------------------------ */

static uint64_t system_clock_ms(void *ctx) {
  struct timespec ts;
  (void)ctx;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t cdb_now_ms(const caskdb *db) {
  return db->opts.clock(db->opts.clock_ctx);
}

int cdb_expired(const caskdb *db, uint64_t expiry) {
  return expiry != 0 && expiry <= cdb_now_ms(db);
}

/* ---- options
 * ----------------------------------------------------------------- */

void caskdb_options_init(caskdb_options *opts) {
  memset(opts, 0, sizeof *opts);
  opts->create = 1;
  opts->sync = CASKDB_SYNC_NONE;
  opts->sync_interval_ms = 1000;
  opts->max_file_size = 64u * 1024 * 1024;
  opts->merge_trigger_dead_ratio = 0.6;
  opts->merge_trigger_dead_bytes = 512u * 1024 * 1024;
  opts->auto_merge_step_bytes = 1024u * 1024;
  opts->use_mmap = 1;
  opts->cache_size = 0;
  opts->cache_policy = CASKDB_CACHE_SIEVE;
}

static int options_valid(const caskdb_options *o) {
  if (o->sync != CASKDB_SYNC_NONE && o->sync != CASKDB_SYNC_ALWAYS &&
      o->sync != CASKDB_SYNC_INTERVAL)
    return 0;
  if (o->sync == CASKDB_SYNC_INTERVAL && o->sync_interval_ms == 0)
    return 0;
  if (o->cache_policy != CASKDB_CACHE_LRU &&
      o->cache_policy != CASKDB_CACHE_SIEVE)
    return 0;
  if (o->shared && o->readonly)
    return 0;
  if (!(o->merge_trigger_dead_ratio >= 0.0 &&
        o->merge_trigger_dead_ratio <= 1.0))
    return 0;
  return o->max_file_size >= CASKDB_MIN_FILE_SIZE &&
         o->max_file_size <= CASKDB_MAX_FILE_SIZE;
}

/* ---- files
 * ------------------------------------------------------------------- */

char *cdb_path_join(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  char *p = malloc(a + b + 2);
  if (p == NULL)
    return NULL;
  memcpy(p, dir, a);
  p[a] = '/';
  memcpy(p + a + 1, name, b + 1);
  return p;
}

void cdb_file_map(const caskdb *db, cdb_file *f, uint64_t len) {
  cdb_file_unmap(f);
  if (!db->opts.use_mmap)
    return;
  f->map = cdb_os->map(f->fd, len);
  f->map_len = f->map ? len : 0;
}

void cdb_file_unmap(cdb_file *f) {
  if (f->map)
    cdb_os->unmap(f->map, f->map_len);
  f->map = NULL;
  f->map_len = 0;
}

int cdb_add_slot(caskdb *db, cdb_file *f) {
  uint32_t slot;
  for (slot = 0; slot < db->nslots; slot++)
    if (db->slots[slot] == NULL)
      break;
  if (slot == db->nslots) {
    uint32_t n = db->nslots ? db->nslots * 2 : 8;
    cdb_file **slots = realloc(db->slots, n * sizeof *slots);
    if (slots == NULL)
      return -1;
    memset(slots + db->nslots, 0, (n - db->nslots) * sizeof *slots);
    db->slots = slots;
    db->nslots = n;
  }
  db->slots[slot] = f;
  f->serial = ++db->last_serial;
  return (int)slot;
}

int cdb_add_file(caskdb *db, cdb_file *f) {
  uint32_t *order = realloc(db->order, (db->nfiles + 1) * sizeof *order);
  int slot;
  if (order == NULL)
    return -1;
  db->order = order;
  slot = cdb_add_slot(db, f);
  if (slot < 0)
    return -1;
  db->order[db->nfiles++] = (uint32_t)slot;
  db->active = f;
  return slot;
}

int cdb_create_active(caskdb *db, uint32_t id) {
  char name[CDB_FILE_NAME_MAX];
  unsigned char hdr[CDB_FILE_HEADER_SIZE];
  struct iovec iov;
  cdb_file_header h;
  cdb_file *f;
  char *path;
  int fd;

  if (id == 0)
    return cdb_fail(db, CASKDB_EIO, 0,
                    "data file ids are exhausted in %s; merge into a new "
                    "database",
                    db->path);
  cdb_file_name(name, id, 0, CDB_DATA_SUFFIX);
  path = cdb_path_join(db->path, name);
  f = calloc(1, sizeof *f);
  if (path == NULL || f == NULL) {
    free(path);
    free(f);
    return cdb_fail(db, CASKDB_ENOMEM, 0, "out of memory");
  }
  /* In shared mode a file of that id can only be the left-over of a writer
   * killed before it published the file (docs/MULTIPROCESS.md): reuse it. */
  fd = cdb_os->open(path, O_RDWR | O_CREAT | (db->sh ? O_TRUNC : O_EXCL), 0644);
  h.version = CDB_FORMAT_VERSION;
  h.kind = CDB_FILE_DATA;
  h.file_id = id;
  h.part = 0;
  cdb_file_header_encode(hdr, &h);
  iov.iov_base = hdr;
  iov.iov_len = sizeof hdr;
  if (fd < 0 || cdb_os->pwritev_all(fd, &iov, 1, 0) < 0) {
    int err = errno;
    if (fd >= 0) {
      cdb_os->close(fd);
      /* A file left behind would become the newest at the next open while
       * writes went on in an older one: stop writing if it stays. */
      if (cdb_os->unlink(path) < 0)
        db->failed = 1;
    }
    free(f);
    free(path);
    return cdb_fail(db, cdb_code_from_errno(err), err,
                    "cannot create data file %s", name);
  }
  free(path);
  f->id = id;
  f->fd = fd;
  f->size = CDB_FILE_HEADER_SIZE;
  if (cdb_add_file(db, f) < 0) {
    cdb_os->close(fd);
    free(f);
    return cdb_fail(db, CASKDB_ENOMEM, 0, "out of memory");
  }
  db->need_dir_sync = 1;
  db->dirty = 1;
  /* Room to grow: reads of records written later need no new mapping. */
  cdb_file_map(db, f, db->opts.max_file_size);
  return CASKDB_OK;
}

/* ---- open and close ---------------------------------------------------------
 */

static void free_handle(caskdb *db) {
  uint32_t i;
  /* In a forked child the thread does not exist: leave it alone. */
  if (db->syncer && db->fork_gen == cdb_fork_generation())
    cdb_syncer_stop(db->syncer);
  cdb_iter_detach_all(db);
  cdb_merge_discard(db);
  for (i = 0; i < db->nslots; i++) {
    if (db->slots[i]) {
      cdb_file_unmap(db->slots[i]);
      cdb_os->close(db->slots[i]->fd);
      free(db->slots[i]);
    }
  }
  /* In a forked child the lock descriptor was closed at the fork. */
  if (db->lock_fd >= 0 && db->fork_gen == cdb_fork_generation())
    cdb_lock_release(db->lock_fd);
  cdb_shared_close(db);
  cdb_kd_free(db->kd);
  cdb_cache_free(db->cache);
  free(db->slots);
  free(db->order);
  free(db->keybuf);
  free(db->hdrbuf);
  free(db->rbuf);
  free(db->popbuf);
  free(db->path);
  free(db);
}

/* Make sure the directory exists (creating it if allowed). */
static int open_directory(caskdb *db) {
  int is = cdb_os->is_dir(db->path);
  if (is < 0)
    return cdb_fail(db, cdb_code_from_errno(errno), errno, "cannot use %s",
                    db->path);
  if (is == 1)
    return CASKDB_OK;
  if (!db->opts.create || db->opts.readonly)
    return cdb_fail(db, CASKDB_ENOENT, 0, "database %s does not exist",
                    db->path);
  if (cdb_os->mkdir(db->path, 0755) < 0)
    return cdb_fail(db, cdb_code_from_errno(errno), errno,
                    "cannot create directory %s", db->path);
  return CASKDB_OK;
}

static int take_lock(caskdb *db) {
  int err;
  db->lock_fd = cdb_lock_take(db->path);
  if (db->lock_fd >= 0)
    return CASKDB_OK;
  err = errno;
  if (err == EWOULDBLOCK || err == EAGAIN)
    return cdb_fail(db, CASKDB_ELOCKED, 0,
                    "database %s is locked by another writer", db->path);
  return cdb_fail(db, cdb_code_from_errno(err), err, "cannot lock %s",
                  db->path);
}

static caskdb *new_handle(const char *path, const caskdb_options *opts) {
  caskdb *db = calloc(1, sizeof *db);
  if (db == NULL)
    return NULL;
  db->lock_fd = -1;
  db->opts = *opts;
  if (db->opts.clock == NULL)
    db->opts.clock = system_clock_ms;
  db->path = malloc(strlen(path) + 1);
  db->kd = cdb_kd_new();
  db->keybuf = malloc(CDB_CANON_MAX);
  db->hdrbuf = malloc(CDB_REC_HEADER_SIZE);
  if (opts->cache_size > 0)
    db->cache = cdb_cache_new(opts->cache_size, opts->cache_policy);
  if (!db->path || !db->kd || !db->keybuf || !db->hdrbuf ||
      (opts->cache_size > 0 && db->cache == NULL)) {
    free_handle(db);
    return NULL;
  }
  strcpy(db->path, path);
  db->fork_gen = cdb_fork_generation();
  db->last_sync_ms = monotonic_ms();
  return db;
}

static void copy_message(char *errbuf, size_t errbuf_size, const char *msg) {
  if (errbuf && errbuf_size > 0)
    snprintf(errbuf, errbuf_size, "%s", msg);
}

int caskdb_open(const char *path, const caskdb_options *opts, caskdb **dbp,
                char *errbuf, size_t errbuf_size) {
  caskdb_options defaults;
  caskdb *db;
  int rc;
  if (dbp)
    *dbp = NULL;
  copy_message(errbuf, errbuf_size, "");
  if (opts == NULL) {
    caskdb_options_init(&defaults);
    opts = &defaults;
  }
  if (path == NULL || path[0] == '\0' || dbp == NULL || !options_valid(opts)) {
    copy_message(errbuf, errbuf_size, "invalid argument to caskdb_open");
    return CASKDB_EINVAL;
  }
  db = new_handle(path, opts);
  if (db == NULL) {
    copy_message(errbuf, errbuf_size, "out of memory");
    return CASKDB_ENOMEM;
  }
  rc = open_directory(db);
  if (rc == CASKDB_OK && db->opts.shared) {
    rc = cdb_shared_open(db); /* locks, load and sync, as shared.c says */
  } else {
    if (rc == CASKDB_OK && !db->opts.readonly)
      rc = take_lock(db);
    if (rc == CASKDB_OK)
      rc = cdb_load(db);
    if (rc == CASKDB_OK && !db->opts.readonly)
      rc = caskdb_sync(db); /* make a newly created file durable */
  }
  if (rc == CASKDB_OK && !db->opts.readonly &&
      db->opts.sync == CASKDB_SYNC_INTERVAL) {
    db->syncer = cdb_syncer_start(db->opts.sync_interval_ms);
    if (db->syncer == NULL)
      rc = cdb_fail(db, CASKDB_ENOMEM, 0, "cannot start the sync thread");
  }
  if (rc != CASKDB_OK) {
    copy_message(errbuf, errbuf_size, db->errmsg);
    free_handle(db);
    return rc;
  }
  clear_error(db);
  *dbp = db;
  return CASKDB_OK;
}

int caskdb_close(caskdb *db) {
  int rc = CASKDB_OK;
  if (db == NULL)
    return CASKDB_OK;
  if (!db->opts.readonly && !db->failed &&
      db->fork_gen == cdb_fork_generation())
    rc = caskdb_sync(db);
  free_handle(db);
  return rc == CASKDB_OK ? CASKDB_OK : CASKDB_EIO;
}

/* ---- durability ---------------------------------------------------------- */

int caskdb_sync(caskdb *db) {
  if (db == NULL)
    return CASKDB_EINVAL;
  clear_error(db);
  if (db->opts.readonly || db->active == NULL)
    return CASKDB_OK;
  if (db->failed)
    return cdb_fail(db, CASKDB_EFAILED, 0, "an earlier write failed");
  if (db->dirty && cdb_os->fdatasync(db->active->fd) < 0) {
    /* After a failed fsync the kernel may have dropped the dirty pages:
     * nothing written since the last good sync can be trusted to be on
     * disk, so the handle stops taking writes. */
    db->failed = 1;
    return cdb_fail(db, CASKDB_EIO, errno, "fdatasync failed on %s", db->path);
  }
  if (db->need_dir_sync && cdb_os->sync_dir(db->path) < 0) {
    db->failed = 1;
    return cdb_fail(db, CASKDB_EIO, errno, "cannot sync directory %s",
                    db->path);
  }
  db->dirty = 0;
  db->need_dir_sync = 0;
  db->last_sync_ms = monotonic_ms();
  if (db->syncer)
    cdb_syncer_note_synced(db->syncer);
  return CASKDB_OK;
}

/* Sync after a write, as the sync mode says. */
static int sync_after_write(caskdb *db) {
  db->dirty = 1;
  if (db->opts.sync == CASKDB_SYNC_ALWAYS)
    return caskdb_sync(db);
  if (db->opts.sync == CASKDB_SYNC_INTERVAL &&
      monotonic_ms() - db->last_sync_ms >= db->opts.sync_interval_ms)
    return caskdb_sync(db);
  if (db->syncer) /* writes may stop now: the thread syncs them in time */
    cdb_syncer_note_write(db->syncer, db->active->fd);
  return CASKDB_OK;
}

/* ---- writing
 * ----------------------------------------------------------------- */

int cdb_check_writable(caskdb *db) {
  if (db->opts.readonly)
    return cdb_fail(db, CASKDB_EREADONLY, 0, "database %s is read-only",
                    db->path);
  if (db->failed)
    return cdb_fail(db, CASKDB_EFAILED, 0, "an earlier write failed; reopen %s",
                    db->path);
  if (db->syncer && cdb_syncer_failed(db->syncer)) {
    db->failed = 1;
    return cdb_fail(db, CASKDB_EFAILED, 0,
                    "a background fdatasync of %s failed; reopen it", db->path);
  }
  if (db->fork_gen != cdb_fork_generation())
    return cdb_fail(db, CASKDB_EINVAL, 0,
                    "this handle of %s was opened by the parent process; "
                    "open the database again after fork()",
                    db->path);
  return CASKDB_OK;
}

int cdb_rotate(caskdb *db) {
  cdb_file *old = db->active;
  int rc;
  if (old->size <= CDB_FILE_HEADER_SIZE)
    return CASKDB_OK;
  /* Shared mode: bytes past the end may be left by a writer that died; a
   * reader reads an immutable file to its size, so cut them. */
  if (db->sh && cdb_os->ftruncate(old->fd, old->size) < 0)
    return cdb_fail(db, cdb_code_from_errno(errno), errno,
                    "cannot cut data file %010u to its end", (unsigned)old->id);
  /* Whatever the sync mode: only the newest file may ever be torn by a
   * power cut (open.c relies on it), so a file is on disk before it stops
   * being the newest.  Once per max_file_size of writes. */
  rc = caskdb_sync(db);
  if (rc != CASKDB_OK)
    return rc;
  if (db->syncer) /* the old file may be merged and closed later */
    cdb_syncer_release(db->syncer);
  rc = cdb_create_active(db, old->id + 1);
  if (rc == CASKDB_OK)
    cdb_hint_write_for(db, old); /* best effort: a hint is only a shortcut */
  return rc;
}

/* Start a new active file if a record of `size` bytes does not fit. */
int cdb_make_room(caskdb *db, uint64_t size) {
  if (db->active->size + size <= db->opts.max_file_size)
    return CASKDB_OK;
  return cdb_rotate(db);
}

/* Cut the active file back to `size` after a failed write or sync. */
void cdb_undo_append(caskdb *db, uint64_t size) {
  /* A record read back before the cut must not answer for the record that
   * the next append puts at the same offset. */
  if (db->cache)
    cdb_cache_drop_file(db->cache, db->active->serial, (uint32_t)size);
  if (cdb_os->ftruncate(db->active->fd, size) < 0)
    db->failed = 1;
}

int cdb_append(caskdb *db, const struct iovec *iov, int iovcnt, uint64_t total,
               uint64_t *off) {
  uint64_t start = db->active->size;
  int rc;
  if (db->sh)
    cdb_shared_note_append(db);
  if (cdb_os->pwritev_all(db->active->fd, iov, iovcnt, start) < 0) {
    int err = errno;
    cdb_undo_append(db, start);
    return cdb_fail(db, cdb_code_from_errno(err), err,
                    "cannot write to data file %010u",
                    (unsigned)db->active->id);
  }
  rc = sync_after_write(db);
  if (rc != CASKDB_OK) {
    cdb_undo_append(db, start);
    return rc;
  }
  *off = start;
  db->active->size = start + total;
  return CASKDB_OK;
}

/* Append one record (header already in db->hdrbuf) and sync it.  On
 * CASKDB_OK, *off is where it starts. */
static int append_record(caskdb *db, const unsigned char *key, size_t klen,
                         const void *value, size_t vlen, uint64_t *off) {
  struct iovec iov[3];
  iov[0].iov_base = db->hdrbuf;
  iov[0].iov_len = CDB_REC_HEADER_SIZE;
  iov[1].iov_base = (void *)key;
  iov[1].iov_len = klen;
  iov[2].iov_base = (void *)value;
  iov[2].iov_len = vlen;
  return cdb_append(db, iov, 3, cdb_rec_size(klen, vlen), off);
}

/* A record that no key points to any more is never read again: its cache
 * entry only takes room. */
static void drop_cached(caskdb *db, const cdb_loc *old) {
  if (db->cache)
    cdb_cache_drop(db->cache, db->slots[old->slot]->serial, old->offset);
}

int cdb_forget(caskdb *db, const unsigned char *canon, size_t clen) {
  cdb_loc old;
  if (cdb_kd_del(db->kd, canon, clen, &old) != 1)
    return 0;
  drop_cached(db, &old);
  db->slots[old.slot]->live_bytes -= old.size;
  if (old.expiry != 0)
    db->n_expiring--;
  if (canon[0] == CDB_CANON_HIDDEN)
    db->n_hidden--;
  return 1;
}

int cdb_apply(caskdb *db, const unsigned char *canon, size_t clen,
              const cdb_loc *loc, int is_delete) {
  cdb_loc old;
  int rc;
  if (is_delete || cdb_expired(db, loc->expiry)) {
    cdb_forget(db, canon, clen);
    return CASKDB_OK;
  }
  rc = cdb_kd_set(db->kd, canon, clen, loc, &old);
  if (rc < 0)
    return cdb_fail(db, CASKDB_ENOMEM, 0, "out of memory growing the keydir");
  if (rc == 0) {
    drop_cached(db, &old);
    db->slots[old.slot]->live_bytes -= old.size;
    if (old.expiry != 0)
      db->n_expiring--;
  } else if (canon[0] == CDB_CANON_HIDDEN) {
    db->n_hidden++;
  }
  if (loc->expiry != 0)
    db->n_expiring++;
  db->slots[loc->slot]->live_bytes += loc->size;
  return CASKDB_OK;
}

/* The slot of the active file. */
uint32_t cdb_active_slot(const caskdb *db) { return db->order[db->nfiles - 1]; }

/* Write one put or delete record of the canonical key in db->keybuf. */
static int write_record(caskdb *db, size_t clen, int type, const void *value,
                        size_t vlen, const caskdb_meta *meta, cdb_loc *loc) {
  unsigned char disk8[8];
  const unsigned char *kbytes;
  size_t klen;
  uint64_t off = 0, size;
  cdb_rec r;
  int rc;

  memset(&r, 0, sizeof r);
  cdb_key_to_disk(db->keybuf, clen, &r.key_kind, &kbytes, &klen, disk8);
  r.type = (uint8_t)type;
  r.timestamp = cdb_now_ms(db);
  if (meta) {
    r.expiry = meta->expiry;
    r.value_type = meta->type;
    r.flags = meta->flags;
  }
  r.klen = (uint32_t)klen;
  r.vlen = (uint32_t)vlen;
  r.key = kbytes;
  r.value = value;
  size = cdb_rec_size(klen, vlen);
  rc = cdb_make_room(db, size);
  if (rc != CASKDB_OK)
    return rc;
  cdb_rec_encode_header(db->hdrbuf, &r);
  rc = append_record(db, kbytes, klen, value, vlen, &off);
  if (rc != CASKDB_OK)
    return rc;
  loc->slot = cdb_active_slot(db);
  loc->offset = (uint32_t)off;
  loc->size = (uint32_t)size;
  loc->expiry = r.expiry;
  loc->vtype = r.value_type;
  return CASKDB_OK;
}

void cdb_after_write(caskdb *db) {
  int more;
  if (!db->opts.auto_merge)
    return;
  if (db->merge == NULL && !caskdb_merge_needed(db))
    return;
  /* The write itself succeeded: a failing merge step does not change its
   * result (the step leaves the database whole, see merge.c). */
  caskdb_merge_step(db, db->opts.auto_merge_step_bytes, &more);
  clear_error(db);
}

/* Put or delete the canonical key in db->keybuf where it holds a list:
 * the elements go in the same batch. */
static int replace_list(caskdb *db, size_t clen, const void *value, size_t vlen,
                        const caskdb_meta *meta, int is_delete, int *was_list) {
  unsigned char k[CDB_CANON_MAX];
  caskdb_batch *b;
  int rc;
  *was_list = 0;
  if (caskdb_batch_new(&b) != CASKDB_OK)
    return cdb_fail(db, CASKDB_ENOMEM, 0, "out of memory");
  memcpy(k, db->keybuf, clen);
  rc = cdb_list_cleanup(db, clen, b, was_list);
  if (rc == CASKDB_OK && *was_list) {
    rc = cdb_batch_add(b, is_delete, k, clen, value, vlen, meta);
    if (rc == CASKDB_OK)
      rc = caskdb_batch_commit(db, b);
  }
  caskdb_batch_free(b);
  return rc;
}

/* Whether the canonical key in db->keybuf holds a list header. */
static int holds_list(caskdb *db, size_t clen) {
  cdb_loc loc;
  return cdb_kd_find(db->kd, db->keybuf, clen, &loc) &&
         loc.vtype == CASKDB_TYPE_LIST;
}

static int put(caskdb *db, caskdb_key key, const void *value, size_t vlen,
               const caskdb_meta *meta) {
  cdb_loc loc;
  size_t clen;
  int rc;
  if (db == NULL || (value == NULL && vlen > 0))
    return CASKDB_EINVAL;
  clear_error(db);
  rc = cdb_key_to_canon(&key, db->keybuf, &clen);
  if (rc != CASKDB_OK)
    return rc;
  if (vlen > CASKDB_MAX_VALUE_SIZE)
    return CASKDB_ETOOLARGE;
  if (meta && meta->type == CASKDB_TYPE_LIST)
    return CASKDB_EINVAL; /* the tag is the engine's own */
  rc = cdb_check_writable(db);
  if (rc != CASKDB_OK)
    return rc;
  /* A list has at least one element, so with no element keys there is no
   * list to replace, and the put costs no extra keydir lookup. */
  if (db->n_hidden > 0 && holds_list(db, clen)) {
    int was_list;
    rc = replace_list(db, clen, value, vlen, meta, 0, &was_list);
    if (rc != CASKDB_OK || was_list)
      return rc;
  }
  rc = write_record(db, clen, CDB_REC_PUT, value, vlen, meta, &loc);
  if (rc != CASKDB_OK)
    return rc;
  rc = cdb_apply(db, db->keybuf, clen, &loc, 0);
  if (rc != CASKDB_OK) {
    /* Out of memory: take the record back so disk and memory agree. */
    cdb_undo_append(db, loc.offset);
    db->active->size = loc.offset;
    return rc;
  }
  cdb_after_write(db);
  return CASKDB_OK;
}

int caskdb_put(caskdb *db, caskdb_key key, const void *value, size_t vlen,
               const caskdb_meta *meta) {
  int rc;
  if (db == NULL || db->sh == NULL)
    return put(db, key, value, vlen, meta);
  rc = cdb_shared_write_begin(db);
  if (rc == CASKDB_OK)
    rc = cdb_shared_write_end(db, put(db, key, value, vlen, meta));
  return rc;
}

static int delete_key(caskdb *db, caskdb_key key) {
  cdb_loc found, loc;
  size_t clen;
  int rc;
  if (db == NULL)
    return CASKDB_EINVAL;
  clear_error(db);
  rc = cdb_key_to_canon(&key, db->keybuf, &clen);
  if (rc != CASKDB_OK)
    return rc;
  rc = cdb_check_writable(db);
  if (rc != CASKDB_OK)
    return rc;
  if (!cdb_kd_find(db->kd, db->keybuf, clen, &found))
    return CASKDB_ENOTFOUND;
  if (cdb_expired(db, found.expiry)) {
    /* Its record is already dead on disk; forget it in memory only. */
    cdb_forget(db, db->keybuf, clen);
    return CASKDB_ENOTFOUND;
  }
  if (found.vtype == CASKDB_TYPE_LIST) {
    int was_list;
    rc = replace_list(db, clen, NULL, 0, NULL, 1, &was_list);
    if (rc != CASKDB_OK || was_list)
      return rc;
  }
  rc = write_record(db, clen, CDB_REC_DELETE, NULL, 0, NULL, &loc);
  if (rc != CASKDB_OK)
    return rc;
  cdb_forget(db, db->keybuf, clen);
  cdb_after_write(db);
  return CASKDB_OK;
}

int caskdb_delete(caskdb *db, caskdb_key key) {
  int rc;
  if (db == NULL || db->sh == NULL)
    return delete_key(db, key);
  rc = cdb_shared_write_begin(db);
  if (rc == CASKDB_OK)
    rc = cdb_shared_write_end(db, delete_key(db, key));
  return rc;
}

/* ---- reading ------------------------------------------------------------ */

/* Make db->rbuf hold at least n bytes. */
static int reserve_rbuf(caskdb *db, size_t n) {
  size_t cap = n;
  unsigned char *p;
  if (n <= db->rcap)
    return CASKDB_OK;
  if (cap < 4096)
    cap = 4096;
  p = realloc(db->rbuf, cap);
  if (p == NULL)
    return cdb_fail(db, CASKDB_ENOMEM, 0, "out of memory reading a value");
  db->rbuf = p;
  db->rcap = cap;
  return CASKDB_OK;
}

/* A hit: the record's bytes from the cache into db->rbuf.  They were
 * checked (CRC included) when they were read from the file, so only the
 * header is decoded again.  0 on a miss. */
static int read_from_cache(caskdb *db, const cdb_file *f, const cdb_loc *loc,
                           cdb_rec *r) {
  uint32_t len;
  const unsigned char *p =
      cdb_cache_get(db->cache, f->serial, loc->offset, &len);
  if (p == NULL)
    return 0;
  if (len != loc->size) { /* cannot happen: places are never reused */
    cdb_cache_drop(db->cache, f->serial, loc->offset);
    return 0;
  }
  memcpy(db->rbuf, p, (size_t)len + 1); /* the NUL too */
  if (cdb_rec_decode_header(db->rbuf, r) != CDB_DECODE_OK ||
      cdb_rec_size(r->klen, r->vlen) != len)
    return 0;
  r->key = db->rbuf + CDB_REC_HEADER_SIZE;
  r->value = r->key + r->klen;
  return 1;
}

static int read_record(caskdb *db, const cdb_loc *loc, cdb_rec *r, int cached) {
  cdb_file *f = db->slots[loc->slot];
  ssize_t got;
  int rc = reserve_rbuf(db, (size_t)loc->size + 1);
  if (rc != CASKDB_OK)
    return rc;
  cached = cached && db->cache != NULL;
  if (cached && read_from_cache(db, f, loc, r))
    return CASKDB_OK;
  if (f->map && (uint64_t)loc->offset + loc->size <= f->map_len &&
      (uint64_t)loc->offset + loc->size <= f->size) {
    /* Mapped: a copy instead of a system call. */
    memcpy(db->rbuf, f->map + loc->offset, loc->size);
    got = (ssize_t)loc->size;
  } else {
    got = cdb_os->pread(f->fd, db->rbuf, loc->size, loc->offset);
  }
  if (got < 0)
    return cdb_fail(db, cdb_code_from_errno(errno), errno,
                    "cannot read data file %010u at offset %u", (unsigned)f->id,
                    (unsigned)loc->offset);
  if ((size_t)got != loc->size ||
      cdb_rec_decode(db->rbuf, loc->size, r) != CDB_DECODE_OK)
    return cdb_fail(db, CASKDB_ECORRUPT, 0,
                    "corrupt record in data file %010u at offset %u",
                    (unsigned)f->id, (unsigned)loc->offset);
  db->rbuf[loc->size] = '\0';
  /* Out of memory for the cache is no failure of the read. */
  if (cached)
    cdb_cache_put(db->cache, f->serial, loc->offset, db->rbuf, loc->size);
  return CASKDB_OK;
}

void cdb_pending_clear(cdb_pending_batch *b) {
  size_t i;
  for (i = 0; i < b->n; i++)
    free(b->ops[i].canon);
  b->n = 0;
}

int cdb_pending_push(cdb_pending_batch *b, const unsigned char *canon,
                     size_t clen, const cdb_loc *loc, int is_delete) {
  cdb_pending_op *op;
  if (b->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 16;
    cdb_pending_op *ops = realloc(b->ops, cap * sizeof *ops);
    if (ops == NULL)
      return -1;
    b->ops = ops;
    b->cap = cap;
  }
  op = &b->ops[b->n];
  op->canon = malloc(clen ? clen : 1);
  if (op->canon == NULL)
    return -1;
  memcpy(op->canon, canon, clen);
  op->clen = clen;
  op->loc = *loc;
  op->is_delete = is_delete;
  b->n++;
  return 0;
}

int cdb_pending_apply(caskdb *db, cdb_pending_batch *b) {
  size_t i;
  for (i = 0; i < b->n; i++) {
    cdb_pending_op *op = &b->ops[i];
    int rc = cdb_apply(db, op->canon, op->clen, &op->loc, op->is_delete);
    if (rc != CASKDB_OK)
      return rc;
  }
  cdb_pending_clear(b);
  return CASKDB_OK;
}

void cdb_prefetch_record(const caskdb *db, const cdb_loc *loc) {
#if defined(__GNUC__)
  const cdb_file *f = db->slots[loc->slot];
  uint32_t at;
  if (f == NULL || f->map == NULL ||
      (uint64_t)loc->offset + loc->size > f->map_len)
    return;
  for (at = 0; at < loc->size && at < 256; at += 64)
    __builtin_prefetch(f->map + loc->offset + at);
#else
  (void)db;
  (void)loc;
#endif
}

int cdb_read_record(caskdb *db, const cdb_loc *loc, cdb_rec *r) {
  return read_record(db, loc, r, 1);
}

int cdb_read_record_uncached(caskdb *db, const cdb_loc *loc, cdb_rec *r) {
  return read_record(db, loc, r, 0);
}

/* Does the record read for canonical key canon really hold that key? */
static int record_has_key(const cdb_rec *r, const unsigned char *canon,
                          size_t clen) {
  unsigned char disk8[8];
  const unsigned char *kbytes;
  size_t klen;
  uint8_t kind;
  cdb_key_to_disk(canon, clen, &kind, &kbytes, &klen, disk8);
  return r->key_kind == kind && r->klen == klen &&
         memcmp(r->key, kbytes, klen) == 0 &&
         (r->type == CDB_REC_PUT || r->type == CDB_REC_BATCH_PUT);
}

int caskdb_get(caskdb *db, caskdb_key key, const void **value, size_t *vlen,
               caskdb_meta *meta) {
  cdb_loc loc;
  cdb_rec r;
  size_t clen;
  int rc;
  if (db == NULL || value == NULL || vlen == NULL)
    return CASKDB_EINVAL;
  clear_error(db);
  /* Catching up uses db->keybuf: before the key goes there. */
  if (db->sh && (rc = cdb_shared_refresh(db)) != CASKDB_OK)
    return rc;
  rc = cdb_key_to_canon(&key, db->keybuf, &clen);
  if (rc != CASKDB_OK)
    return rc;
  if (!cdb_kd_find(db->kd, db->keybuf, clen, &loc) ||
      cdb_expired(db, loc.expiry))
    return CASKDB_ENOTFOUND;
  rc = cdb_read_record(db, &loc, &r);
  if (rc != CASKDB_OK)
    return rc;
  if (!record_has_key(&r, db->keybuf, clen))
    return cdb_fail(db, CASKDB_ECORRUPT, 0,
                    "record at offset %u of data file %010u holds another key",
                    (unsigned)loc.offset, (unsigned)db->slots[loc.slot]->id);
  *value = r.value;
  *vlen = r.vlen;
  if (meta) {
    meta->type = r.value_type;
    meta->flags = r.flags;
    meta->expiry = r.expiry;
  }
  return CASKDB_OK;
}

int caskdb_exists(caskdb *db, caskdb_key key) {
  cdb_loc loc;
  size_t clen;
  int rc;
  if (db == NULL)
    return CASKDB_EINVAL;
  clear_error(db);
  /* Catching up uses db->keybuf: before the key goes there. */
  if (db->sh && (rc = cdb_shared_refresh(db)) != CASKDB_OK)
    return rc;
  rc = cdb_key_to_canon(&key, db->keybuf, &clen);
  if (rc != CASKDB_OK)
    return rc;
  if (!cdb_kd_find(db->kd, db->keybuf, clen, &loc) ||
      cdb_expired(db, loc.expiry))
    return CASKDB_ENOTFOUND;
  return CASKDB_OK;
}

uint64_t caskdb_count(const caskdb *db) {
  cdb_kd_cursor cur;
  cdb_loc loc;
  uint64_t n, now;
  if (db == NULL)
    return 0;
  /* A shared handle counts what other processes wrote too (the handle
   * changes, not the database; a failure to catch up counts what it has). */
  if (db->sh)
    cdb_shared_refresh((caskdb *)db);
  n = cdb_kd_count(db->kd) - db->n_hidden;
  if (db->n_expiring == 0)
    return n;
  /* Some keys carry an expiry: leave out those whose time has passed. */
  now = cdb_now_ms(db);
  cdb_kd_seek(db->kd, NULL, 0, &cur);
  while (cdb_kd_cursor_get(db->kd, &cur, NULL, NULL, &loc)) {
    if (loc.expiry != 0 && loc.expiry <= now)
      n--;
    cdb_kd_cursor_next(db->kd, &cur);
  }
  return n;
}

int caskdb_get_stats(caskdb *db, caskdb_stats *st) {
  uint32_t i;
  if (db == NULL || st == NULL)
    return CASKDB_EINVAL;
  if (db->sh)
    cdb_shared_refresh(db);
  memset(st, 0, sizeof *st);
  st->keys = cdb_kd_count(db->kd) - db->n_hidden;
  /* Every file, merge outputs not yet published included. */
  for (i = 0; i < db->nslots; i++) {
    const cdb_file *f = db->slots[i];
    if (f == NULL)
      continue;
    st->data_files++;
    st->disk_bytes += f->size;
    st->live_bytes += f->live_bytes;
  }
  st->dead_bytes = st->disk_bytes - st->live_bytes;
  st->truncated_bytes = db->truncated_bytes;
  st->corrupt_records = db->corrupt_records;
  st->keydir_bytes = cdb_kd_bytes(db->kd);
  st->active_file_id = db->active ? db->active->id : 0;
  if (db->cache) {
    cdb_cache_stats cs;
    cdb_cache_get_stats(db->cache, &cs);
    st->cache_hits = cs.hits;
    st->cache_misses = cs.misses;
    st->cache_bytes = cs.bytes;
    st->cache_entries = cs.entries;
  }
  return CASKDB_OK;
}

size_t caskdb_get_file_stats(caskdb *db, caskdb_file_stats *out, size_t n) {
  uint32_t i;
  if (db == NULL)
    return 0;
  if (db->sh)
    cdb_shared_refresh(db);
  for (i = 0; i < db->nfiles && i < n; i++) {
    const cdb_file *f = db->slots[db->order[i]];
    out[i].id = f->id;
    out[i].part = f->part;
    out[i].bytes = f->size;
    out[i].live_bytes = f->live_bytes;
    out[i].dead_bytes = f->size - f->live_bytes;
    out[i].active = f == db->active && !db->opts.readonly;
  }
  return db->nfiles;
}

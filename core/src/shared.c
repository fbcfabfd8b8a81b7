/*
 * shared.c -- shared mode: several processes reading and writing one
 * database directory.  docs/MULTIPROCESS.md is the design; in short:
 *
 *  - SHARED, a small file every shared handle maps read-write, holds the
 *    published state: the active file's id, its committed end, a generation
 *    bumped when the set of files changes, and `seq`, bumped on every
 *    publish.  Its flock is the write lock: exclusive for one write
 *    operation, shared while a handle catches up.
 *  - LOCK is held shared by every shared handle for its life, so exclusive
 *    writers (which hold it exclusively) and shared handles exclude each
 *    other, and a shared opener that gets it exclusively knows it is alone:
 *    it recovers the directory as an exclusive writer would.
 *  - Before each call a handle compares `seq` with the one it applied (an
 *    atomic load); when they differ it catches up under the shared lock:
 *    the new tail of the active file, new files after it, or, after a merge
 *    of another process, a reload of every file.
 *  - A writer appends at the published end and publishes the new end before
 *    it releases the lock; bytes past the published end are never read, and
 *    are cut by the next writer if their writer died (`writing`).
 *  - MERGE is locked by the one handle that has a merge under way.
 *
 * The mapped state is read and written with atomics: lock-free atomics are
 * address-free, so processes mapping the same page agree on them.
 */
#include "shared.h"

#include "cache.h"
#include "datafile.h"
#include "hint.h"
#include "key.h"
#include "lock.h"
#include "os.h"
#include "syncer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define SHM_SIZE 4096
#define SHM_VERSION 1
static const char shm_magic[8] = {'C', 'A', 'S', 'K', 'S', 'H', 'M', 0};

/* The published state, at the start of SHARED (native byte order: it never
 * leaves the machine). */
typedef struct cdb_shm {
  char magic[8];
  uint32_t version;
  uint32_t size;
  _Atomic uint64_t seq;       /* bumped on every publish */
  _Atomic uint64_t gen;       /* bumped when the set of files changes */
  _Atomic uint64_t end;       /* committed end of the active file */
  _Atomic uint32_t active_id; /* the file taking writes */
  _Atomic uint32_t writing;   /* an append is (or was, if its writer died)
                                 under way past `end` */
} cdb_shm;

struct cdb_shared {
  int fd;            /* SHARED: the mapping and the write lock */
  int merge_fd;      /* MERGE, or -1 until this handle first merges */
  cdb_shm *shm;      /* the mapping */
  uint64_t seq, gen; /* the published state this handle has applied */
  int depth;         /* nesting of cdb_shared_write_begin */
  int merging;       /* this handle holds MERGE */
  int merge_pinned;  /* caskdb_merge holds it across its steps */
  int files_changed; /* bump the generation at the next publish */
};

/* ---- reading records into the keydir ------------------------------------ */

static int bad_record(caskdb *db, const cdb_file *f, uint64_t off) {
  return cdb_fail(db, CASKDB_ECORRUPT, 0,
                  "corrupt record in data file %010u at offset %llu, before "
                  "its published end",
                  (unsigned)f->id, (unsigned long long)off);
}

/* Apply the records of f (in `slot`) from offset `from` to `to` to the
 * keydir, in order; a batch takes effect at its end record.  Everything
 * below a published end is whole records, so anything else is corruption.
 * On success f->size becomes `to`. */
static int scan_range(caskdb *db, cdb_file *f, uint32_t slot, uint64_t from,
                      uint64_t to) {
  cdb_pending_batch batch = {NULL, 0, 0, 0};
  cdb_scanner sc;
  uint64_t off = from;
  int rc = CASKDB_OK;
  if (from >= to) {
    f->size = to > f->size ? to : f->size;
    return CASKDB_OK;
  }
  if (cdb_scanner_init(&sc, f->fd, to) < 0)
    return cdb_fail(db, CASKDB_ENOMEM, 0, "out of memory");
  while (off < to && rc == CASKDB_OK) {
    cdb_rec r;
    cdb_loc loc;
    size_t clen;
    int s = cdb_scan_record(&sc, off, &r);
    if (s == CDB_SCAN_IOERR) {
      rc = cdb_fail(db, CASKDB_EIO, sc.err, "cannot read data file %010u",
                    (unsigned)f->id);
      break;
    }
    if (s == CDB_SCAN_NOMEM) {
      rc = cdb_fail(db, CASKDB_ENOMEM, 0, "out of memory");
      break;
    }
    if (s != CDB_SCAN_OK) {
      rc = bad_record(db, f, off);
      break;
    }
    memset(&loc, 0, sizeof loc);
    loc.slot = slot;
    loc.offset = (uint32_t)off;
    loc.size = (uint32_t)cdb_rec_size(r.klen, r.vlen);
    loc.expiry = r.expiry;
    loc.vtype = r.value_type;
    if (r.type == CDB_REC_BATCH_END) {
      if (r.value == NULL || batch.n == 0 || get_u32le(r.value) != batch.n)
        rc = bad_record(db, f, off);
      else
        rc = cdb_pending_apply(db, &batch);
    } else {
      clen = cdb_key_canon_from_disk(r.key_kind, r.key, r.klen, db->keybuf);
      if (r.type == CDB_REC_BATCH_PUT || r.type == CDB_REC_BATCH_DELETE) {
        if (cdb_pending_push(&batch, db->keybuf, clen, &loc,
                             r.type == CDB_REC_BATCH_DELETE) < 0)
          rc = cdb_fail(db, CASKDB_ENOMEM, 0, "out of memory");
      } else if (batch.n > 0) {
        rc = bad_record(db, f, off);
      } else {
        rc = cdb_apply(db, db->keybuf, clen, &loc, r.type == CDB_REC_DELETE);
      }
    }
    off += loc.size;
  }
  if (rc == CASKDB_OK && batch.n > 0)
    rc = bad_record(db, f, off);
  cdb_pending_clear(&batch);
  free(batch.ops);
  cdb_scanner_free(&sc);
  if (rc == CASKDB_OK)
    f->size = to;
  return rc;
}

/* ---- the data files of the directory ------------------------------------ */

typedef struct file_ref {
  uint32_t id, part;
} file_ref;

typedef struct ref_list {
  file_ref *refs;
  size_t n, cap;
  uint32_t max_id;
} ref_list;

static int collect(void *ctx, const char *name) {
  ref_list *l = ctx;
  uint32_t id, part;
  if (!cdb_parse_file_name(name, CDB_DATA_SUFFIX, &id, &part) || id > l->max_id)
    return 0; /* not a data file, or the left-over of a killed rotation */
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    file_ref *refs = realloc(l->refs, cap * sizeof *refs);
    if (refs == NULL) {
      errno = ENOMEM;
      return -1;
    }
    l->refs = refs;
    l->cap = cap;
  }
  l->refs[l->n].id = id;
  l->refs[l->n].part = part;
  l->n++;
  return 0;
}

static int ref_compare(uint32_t aid, uint32_t apart, uint32_t bid,
                       uint32_t bpart) {
  if (aid != bid)
    return aid < bid ? -1 : 1;
  return apart < bpart ? -1 : apart > bpart;
}

static int compare_refs(const void *a, const void *b) {
  const file_ref *x = a, *y = b;
  return ref_compare(x->id, x->part, y->id, y->part);
}

/* The data files with ids up to max_id, oldest first. */
static int list_files(caskdb *db, uint32_t max_id, ref_list *l) {
  memset(l, 0, sizeof *l);
  l->max_id = max_id;
  if (cdb_os->list_dir(db->path, collect, l) != 0) {
    free(l->refs);
    l->refs = NULL;
    return cdb_fail(db, cdb_code_from_errno(errno), errno, "cannot list %s",
                    db->path);
  }
  if (l->n > 0)
    qsort(l->refs, l->n, sizeof *l->refs, compare_refs);
  return CASKDB_OK;
}

static int listed(const ref_list *l, uint32_t id, uint32_t part) {
  size_t i;
  for (i = 0; i < l->n; i++)
    if (l->refs[i].id == id && l->refs[i].part == part)
      return 1;
  return 0;
}

static int known(const caskdb *db, uint32_t id, uint32_t part) {
  uint32_t i;
  for (i = 0; i < db->nfiles; i++) {
    const cdb_file *f = db->slots[db->order[i]];
    if (f->id == id && f->part == part)
      return 1;
  }
  return 0;
}

/* Open data file (id, part) and check its header; its size in *size. */
static int open_file(caskdb *db, uint32_t id, uint32_t part, int writable,
                     cdb_file **out, uint64_t *size) {
  char name[CDB_FILE_NAME_MAX];
  unsigned char buf[CDB_FILE_HEADER_SIZE];
  cdb_file_header h;
  cdb_file *f;
  char *path;
  int rc = CASKDB_OK, dec;
  cdb_file_name(name, id, part, CDB_DATA_SUFFIX);
  path = cdb_path_join(db->path, name);
  f = calloc(1, sizeof *f);
  if (path == NULL || f == NULL) {
    free(path);
    free(f);
    return cdb_fail(db, CASKDB_ENOMEM, 0, "out of memory");
  }
  f->id = id;
  f->part = part;
  f->fd = cdb_os->open(path, writable ? O_RDWR : O_RDONLY, 0);
  free(path);
  if (f->fd < 0 || cdb_os->file_size(f->fd, size) < 0) {
    rc =
        cdb_fail(db, cdb_code_from_errno(errno), errno, "cannot open %s", name);
  } else if (*size < CDB_FILE_HEADER_SIZE ||
             cdb_os->pread(f->fd, buf, sizeof buf, 0) != (ssize_t)sizeof buf) {
    rc = cdb_fail(db, CASKDB_ECORRUPT, 0, "cannot read the header of %s", name);
  } else {
    dec = cdb_file_header_decode(buf, sizeof buf, &h);
    if (dec == CDB_DECODE_VERSION)
      rc = cdb_fail(db, CASKDB_EVERSION, 0, "%s has format version %u", name,
                    (unsigned)h.version);
    else if (dec != CDB_DECODE_OK || h.kind != CDB_FILE_DATA ||
             h.file_id != id || h.part != part)
      rc = cdb_fail(db, CASKDB_ECORRUPT, 0, "bad file header in %s", name);
  }
  if (rc != CASKDB_OK) {
    if (f->fd >= 0)
      cdb_os->close(f->fd);
    free(f);
    return rc;
  }
  *out = f;
  return CASKDB_OK;
}

/* Open file `ref`, make it the newest of the handle and apply its records
 * up to `bound` (the published end for the active file, else its size):
 * from its hint when it has a sound one, else from the data. */
static int add_file(caskdb *db, const file_ref *ref, int is_active,
                    uint64_t bound, int cut) {
  cdb_file *f = NULL;
  uint64_t size = 0, len;
  int rc, slot = -1;
  rc = open_file(db, ref->id, ref->part, is_active, &f, &size);
  if (rc != CASKDB_OK)
    return rc;
  if (!is_active)
    bound = size;
  if (is_active && cut && size > bound && cdb_os->ftruncate(f->fd, bound) < 0) {
    /* The last writer died mid-append: its bytes were never published. */
    rc = cdb_fail(db, cdb_code_from_errno(errno), errno,
                  "cannot cut data file %010u back to %llu", (unsigned)f->id,
                  (unsigned long long)bound);
  } else if (size < bound) {
    rc = cdb_fail(db, CASKDB_ECORRUPT, 0,
                  "data file %010u is shorter than its published end",
                  (unsigned)f->id);
  }
  if (rc == CASKDB_OK && (slot = cdb_add_file(db, f)) < 0)
    rc = cdb_fail(db, CASKDB_ENOMEM, 0, "out of memory");
  if (rc != CASKDB_OK) {
    cdb_os->close(f->fd);
    free(f);
    return rc;
  }
  f->size = CDB_FILE_HEADER_SIZE;
  if (!is_active && cdb_hint_load(db, f, (uint32_t)slot, size) == CASKDB_OK)
    f->size = size;
  else
    rc = scan_range(db, f, (uint32_t)slot, CDB_FILE_HEADER_SIZE, bound);
  len = f->size;
  if (is_active && len < db->opts.max_file_size)
    len = db->opts.max_file_size; /* room to grow */
  cdb_file_map(db, f, len);
  return rc;
}

/* Load every file up to the published active one, as a follower: nothing
 * is cut (except, with `cut`, the unpublished tail of the active file) and
 * nothing removed.  The handle holds no file on entry. */
static int load_published(caskdb *db, uint32_t active_id, uint64_t end,
                          int cut) {
  ref_list l;
  size_t i;
  int rc = list_files(db, active_id, &l);
  for (i = 0; i < l.n && rc == CASKDB_OK; i++) {
    int is_active = l.refs[i].id == active_id && l.refs[i].part == 0;
    rc = add_file(db, &l.refs[i], is_active, end, cut);
  }
  free(l.refs);
  if (rc == CASKDB_OK &&
      (db->active == NULL || db->active->id != active_id || db->active->part))
    rc = cdb_fail(db, CASKDB_EIO, 0,
                  "the active data file %010u of %s is "
                  "missing",
                  (unsigned)active_id, db->path);
  return rc;
}

/* Close and forget file `slot` (it is in the order at position `at`). */
static void drop_file(caskdb *db, uint32_t at) {
  uint32_t slot = db->order[at];
  cdb_file *f = db->slots[slot];
  memmove(db->order + at, db->order + at + 1,
          (db->nfiles - at - 1) * sizeof *db->order);
  db->nfiles--;
  if (db->cache)
    cdb_cache_drop_file(db->cache, f->serial, 0);
  if (db->syncer) {
    /* The background sync may hold that descriptor: make it forget it
     * (and note the active file again if this handle has writes in it). */
    cdb_syncer_release(db->syncer);
    if (db->dirty && db->active && db->active != f)
      cdb_syncer_note_write(db->syncer, db->active->fd);
  }
  cdb_file_unmap(f);
  cdb_os->close(f->fd);
  free(f);
  db->slots[slot] = NULL;
}

/* Forget every file and key, to load again. */
static int reload(caskdb *db, uint32_t active_id, uint64_t end) {
  cdb_keydir *kd = cdb_kd_new();
  uint32_t i;
  if (kd == NULL)
    return cdb_fail(db, CASKDB_ENOMEM, 0, "out of memory");
  if (db->merge)
    cdb_merge_discard(db); /* not reached: no other process merges then */
  if (db->dirty && db->active)
    caskdb_sync(db); /* a failure marks the handle failed */
  if (db->syncer)
    cdb_syncer_release(db->syncer);
  while (db->nfiles > 0)
    drop_file(db, db->nfiles - 1);
  for (i = 0; i < db->nslots; i++) { /* files of a discarded merge */
    if (db->slots[i]) {
      if (db->cache)
        cdb_cache_drop_file(db->cache, db->slots[i]->serial, 0);
      cdb_file_unmap(db->slots[i]);
      cdb_os->close(db->slots[i]->fd);
      free(db->slots[i]);
      db->slots[i] = NULL;
    }
  }
  db->active = NULL;
  cdb_kd_free(db->kd);
  db->kd = kd;
  db->n_expiring = 0;
  db->n_hidden = 0;
  cdb_iter_reseek_all(db);
  return load_published(db, active_id, end, 0);
}

/* The generation changed: other processes rotated the active file, or a
 * merge published outputs or deleted inputs.  Under the lock. */
static int refresh_files(caskdb *db, uint32_t active_id, uint64_t end) {
  cdb_file *old = db->active;
  ref_list l;
  uint64_t bound;
  size_t i;
  uint32_t at;
  int rc, need_reload = old == NULL;
  rc = list_files(db, active_id, &l);
  if (rc != CASKDB_OK)
    return rc;
  /* A known file deleted with keys still in it, or a new file that sorts
   * before the active one (a merge output): load everything again.  A
   * deleted file no key points into any more is simply dropped. */
  for (at = 0; at < db->nfiles && !need_reload; at++) {
    const cdb_file *f = db->slots[db->order[at]];
    if (!listed(&l, f->id, f->part) && (f == old || f->live_bytes > 0))
      need_reload = 1;
  }
  for (i = 0; i < l.n && !need_reload; i++)
    if (!known(db, l.refs[i].id, l.refs[i].part) &&
        ref_compare(l.refs[i].id, l.refs[i].part, old->id, old->part) < 0)
      need_reload = 1;
  if (need_reload) {
    free(l.refs);
    return reload(db, active_id, end);
  }
  for (at = 0; at < db->nfiles;) {
    const cdb_file *f = db->slots[db->order[at]];
    if (!listed(&l, f->id, f->part))
      drop_file(db, at);
    else
      at++;
  }
  /* The rest of the old active file: to its end if it is still the active
   * one, else to its size (the rotating writer cut it to its end). */
  if (old->id == active_id)
    bound = end;
  else if (cdb_os->file_size(old->fd, &bound) < 0)
    rc = cdb_fail(db, CASKDB_EIO, errno, "cannot read data file %010u",
                  (unsigned)old->id);
  if (rc == CASKDB_OK)
    rc = scan_range(db, old, cdb_active_slot(db), old->size, bound);
  for (i = 0; i < l.n && rc == CASKDB_OK; i++) {
    if (known(db, l.refs[i].id, l.refs[i].part))
      continue;
    rc = add_file(db, &l.refs[i], l.refs[i].id == active_id, end, 0);
  }
  free(l.refs);
  if (rc == CASKDB_OK && (db->active->id != active_id || db->active->part))
    rc = cdb_fail(db, CASKDB_EIO, 0,
                  "the active data file %010u of %s is "
                  "missing",
                  (unsigned)active_id, db->path);
  return rc;
}

/* Apply what was published since the handle last looked.  Under the lock
 * (shared or exclusive), so the published state holds still. */
static int catch_up(caskdb *db) {
  cdb_shared *sh = db->sh;
  uint64_t seq = atomic_load_explicit(&sh->shm->seq, memory_order_acquire);
  uint64_t gen = atomic_load_explicit(&sh->shm->gen, memory_order_acquire);
  uint64_t end = atomic_load_explicit(&sh->shm->end, memory_order_acquire);
  uint32_t id = atomic_load_explicit(&sh->shm->active_id, memory_order_acquire);
  int rc = CASKDB_OK;
  if (gen != sh->gen || db->active == NULL || db->active->id != id)
    rc = refresh_files(db, id, end);
  else if (end > db->active->size)
    rc = scan_range(db, db->active, cdb_active_slot(db), db->active->size, end);
  else if (end < db->active->size)
    rc = cdb_fail(db, CASKDB_EIO, 0,
                  "the published end of data file %010u went back",
                  (unsigned)id);
  if (rc == CASKDB_OK) {
    sh->seq = seq;
    sh->gen = gen;
  }
  return rc;
}

/* ---- the public side ---------------------------------------------------- */

static int lock_error(caskdb *db, const char *what) {
  return cdb_fail(db, cdb_code_from_errno(errno), errno, "cannot lock %s/%s",
                  db->path, what);
}

static int inherited(caskdb *db) {
  return cdb_fail(db, CASKDB_EINVAL, 0,
                  "this handle of %s was opened by the parent process; "
                  "open the database again after fork()",
                  db->path);
}

int cdb_shared_refresh(caskdb *db) {
  cdb_shared *sh = db->sh;
  int rc;
  if (sh->depth > 0 ||
      atomic_load_explicit(&sh->shm->seq, memory_order_acquire) == sh->seq)
    return CASKDB_OK;
  if (db->fork_gen != cdb_fork_generation())
    return CASKDB_OK; /* inherited: reads as of the fork (its fds are gone) */
  if (cdb_os_flock(sh->fd, CDB_FLOCK_SH) < 0)
    return lock_error(db, "SHARED");
  rc = catch_up(db);
  cdb_os_flock(sh->fd, CDB_FLOCK_UN);
  return rc;
}

int cdb_shared_hold(caskdb *db) {
  cdb_shared *sh = db->sh;
  int rc;
  if (db->fork_gen != cdb_fork_generation())
    return inherited(db);
  if (cdb_os_flock(sh->fd, CDB_FLOCK_SH) < 0)
    return lock_error(db, "SHARED");
  rc = catch_up(db);
  if (rc != CASKDB_OK)
    cdb_os_flock(sh->fd, CDB_FLOCK_UN);
  return rc;
}

void cdb_shared_unhold(caskdb *db) { cdb_os_flock(db->sh->fd, CDB_FLOCK_UN); }

int cdb_shared_write_begin(caskdb *db) {
  cdb_shared *sh = db->sh;
  int rc;
  if (sh->depth > 0) {
    sh->depth++;
    return CASKDB_OK;
  }
  if (db->fork_gen != cdb_fork_generation())
    return inherited(db);
  if (cdb_os_flock(sh->fd, CDB_FLOCK_EX) < 0)
    return lock_error(db, "SHARED");
  sh->depth = 1;
  rc = catch_up(db);
  if (rc == CASKDB_OK &&
      atomic_load_explicit(&sh->shm->writing, memory_order_relaxed)) {
    /* The last writer died between its append and its publish: cut its
     * bytes, which nobody ever saw, so that ours follow whole records. */
    if (cdb_os->ftruncate(db->active->fd, db->active->size) < 0)
      rc = cdb_fail(db, cdb_code_from_errno(errno), errno,
                    "cannot cut data file %010u back to its published end",
                    (unsigned)db->active->id);
    else
      atomic_store_explicit(&sh->shm->writing, 0, memory_order_relaxed);
  }
  if (rc != CASKDB_OK) {
    sh->depth = 0;
    cdb_os_flock(sh->fd, CDB_FLOCK_UN);
  }
  return rc;
}

/* Make what this handle wrote visible: end, active file, generation, then
 * seq (the one field others read without the lock). */
static void publish(caskdb *db, int ok) {
  cdb_shared *sh = db->sh;
  cdb_shm *shm = sh->shm;
  int changed = 0, files = sh->files_changed;
  if (db->active) {
    if (atomic_load_explicit(&shm->active_id, memory_order_relaxed) !=
        db->active->id) {
      atomic_store_explicit(&shm->active_id, db->active->id,
                            memory_order_relaxed);
      files = 1;
    }
    if (atomic_load_explicit(&shm->end, memory_order_relaxed) !=
        db->active->size) {
      atomic_store_explicit(&shm->end, db->active->size, memory_order_relaxed);
      changed = 1;
    }
  }
  sh->files_changed = 0;
  if (files) {
    sh->gen = atomic_load_explicit(&shm->gen, memory_order_relaxed) + 1;
    atomic_store_explicit(&shm->gen, sh->gen, memory_order_release);
  }
  if (changed || files) {
    sh->seq = atomic_load_explicit(&shm->seq, memory_order_relaxed) + 1;
    atomic_store_explicit(&shm->seq, sh->seq, memory_order_release);
  }
  if (ok && !db->failed)
    atomic_store_explicit(&shm->writing, 0, memory_order_release);
}

int cdb_shared_write_end(caskdb *db, int rc) {
  cdb_shared *sh = db->sh;
  if (--sh->depth > 0)
    return rc;
  publish(db, rc == CASKDB_OK);
  cdb_os_flock(sh->fd, CDB_FLOCK_UN);
  return rc;
}

void cdb_shared_note_append(caskdb *db) {
  atomic_store_explicit(&db->sh->shm->writing, 1, memory_order_release);
}

void cdb_shared_note_files(caskdb *db) { db->sh->files_changed = 1; }

int cdb_shared_merge_lock(caskdb *db, int wait) {
  cdb_shared *sh = db->sh;
  if (sh->merging)
    return CASKDB_OK;
  if (sh->merge_fd < 0) {
    sh->merge_fd = cdb_lock_open(db->path, "MERGE");
    if (sh->merge_fd < 0)
      return lock_error(db, "MERGE");
  }
  if (cdb_os_flock(sh->merge_fd, CDB_FLOCK_EX | (wait ? 0 : CDB_FLOCK_NB)) <
      0) {
    if (errno == EWOULDBLOCK || errno == EAGAIN)
      return cdb_fail(db, CASKDB_ELOCKED, 0, "another process is merging %s",
                      db->path);
    return lock_error(db, "MERGE");
  }
  sh->merging = 1;
  return CASKDB_OK;
}

void cdb_shared_merge_unlock(caskdb *db) {
  cdb_shared *sh = db->sh;
  if (!sh->merging || sh->merge_pinned || db->merge != NULL)
    return;
  cdb_os_flock(sh->merge_fd, CDB_FLOCK_UN);
  sh->merging = 0;
}

void cdb_shared_merge_pin(caskdb *db, int pin) { db->sh->merge_pinned = pin; }

int cdb_shared_check_files(caskdb *db) {
  /* Under the write lock, the handle is ahead of the published state (a
   * write of this operation, e.g. the put that runs an automatic merge
   * step, is published only at its end): what it has is the truth. */
  return refresh_files(db, db->active->id, db->active->size);
}

/* ---- open and close ------------------------------------------------------ */

/* The first opener: recover as an exclusive writer, then write the
 * published state from what it loaded.  SHARED's old contents are not
 * trusted (they are never synced: a power cut may leave them stale). */
static int open_first(caskdb *db) {
  cdb_shm *shm = db->sh->shm;
  int rc = cdb_load(db);
  if (rc == CASKDB_OK)
    rc = caskdb_sync(db);
  if (rc != CASKDB_OK)
    return rc;
  if (memcmp(shm->magic, shm_magic, sizeof shm_magic) != 0 ||
      shm->version != SHM_VERSION) {
    memset(shm, 0, sizeof *shm);
    memcpy(shm->magic, shm_magic, sizeof shm_magic);
    shm->version = SHM_VERSION;
    shm->size = (uint32_t)sizeof *shm;
  }
  atomic_store(&shm->active_id, db->active->id);
  atomic_store(&shm->end, db->active->size);
  atomic_store(&shm->writing, 0);
  db->sh->gen = atomic_load(&shm->gen) + 1;
  atomic_store(&shm->gen, db->sh->gen);
  db->sh->seq = atomic_load(&shm->seq) + 1;
  atomic_store(&shm->seq, db->sh->seq);
  /* From alone to one of many.  The conversion is not atomic: an
   * exclusive writer may slip in, and then this open fails. */
  if (cdb_os_flock(db->lock_fd, CDB_FLOCK_SH | CDB_FLOCK_NB) < 0)
    return cdb_fail(db, CASKDB_ELOCKED, 0,
                    "database %s is locked by another writer", db->path);
  return CASKDB_OK;
}

/* A follower: load the published state. */
static int open_follower(caskdb *db) {
  cdb_shared *sh = db->sh;
  cdb_shm *shm = sh->shm;
  int writing, rc;
  if (memcmp(shm->magic, shm_magic, sizeof shm_magic) != 0 ||
      shm->version != SHM_VERSION)
    return cdb_fail(db, CASKDB_EIO, 0,
                    "%s/SHARED is not initialised though shared handles are "
                    "open",
                    db->path);
  writing = (int)atomic_load(&shm->writing);
  sh->seq = atomic_load(&shm->seq);
  sh->gen = atomic_load(&shm->gen);
  rc = load_published(db, atomic_load(&shm->active_id), atomic_load(&shm->end),
                      writing);
  if (rc == CASKDB_OK && writing)
    atomic_store(&shm->writing, 0);
  return rc;
}

/* Under the write lock: join the handles of the directory. */
static int join(caskdb *db) {
  cdb_shared *sh = db->sh;
  uint64_t size;
  int first;
  db->lock_fd = cdb_lock_open(db->path, "LOCK");
  if (db->lock_fd < 0)
    return lock_error(db, "LOCK");
  first = cdb_os_flock(db->lock_fd, CDB_FLOCK_EX | CDB_FLOCK_NB) == 0;
  if (!first && cdb_os_flock(db->lock_fd, CDB_FLOCK_SH | CDB_FLOCK_NB) < 0) {
    if (errno == EWOULDBLOCK || errno == EAGAIN)
      return cdb_fail(db, CASKDB_ELOCKED, 0,
                      "database %s is locked by another writer", db->path);
    return lock_error(db, "LOCK");
  }
  if (cdb_os->file_size(sh->fd, &size) < 0)
    return lock_error(db, "SHARED");
  if (size < SHM_SIZE && (!first || cdb_os->ftruncate(sh->fd, SHM_SIZE) < 0))
    return cdb_fail(db, CASKDB_EIO, errno, "cannot size %s/SHARED", db->path);
  sh->shm = cdb_os_map_rw(sh->fd, SHM_SIZE);
  if (sh->shm == NULL)
    return cdb_fail(db, cdb_code_from_errno(errno), errno,
                    "cannot map %s/SHARED", db->path);
  return first ? open_first(db) : open_follower(db);
}

int cdb_shared_open(caskdb *db) {
  cdb_shared *sh;
  int rc;
  {
    _Atomic uint64_t probe;
    if (!atomic_is_lock_free(&probe))
      return cdb_fail(db, CASKDB_EINVAL, 0,
                      "shared mode needs lock-free 64-bit atomics");
  }
  sh = calloc(1, sizeof *sh);
  if (sh == NULL)
    return cdb_fail(db, CASKDB_ENOMEM, 0, "out of memory");
  sh->fd = -1;
  sh->merge_fd = -1;
  db->sh = sh;
  sh->fd = cdb_lock_open(db->path, "SHARED");
  if (sh->fd < 0)
    return lock_error(db, "SHARED");
  if (cdb_os_flock(sh->fd, CDB_FLOCK_EX) < 0)
    return lock_error(db, "SHARED");
  sh->depth = 1; /* the open's own writes are published below */
  rc = join(db);
  sh->depth = 0;
  if (rc == CASKDB_OK)
    publish(db, 1);
  cdb_os_flock(sh->fd, CDB_FLOCK_UN);
  return rc;
}

void cdb_shared_close(caskdb *db) {
  cdb_shared *sh = db->sh;
  int mine = db->fork_gen == cdb_fork_generation();
  if (sh == NULL)
    return;
  if (sh->shm)
    cdb_os_unmap_rw(sh->shm, SHM_SIZE);
  /* In a forked child the descriptors were closed at the fork. */
  if (mine && sh->merge_fd >= 0)
    cdb_lock_release(sh->merge_fd);
  if (mine && sh->fd >= 0)
    cdb_lock_release(sh->fd);
  free(sh);
  db->sh = NULL;
}

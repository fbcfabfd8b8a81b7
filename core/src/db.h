/*
 * db.h -- the handle and what the engine's files share about it.
 *
 * Files of a database are known by a "slot": a small number that stays the
 * same while the file exists (keydir entries store it), so that finding the
 * file of a record is one array index.  `order` lists the slots oldest file
 * first; the last one is the active file, the only one written.  Slots
 * are reused after a merge deletes files, and merge outputs share their id
 * with an input, so what tells files apart over a handle's life is the
 * `serial` each file gets when it takes a slot (the value cache keys on it).
 */
#ifndef CASKDB_DB_H
#define CASKDB_DB_H

#include "cache.h"
#include "caskdb.h"
#include "keydir.h"
#include "record.h"

#include <stdarg.h>
#include <sys/uio.h>
#include <stdint.h>

typedef struct cdb_merge cdb_merge;   /* a merge under way (merge.c) */
typedef struct cdb_shared cdb_shared; /* shared mode's state (shared.c) */

typedef struct cdb_file {
  uint32_t id;
  uint32_t part;
  uint64_t serial; /* never given to another file of the handle */
  int fd;
  uint64_t size;            /* bytes of valid data; the append offset */
  uint64_t live_bytes;      /* bytes of records the keydir points to */
  const unsigned char *map; /* read-only mapping of the file, or NULL */
  uint64_t map_len;         /* bytes mapped (may run past the end) */
} cdb_file;

struct caskdb {
  char *path;
  caskdb_options opts;
  int lock_fd;       /* -1 for a read-only handle */
  unsigned fork_gen; /* cdb_fork_generation() at open */

  cdb_keydir *kd;
  cdb_file **slots; /* slot -> file, NULL when free */
  uint32_t nslots;
  uint32_t *order; /* slots, oldest file first */
  uint32_t nfiles;
  cdb_file *active;     /* the newest file (order[nfiles - 1]) or NULL */
  uint64_t last_serial; /* the last cdb_file.serial given */
  cdb_cache *cache;     /* the value cache, or NULL (cache_size 0) */

  unsigned char *keybuf; /* canonical key of the current call */
  unsigned char *hdrbuf; /* header of the record being written */
  unsigned char *rbuf;   /* the last value read (caskdb_get) */
  size_t rcap;
  unsigned char *popbuf; /* the last value popped from a list */
  size_t popcap;

  uint64_t n_expiring; /* keys in the keydir with an expiry */
  uint64_t n_hidden;   /* engine-internal keys in the keydir (list.c) */
  uint64_t truncated_bytes;
  uint64_t corrupt_records;
  uint64_t last_sync_ms;     /* monotonic time of the last fdatasync */
  int dirty;                 /* writes since the last fdatasync */
  int need_dir_sync;         /* a file was created since the last sync */
  int failed;                /* a write failed and could not be undone */
  caskdb_iter *iters;        /* iterators not yet closed (iter.c) */
  cdb_merge *merge;          /* the merge under way, or NULL (merge.c) */
  struct cdb_syncer *syncer; /* sync = "interval": the thread (syncer.c) */
  cdb_shared *sh;            /* shared mode, or NULL (shared.c) */

  int syserr;
  char errmsg[512];
};

/* Record the detail of a failure and return `code`.  The message is
 * formatted with printf rules; sys (an errno, or 0) is appended. */
int cdb_fail(caskdb *db, int code, int sys, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* The CASKDB_E* code for a failed system call's errno. */
int cdb_code_from_errno(int err);

/* Milliseconds since the epoch by the handle's clock. */
uint64_t cdb_now_ms(const caskdb *db);

/* Whether an entry's expiry has passed. */
int cdb_expired(const caskdb *db, uint64_t expiry);

/* Read and verify the record at loc into db->rbuf; on CASKDB_OK *r
 * describes it (pointers into db->rbuf).  Asks the value cache first and
 * adds to it what had to be read. */
int cdb_read_record(caskdb *db, const cdb_loc *loc, cdb_rec *r);

/* Records of a batch being read (at open, or when catching up with other
 * processes in shared mode): held until the batch's end record, then
 * applied in order, so a batch takes effect whole or not at all. */
typedef struct cdb_pending_op {
  unsigned char *canon; /* owned copy of the canonical key */
  size_t clen;
  cdb_loc loc;
  int is_delete;
} cdb_pending_op;

typedef struct cdb_pending_batch {
  cdb_pending_op *ops;
  size_t n, cap;
  uint64_t start; /* offset of the batch's first record */
} cdb_pending_batch;

/* Forget the held records (the array stays, for reuse; free b->ops when
 * done). */
void cdb_pending_clear(cdb_pending_batch *b);

/* Hold one record.  0, or -1 when out of memory. */
int cdb_pending_push(cdb_pending_batch *b, const unsigned char *canon,
                     size_t clen, const cdb_loc *loc, int is_delete);

/* Apply the held records in order with cdb_apply, then clear.  CASKDB_OK
 * or cdb_apply's error. */
int cdb_pending_apply(caskdb *db, cdb_pending_batch *b);

/* Ask the CPU to start loading the record at loc into its cache, when the
 * record is in a mapping (a hint only: nothing is read or checked). */
void cdb_prefetch_record(const caskdb *db, const cdb_loc *loc);

/* cdb_read_record, with the value cache left out entirely (no lookup, no
 * insert, not counted): for merge, which reads every live record once and
 * would only flush the cache. */
int cdb_read_record_uncached(caskdb *db, const cdb_loc *loc, cdb_rec *r);

/* Map f for reading, `len` bytes (at least its size; the active file gets
 * room to grow), unless the handle was opened with use_mmap off.  Without a
 * mapping, reads use pread. */
void cdb_file_map(const caskdb *db, cdb_file *f, uint64_t len);

/* Drop f's mapping, if any (before its descriptor is closed). */
void cdb_file_unmap(cdb_file *f);

/* Full path of a file in the database directory, in a malloc'd string. */
char *cdb_path_join(const char *dir, const char *name);

/* Load the files of the directory and build the keydir (open.c). */
int cdb_load(caskdb *db);

/* Add a file to the slot table and the order (as the newest file, which
 * becomes the active one).  Returns its slot, or -1 when out of memory. */
int cdb_add_file(caskdb *db, cdb_file *f);

/* Add a file to the slot table only (a merge output not yet published).
 * Returns its slot, or -1 when out of memory. */
int cdb_add_slot(caskdb *db, cdb_file *f);

/* Create data file `id` with its header as the new active file. */
int cdb_create_active(caskdb *db, uint32_t id);

/* ---- the write path (db.c), shared with batch.c -------------------------- */

/* CASKDB_OK if the handle may write, else CASKDB_EREADONLY/EFAILED. */
int cdb_check_writable(caskdb *db);

/* Start a new active file if `size` more bytes do not fit in this one
 * (a non-empty file is never taken past max_file_size). */
int cdb_make_room(caskdb *db, uint64_t size);

/* Write the iovecs (total bytes) at the end of the active file and sync as
 * the mode says.  On failure the file is cut back (or the handle marked
 * failed).  On CASKDB_OK, *off is where the bytes start. */
int cdb_append(caskdb *db, const struct iovec *iov, int iovcnt, uint64_t total,
               uint64_t *off);

/* Cut the active file back to `size` (undo an append). */
void cdb_undo_append(caskdb *db, uint64_t size);

/* The slot of the active file. */
uint32_t cdb_active_slot(const caskdb *db);

/* Point the keydir at loc for the canonical key (or remove the key, for a
 * delete or an expired put), keeping each file's live byte count right.
 * CASKDB_OK or CASKDB_ENOMEM. */
int cdb_apply(caskdb *db, const unsigned char *canon, size_t clen,
              const cdb_loc *loc, int is_delete);

/* Close the active file to writes and start a new one, unless the active
 * file holds no record yet. */
int cdb_rotate(caskdb *db);

/* Drop a merge under way, removing its unpublished outputs (at close). */
void cdb_merge_discard(caskdb *db);

/* Add an operation on a canonical key to a batch (batch.c). */
int cdb_batch_add(caskdb_batch *b, int is_delete, const unsigned char *canon,
                  size_t clen, const void *value, size_t vlen,
                  const caskdb_meta *meta);

/* If the canonical key in db->keybuf holds a list, add deletes of its
 * elements to b and set *is_list (list.c). */
int cdb_list_cleanup(caskdb *db, size_t clen, caskdb_batch *b, int *is_list);

/* Whether a list element (canonical key) belongs to no live list. */
int cdb_list_element_orphaned(caskdb *db, const unsigned char *ek, size_t elen);

/* After a successful write: run the automatic merge if it is on. */
void cdb_after_write(caskdb *db);

/* Remove a key from the keydir, keeping the figures right.  1 if it was
 * there.  Writes nothing. */
int cdb_forget(caskdb *db, const unsigned char *canon, size_t clen);

/* Detach every iterator of db before it is freed: they stay allocated
 * until caskdb_iter_close, and report CASKDB_EINVAL meanwhile (iter.c). */
void cdb_iter_detach_all(caskdb *db);

/* The keydir was replaced (shared mode reloads it): every iterator seeks
 * again after its last key on its next step (iter.c). */
void cdb_iter_reseek_all(caskdb *db);

#endif /* CASKDB_DB_H */

/*
 * caskdb.h -- the public interface of the CaskDB engine.
 *
 * CaskDB is an embedded, persistent key-value store on the Bitcask design:
 * every write is appended to the one active data file of a directory, and an
 * in-memory ordered index (the keydir) maps each live key to the position of
 * its newest record.  A read is one index lookup plus one positioned read.
 * Every record carries a CRC-32C, so a torn or corrupted record is detected
 * and never returned.  The on-disk format is described byte by byte in
 * docs/FORMAT.md.
 *
 * This header is the manual: every function is documented right above its
 * declaration.  The rules that hold everywhere:
 *
 *  - Every function that can fail returns an int: CASKDB_OK (0) on success,
 *    a negative CASKDB_E* code on failure, or a positive code where a
 *    function says so (CASKDB_DONE).  caskdb_strerror() turns a code into a
 *    sentence, caskdb_code_name() into a short stable word ("io", "corrupt").
 *  - After a failure on a handle, caskdb_errmsg() tells the detail (file,
 *    offset, system error) and caskdb_syserr() the errno, if any.
 *  - Memory: CaskDB never keeps a pointer the caller passed in after the call
 *    returns.  Pointers CaskDB hands out (values, keys, messages) belong to
 *    the handle and stay valid only as long as each function says.
 *  - Threads: a handle (and its iterators) may be used by one thread at a
 *    time; different handles are independent.  Lock around a shared handle.
 *  - fork(): a handle must be used by one process only.  A child that wants
 *    the database opens its own handle (after the parent closed its own, if
 *    the parent was the writer, since the writer lock is per directory;
 *    with caskdb_options.shared, parent and child may both keep one).
 *  - Nothing is printed, nothing exits or aborts on bad data.
 *
 * Keys are byte strings (any bytes, zero bytes included, up to
 * CASKDB_MAX_KEY_SIZE) or signed 64-bit integers.  Integer keys sort
 * numerically among themselves and before every byte key; byte keys sort
 * bytewise (memcmp, a shorter prefix first).
 *
 * Values are byte strings of up to CASKDB_MAX_VALUE_SIZE bytes, each with a
 * one-byte type tag, a 32-bit user flags field and an expiry time, all chosen
 * by the caller and given back by caskdb_get() (see caskdb_meta).
 */
#ifndef CASKDB_H
#define CASKDB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CASKDB_VERSION_MAJOR 0
#define CASKDB_VERSION_MINOR 1
#define CASKDB_VERSION_PATCH 0
#define CASKDB_VERSION_STRING "0.1.0"

/* The version of the library actually linked, e.g. "0.1.0". */
const char *caskdb_version(void);

/* ---------------------------------------------------------------------------
 * Return codes
 * ------------------------------------------------------------------------- */
#define CASKDB_OK 0         /* success */
#define CASKDB_DONE 1       /* an iterator has no more pairs */
#define CASKDB_ENOTFOUND -1 /* no such key (or it has expired) */
#define CASKDB_EINVAL -2    /* an argument is invalid (NULL, bad option) */
#define CASKDB_ETOOLARGE -3 /* a key or value is over its size limit */
#define CASKDB_EIO -4       /* an I/O error; see caskdb_errmsg() */
#define CASKDB_ENOSPC -5    /* no space left on the device (or quota) */
#define CASKDB_ECORRUPT -6  /* bad bytes on disk: CRC mismatch, bad length */
#define CASKDB_ELOCKED -7   /* another writer holds the directory */
#define CASKDB_EREADONLY -8 /* a write on a handle opened read-only */
#define CASKDB_ENOMEM -9    /* out of memory */
#define CASKDB_EPERM -10    /* permission denied by the file system */
#define CASKDB_EVERSION -11 /* a file of an unknown format version */
#define CASKDB_ENOENT -12   /* the directory is missing and create is off */
#define CASKDB_EFAILED -13  /* an earlier write failed; reopen the database */
#define CASKDB_ENOTLIST -14 /* a list operation on a key holding a value */

/* A sentence describing a code, e.g. "database is locked by another
 * writer".  Never NULL; the string is static. */
const char *caskdb_strerror(int code);

/* A short, stable, lowercase word for a code: "ok", "done", "notfound",
 * "invalid", "toolarge", "io", "nospace", "corrupt", "locked", "readonly",
 * "nomem", "permission", "version", "noent", "failed", "notlist".  Bindings
 * hand it to programs that branch on the kind of failure.  Never NULL; static.
 */
const char *caskdb_code_name(int code);

/* ---------------------------------------------------------------------------
 * Limits
 * ------------------------------------------------------------------------- */
#define CASKDB_MAX_KEY_SIZE 65536u                  /* bytes in a byte key */
#define CASKDB_MAX_VALUE_SIZE (1024u * 1024 * 1024) /* 1 GiB */
#define CASKDB_MIN_FILE_SIZE 4096u                  /* smallest max_file_size */
#define CASKDB_MAX_FILE_SIZE (1024u * 1024 * 1024)  /* largest max_file_size */

/* ---------------------------------------------------------------------------
 * Keys
 * ------------------------------------------------------------------------- */

/* A key: either bytes (is_int == 0: data, len) or a signed 64-bit integer
 * (is_int == 1: num).  Build one with caskdb_key_bytes() or caskdb_key_int().
 * The bytes are read during the call only. */
typedef struct caskdb_key {
  const void *data;
  size_t len;
  int64_t num;
  int is_int;
} caskdb_key;

static inline caskdb_key caskdb_key_bytes(const void *data, size_t len) {
  caskdb_key k;
  k.data = data;
  k.len = len;
  k.num = 0;
  k.is_int = 0;
  return k;
}

static inline caskdb_key caskdb_key_int(int64_t num) {
  caskdb_key k;
  k.data = NULL;
  k.len = 0;
  k.num = num;
  k.is_int = 1;
  return k;
}

/* ---------------------------------------------------------------------------
 * What is stored beside each value
 * ------------------------------------------------------------------------- */

/* Value type tags 0..127 are reserved by CaskDB and its bindings (docs/
 * FORMAT.md lists the ones in use); 128..255 are free for applications.
 * The engine stores the tag and gives it back; it never interprets it. */
#define CASKDB_TYPE_BYTES 0
#define CASKDB_TYPE_LIST 5 /* a list header (caskdb_list_*); refused by put */

typedef struct caskdb_meta {
  uint8_t type;    /* value type tag (see above); 0 = plain bytes */
  uint32_t flags;  /* free for the user; stored and given back */
  uint64_t expiry; /* absolute expiry, milliseconds since the Unix epoch;
                      0 = never.  A key whose expiry is <= now is gone. */
} caskdb_meta;

/* ---------------------------------------------------------------------------
 * Opening and closing
 * ------------------------------------------------------------------------- */

/* An open database.  Opaque. */
typedef struct caskdb caskdb;

/* Sync modes (caskdb_options.sync).
 *
 * CASKDB_SYNC_NONE: each write reaches the OS (one write(2)) before the call
 * returns; it survives a crash of the process, not a power cut.
 *
 * CASKDB_SYNC_ALWAYS: fdatasync(2) before each write returns; it survives a
 * power cut.
 *
 * CASKDB_SYNC_INTERVAL: at most sync_interval_ms of acknowledged writes are
 * at risk at a power cut.  A write that comes sync_interval_ms or more after
 * the last sync syncs at once; and a background thread of the handle syncs
 * writes that are still pending one interval later, so a burst of writes
 * followed by silence reaches the disk within the interval.  If that
 * background sync fails, the handle's next write returns CASKDB_EFAILED.
 * After fork() the thread exists only in the parent. */
#define CASKDB_SYNC_NONE 0
#define CASKDB_SYNC_ALWAYS 1
#define CASKDB_SYNC_INTERVAL 2

/* A clock giving milliseconds since the Unix epoch; used for record
 * timestamps and expiry.  Tests inject their own. */
typedef uint64_t (*caskdb_clock_fn)(void *ctx);

typedef struct caskdb_options {
  int create;                /* create the directory if missing (default 1) */
  int readonly;              /* open for reading only (default 0) */
  int salvage;               /* skip corrupt records instead of failing the
                                open; they are counted in stats (default 0) */
  int sync;                  /* CASKDB_SYNC_* (default CASKDB_SYNC_NONE) */
  uint32_t sync_interval_ms; /* for CASKDB_SYNC_INTERVAL (default 1000) */
  uint64_t max_file_size;    /* the active file is closed and a new one
                                started before a write would take it past
                                this size (default 64 MiB; from
                                CASKDB_MIN_FILE_SIZE to CASKDB_MAX_FILE_SIZE) */
  caskdb_clock_fn clock;     /* NULL: the system clock (CLOCK_REALTIME) */
  void *clock_ctx;           /* passed to clock */

  /* Automatic merge (see caskdb_merge_needed).  Off by default.  When on,
   * each write that finds the triggers met, or a merge under way, also does
   * one caskdb_merge_step of auto_merge_step_bytes. */
  int auto_merge;
  double merge_trigger_dead_ratio;   /* default 0.6 */
  uint64_t merge_trigger_dead_bytes; /* default 512 MiB */
  uint64_t auto_merge_step_bytes;    /* default 1 MiB */

  /* Reading.  With use_mmap on (the default) every data file is mapped
   * read-only and a read copies the record out of the mapping: no system
   * call, and the kernel's page cache is the only cache.  With it off no
   * file is mapped and every read is one pread(2): for 32-bit processes,
   * databases larger than the address space, or to keep the process's
   * mapped memory small.  The value cache below is for that mode. */
  int use_mmap;

  /* The value cache: recently read records kept in the handle's memory, up
   * to cache_size bytes (every byte counted: records, per-entry overhead and
   * the hash table).  0 (the default) means no cache.  A record larger than
   * cache_size / 8 is never cached.  It saves the pread(2) of a read with
   * use_mmap off; with use_mmap on it saves nothing (a read from the
   * mapping was faster than a hit in the cache, docs/BENCHMARKS.md), so
   * leave it at 0 then, unless the data does not stay in the page cache.
   * Written, overwritten and deleted values are never served stale: the
   * cache is keyed by a record's place on disk, which a write never reuses.
   * cache_policy chooses which record leaves when the cache is full:
   * CASKDB_CACHE_SIEVE (the default: a better hit ratio than LRU on skewed
   * workloads and under scans, docs/BENCHMARKS.md) or CASKDB_CACHE_LRU. */
  uint64_t cache_size;
  int cache_policy;

  /* Shared mode (default 0): several processes open the directory at once
   * and every one reads and writes (docs/MULTIPROCESS.md).  See
   * caskdb_open.  Not with readonly (CASKDB_EINVAL). */
  int shared;
} caskdb_options;

/* Cache policies (caskdb_options.cache_policy). */
#define CASKDB_CACHE_LRU 1   /* least recently used */
#define CASKDB_CACHE_SIEVE 2 /* SIEVE (Zhang et al., NSDI 2024) */

/* Fill *opts with the defaults above.  Always do this before setting
 * fields, so that fields added in later versions get their defaults. */
void caskdb_options_init(caskdb_options *opts);

/* Open the database in directory `path` (created, with its parents' existence
 * required, when opts->create is set and it is missing).  opts may be NULL
 * for the defaults.
 *
 * Opening takes the directory's writer lock (an flock(2) on the file LOCK in
 * it), unless opts->readonly is set: a read-only handle takes no lock, may be
 * open beside a writer, and sees the data as of its own open.
 *
 * Opening reads every data file, oldest first, checking every record's CRC,
 * to rebuild the keydir.  A torn tail of the newest data file (a partial
 * last record, or a last record whose CRC fails: what a crash during a write
 * leaves) is cut off (a read-only handle just ignores it), and the number of
 * bytes dropped is reported by caskdb_get_stats() as truncated_bytes.  A bad
 * record anywhere else makes the open fail with CASKDB_ECORRUPT and a message
 * naming the file and offset, unless opts->salvage is set.
 *
 * With opts->shared, any number of processes (and handles) open the
 * directory at once, each reading and writing: the writer lock is held
 * shared for the handle's life (so an exclusive open fails with
 * CASKDB_ELOCKED while shared handles exist, and a shared open while an
 * exclusive writer is open), each write holds a cross-process lock (the
 * flock of the file SHARED) for its duration only, and before every call a
 * handle applies what other handles wrote since its last call (one atomic
 * load when nothing changed), so every write acknowledged to any process
 * before a call began is seen by that call.  The first shared opener
 * recovers the directory as an exclusive writer does; later ones load the
 * state the others published, without cutting anything.  Only one handle
 * merges at a time, from the first step of its merge to the last:
 * caskdb_merge and caskdb_merge_step return CASKDB_ELOCKED while another
 * handle has a merge under way (an automatic merge step just skips).  The files
 * SHARED and MERGE are created beside LOCK.  Same machine only (flock, shared
 * memory). A shared handle inherited across fork() refuses writes, as any
 * handle, and no longer sees other processes' writes.
 *
 * On success returns CASKDB_OK and stores the handle in *dbp.  On failure
 * stores NULL in *dbp, returns one of CASKDB_EINVAL, CASKDB_ENOENT,
 * CASKDB_ELOCKED, CASKDB_ECORRUPT, CASKDB_EVERSION, CASKDB_EIO, CASKDB_EPERM,
 * CASKDB_ENOSPC, CASKDB_ENOMEM, and, if errbuf is not NULL, writes a
 * NUL-terminated message of at most errbuf_size bytes into it. */
int caskdb_open(const char *path, const caskdb_options *opts, caskdb **dbp,
                char *errbuf, size_t errbuf_size);

/* Flush (fdatasync) the active file unless the handle is read-only, release
 * the lock and free the handle and everything it handed out.  Iterators of
 * the handle must be closed first.  db may be NULL (then it does nothing).
 * Returns CASKDB_OK, or CASKDB_EIO if the final flush failed (the handle is
 * freed all the same). */
int caskdb_close(caskdb *db);

/* The detail of the last failure on this handle: a NUL-terminated message
 * naming the file, offset and system error where there is one.  Owned by
 * the handle, valid until its next call.  "" when nothing failed. */
const char *caskdb_errmsg(const caskdb *db);

/* The errno of the last failed system call on this handle, or 0. */
int caskdb_syserr(const caskdb *db);

/* ---------------------------------------------------------------------------
 * Reading and writing
 * ------------------------------------------------------------------------- */

/* Store `value` (vlen bytes) under `key`, replacing any value it had.  meta
 * may be NULL (type 0, flags 0, no expiry).  The record reaches the OS with
 * one write(2) before the call returns (and the disk too, by sync mode).
 *
 * Returns CASKDB_OK; CASKDB_ETOOLARGE for a key or value over its limit;
 * CASKDB_EINVAL for a NULL argument; CASKDB_EREADONLY; CASKDB_EIO,
 * CASKDB_ENOSPC (nothing was stored; the file is cut back to its last good
 * record); CASKDB_EFAILED if an earlier write failed and the file could not
 * be cut back: the handle then refuses every write, and a reopen holds every
 * acknowledged write. */
int caskdb_put(caskdb *db, caskdb_key key, const void *value, size_t vlen,
               const caskdb_meta *meta);

/* Find `key`.  On CASKDB_OK, *value and *vlen give its bytes and *meta (if
 * meta is not NULL) what was stored beside them.  The bytes belong to the
 * handle and stay valid until the next call on the handle (any call but
 * caskdb_errmsg and caskdb_syserr); copy them to keep them.  They are
 * followed by a NUL byte not counted in vlen, for convenience.
 *
 * Returns CASKDB_OK; CASKDB_ENOTFOUND if the key is missing, deleted or
 * expired; CASKDB_ECORRUPT if its record fails its CRC (the bad bytes are
 * never returned); CASKDB_EIO; CASKDB_ETOOLARGE; CASKDB_EINVAL. */
int caskdb_get(caskdb *db, caskdb_key key, const void **value, size_t *vlen,
               caskdb_meta *meta);

/* Delete `key` by appending a tombstone.  Returns CASKDB_OK if the key
 * existed, CASKDB_ENOTFOUND if it did not (nothing is written then), or the
 * write errors of caskdb_put(). */
int caskdb_delete(caskdb *db, caskdb_key key);

/* CASKDB_OK if `key` holds a live value, CASKDB_ENOTFOUND if not (missing,
 * deleted or expired); CASKDB_EINVAL, CASKDB_ETOOLARGE.  Reads no disk. */
int caskdb_exists(caskdb *db, caskdb_key key);

/* The number of live keys: keys whose expiry has passed are not counted.
 * O(1) while no key has an expiry; otherwise a walk of the keydir. */
uint64_t caskdb_count(const caskdb *db);

/* Make every write so far durable: fdatasync(2) the active file (and the
 * directory, after a new file was created).  CASKDB_OK, CASKDB_EIO,
 * CASKDB_EFAILED. */
int caskdb_sync(caskdb *db);

/* ---------------------------------------------------------------------------
 * Atomic batches
 * ------------------------------------------------------------------------- */

/* A list of puts and deletes applied all together or not at all.  Opaque.
 * A batch belongs to no handle until it is committed; it copies every key
 * and value given to it, so the caller's buffers may be reused at once. */
typedef struct caskdb_batch caskdb_batch;

/* A new, empty batch in *bp.  CASKDB_OK, CASKDB_EINVAL, CASKDB_ENOMEM. */
int caskdb_batch_new(caskdb_batch **bp);

/* Add a put to the batch (copies key and value).  CASKDB_OK,
 * CASKDB_ETOOLARGE (key, value, or the batch over CASKDB_MAX_BATCH_SIZE),
 * CASKDB_EINVAL, CASKDB_ENOMEM.  A failed add leaves the batch as it was. */
int caskdb_batch_put(caskdb_batch *b, caskdb_key key, const void *value,
                     size_t vlen, const caskdb_meta *meta);

/* Add a delete to the batch.  Deleting a key that does not exist when the
 * batch is committed is not an error.  Codes as caskdb_batch_put. */
int caskdb_batch_delete(caskdb_batch *b, caskdb_key key);

/* The number of operations in the batch. */
size_t caskdb_batch_count(const caskdb_batch *b);

/* Empty the batch, keeping its memory for reuse. */
void caskdb_batch_clear(caskdb_batch *b);

/* Free a batch.  NULL is allowed. */
void caskdb_batch_free(caskdb_batch *b);

/* The most bytes one batch may take on disk. */
#define CASKDB_MAX_BATCH_SIZE (2048u * 1024 * 1024)

/* Apply the batch to the database: its records are written with one
 * write(2) and synced (by the sync mode) once, framed so that after a crash
 * at any moment the database holds either every operation of the batch or
 * none (docs/FORMAT.md, "Batches").  Operations apply in the order added; a
 * later one on the same key wins.  The batch is left unchanged (clear or
 * free it).  An empty batch writes nothing.
 *
 * Returns CASKDB_OK; the write errors of caskdb_put() (nothing of the batch
 * applied); CASKDB_ENOMEM if memory ran out while updating the keydir after
 * the batch was written: the handle is then marked failed, as the batch is
 * on disk, and a reopen shows all of it. */
int caskdb_batch_commit(caskdb *db, caskdb_batch *b);

/* ---------------------------------------------------------------------------
 * Lists
 * ------------------------------------------------------------------------- */

/* A key may hold a list of values instead of one value: push and pop at
 * either end, each one append to the data file however long the list
 * (docs/FORMAT.md, "Lists").  caskdb_get on a list key gives its header
 * (type CASKDB_TYPE_LIST); putting a value over it or deleting it deletes
 * the whole list.  A list with no element left does not exist. */

/* Push a value at the head (left != 0) or the tail of the list at `key`,
 * creating the list if the key is missing.  meta's type and flags are kept
 * with the element (its expiry is ignored; the key's expiry applies to the
 * whole list and is kept).  *len (if not NULL) receives the new length.
 * Returns CASKDB_OK, CASKDB_ENOTLIST if the key holds another value, or the
 * codes of caskdb_put(). */
int caskdb_list_push(caskdb *db, caskdb_key key, int left, const void *value,
                     size_t vlen, const caskdb_meta *meta, uint64_t *len);

/* Pop the value at the head (left != 0) or the tail of the list.  On
 * CASKDB_OK *value and *vlen give it (owned by the handle, valid until the
 * next call on it) and *meta (if not NULL) its type and flags.  Returns
 * CASKDB_ENOTFOUND for a missing list, CASKDB_ENOTLIST, or the codes of
 * caskdb_put(). */
int caskdb_list_pop(caskdb *db, caskdb_key key, int left, const void **value,
                    size_t *vlen, caskdb_meta *meta);

/* The length of the list at `key` in *len: 0 for a missing key.  CASKDB_OK,
 * CASKDB_ENOTLIST, CASKDB_ECORRUPT, CASKDB_EIO. */
int caskdb_list_len(caskdb *db, caskdb_key key, uint64_t *len);

/* ---------------------------------------------------------------------------
 * Merge (compaction)
 * ------------------------------------------------------------------------- */

/* Rewrite the database's files keeping only live records, so that disk use
 * falls to the live data plus file headers, and write hint files for the
 * output so that the next open is fast.  The active file is first closed to
 * writes (a new one is started) so that every record written so far takes
 * part.  Blocks until the merge is complete; a merge already under way
 * (caskdb_merge_step) is finished first.
 *
 * Crash-safe at every moment: outputs are written under temporary names,
 * fsynced and renamed before any input is deleted (docs/FORMAT.md,
 * "Merge").  Returns CASKDB_OK; CASKDB_EREADONLY; CASKDB_EIO, CASKDB_ENOSPC,
 * CASKDB_ENOMEM (the database is still whole: the outputs written so far
 * are published beside the inputs, or, if even that fails, the handle stops
 * taking writes and a reopen holds every acknowledged write). */
int caskdb_merge(caskdb *db);

/* Do a slice of merge work: copy about max_bytes of live records (at least
 * one), or delete one merged file, then return, so that an event loop or a
 * game frame never stalls for a whole merge.  What each step has written is
 * synced before it returns.  The longest step is usually the deletion of
 * one input file (the kernel frees its blocks and cached pages: about
 * 100 ms for a 64 MiB file on the test machine; a smaller max_file_size
 * makes it shorter).  Starts a merge of every file but the
 * active one when none is under way (without closing the active file).
 * *more (if not NULL) is set to 1 while work remains.  Between steps the
 * handle may be used as usual; writes go to the active file.  Codes as
 * caskdb_merge(). */
int caskdb_merge_step(caskdb *db, uint64_t max_bytes, int *more);

/* 1 if a merge would pay off by the handle's triggers (modelled on Riak's
 * Bitcask): over the files that a merge would take (every file but the
 * active one), dead bytes make up merge_trigger_dead_ratio or more of their
 * bytes, or amount to merge_trigger_dead_bytes or more.  0 otherwise. */
int caskdb_merge_needed(caskdb *db);

/* ---------------------------------------------------------------------------
 * Backup
 * ------------------------------------------------------------------------- */

/* Make a consistent copy of the database in directory `dest`, which must
 * not exist (its parent must).  Immutable data files and their hints are
 * hard-linked (copied where the file system refuses), the active file is
 * copied up to its current end, and everything is synced.  The copy opens
 * as a database holding exactly the writes acknowledged before the call
 * (never half of a batch); open it, or copy it back, to restore.  The
 * handle may go on being used as soon as the call returns; with a read-only
 * handle the copy is the database as of that handle's open.
 *
 * Hard links share the files' blocks with the source: both only ever
 * append to their newest file and delete whole files, so neither changes
 * the other.
 *
 * Returns CASKDB_OK; CASKDB_EINVAL (dest exists); CASKDB_EIO, CASKDB_ENOSPC,
 * CASKDB_EPERM (the partial copy is left for the caller to remove). */
int caskdb_backup(caskdb *db, const char *dest);

/* ---------------------------------------------------------------------------
 * Iteration in key order
 * ------------------------------------------------------------------------- */

/* An ordered cursor over the keys of a handle.  Opaque. */
typedef struct caskdb_iter caskdb_iter;

/* What an iterator covers.  Zero it (or use NULL) for every key. */
typedef struct caskdb_range {
  const caskdb_key *from; /* first key, inclusive; NULL: from the start */
  const caskdb_key *to;   /* end key, exclusive; NULL: to the end */
  const void *prefix;     /* only byte keys starting with these bytes */
  size_t prefix_len;      /* (prefix != NULL: integer keys never match) */
  int keys_only;          /* do not read values (caskdb_iter_next gives
                             value NULL, vlen 0; meta gives the expiry) */
} caskdb_range;

/* Open an iterator over `range` (NULL: every key), positioned before its
 * first key.  Returns CASKDB_OK and stores it in *itp, or CASKDB_EINVAL,
 * CASKDB_ETOOLARGE, CASKDB_ENOMEM.
 *
 * Iterating while the database changes is safe: the iterator remembers the
 * last key it gave and always moves to the smallest live key greater than
 * it.  So every key that stays live during the iteration is given exactly
 * once, in order; a key written or deleted during it is given or not
 * according to whether it is live and beyond the cursor when reached; no
 * key is given twice and the iteration always ends. */
int caskdb_iter_open(caskdb *db, const caskdb_range *range, caskdb_iter **itp);

/* Move to the next key in the range and read it.  On CASKDB_OK, *key (its
 * data points into memory of the iterator) and, unless keys_only, *value,
 * *vlen, *meta describe the pair; all stay valid until the next call on the
 * iterator or its handle.  Any of value, vlen, meta may be NULL.  Expired
 * keys are skipped.  Returns CASKDB_DONE after the last key, or
 * CASKDB_ECORRUPT, CASKDB_EIO (the iterator has then moved past the bad
 * key; calling again goes on with the next one). */
int caskdb_iter_next(caskdb_iter *it, caskdb_key *key, const void **value,
                     size_t *vlen, caskdb_meta *meta);

/* Position the iterator so that the next caskdb_iter_next() gives the first
 * key >= `key` (and within the range).  CASKDB_OK, CASKDB_ETOOLARGE. */
int caskdb_iter_seek(caskdb_iter *it, caskdb_key key);

/* Free an iterator.  NULL is allowed. */
void caskdb_iter_close(caskdb_iter *it);

/* ---------------------------------------------------------------------------
 * Figures
 * ------------------------------------------------------------------------- */

typedef struct caskdb_stats {
  uint64_t keys;            /* keys in the keydir */
  uint64_t data_files;      /* data files, the active one included */
  uint64_t disk_bytes;      /* bytes of all data files */
  uint64_t live_bytes;      /* bytes of records the keydir points to */
  uint64_t dead_bytes;      /* bytes of overwritten/deleted records, of
                               tombstones, and of file headers */
  uint64_t truncated_bytes; /* bytes of torn tail cut off at open */
  uint64_t corrupt_records; /* records skipped at open (salvage) */
  uint64_t keydir_bytes;    /* heap memory used by the keydir */
  uint64_t active_file_id;  /* id of the file taking writes */
  /* The value cache (caskdb_options.cache_size); all 0 without one.  Reads
   * of caskdb_get, iterators and lists count; merge's reads do not. */
  uint64_t cache_hits;    /* reads answered from the cache */
  uint64_t cache_misses;  /* reads that went to the file */
  uint64_t cache_bytes;   /* memory the cache uses (<= cache_size) */
  uint64_t cache_entries; /* records in the cache */
} caskdb_stats;

/* Fill *st.  Always CASKDB_OK for a valid handle (CASKDB_EINVAL for NULL). */
int caskdb_get_stats(caskdb *db, caskdb_stats *st);

/* Figures of one data file. */
typedef struct caskdb_file_stats {
  uint32_t id;         /* the file's id (its name) */
  uint32_t part;       /* 0, or the part number of a merge output */
  uint64_t bytes;      /* size */
  uint64_t live_bytes; /* bytes of records the keydir points to */
  uint64_t dead_bytes; /* the rest: overwritten, deleted, tombstones,
                          batch ends, the header */
  int active;          /* 1 for the file taking writes */
} caskdb_file_stats;

/* Fill out[0 .. n-1] with the figures of the data files, oldest first, and
 * return how many files there are (which may be more than n: call again
 * with a larger array).  0 for NULL. */
size_t caskdb_get_file_stats(caskdb *db, caskdb_file_stats *out, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* CASKDB_H */

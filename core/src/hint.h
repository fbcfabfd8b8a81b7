/*
 * hint.h -- hint files: the keys of a data file and where their records
 * are, without the values, so that opening a database reads a few bytes
 * per key instead of every value.
 *
 * A hint file "NNNNNNNNNN[_PPPPPPPPPP].hint" sits beside its data file of
 * the same name.  It is a 24-byte file header (kind 2) followed by hint
 * records, the last of which is an end record naming the size of the data
 * file it describes.  A hint is derived data: a missing, short, corrupt or
 * stale hint (end record missing, or data size not matching) is ignored and
 * the data file is read instead.  docs/FORMAT.md, "Hint files".
 *
 *   0   u32  crc32c of bytes 4 .. end of the hint record
 *   4   u64  timestamp of the data record
 *   12  u64  expiry of the data record
 *   20  u32  offset of the data record in the data file
 *   24  u32  size of the data record
 *   28  u8   hint type: 1 put, 2 delete, 3 end
 *   29  u8   key kind (as in data records)
 *   30  u8   value type tag of the data record (0 for a delete)
 *   31  u8   reserved, 0
 *   32  u32  key length
 *   36       key bytes
 *
 * The end record has no key; its offset field holds the data file's size
 * and its size field the number of hint records before it.
 *
 * Order.  The writers here put hint records in increasing order of
 * canonical key (key.h), at most one per key: merge writes its output in key
 * order anyway, and the hint of a file that becomes immutable is sorted
 * (keeping each key's last record in the file) unless its keys would take
 * too much memory to sort.  A hint that is sound and strictly increasing can
 * be loaded together with its neighbours in one key-ordered pass
 * (hintrun.c); any other sound hint is applied record by record in its own
 * order, which for an unsorted hint is the data file's order.
 */
#ifndef CASKDB_HINT_H
#define CASKDB_HINT_H

#include "datafile.h"
#include "db.h"

#include <stdint.h>

#define CDB_HINT_HEADER_SIZE 36
#define CDB_HINT_PUT 1
#define CDB_HINT_DELETE 2
#define CDB_HINT_END 3

typedef struct cdb_hint_writer {
  int fd;
  char *tmp_path;   /* where it is written */
  char *final_path; /* where cdb_hint_writer_finish renames it */
  unsigned char *buf;
  size_t len, cap;
  uint64_t written; /* bytes already in the file */
  uint32_t count;   /* hint records so far */
} cdb_hint_writer;

/* Start the hint of data file (id, part) under a temporary name.
 * CASKDB_OK or an error code (errno-based). */
int cdb_hint_writer_open(cdb_hint_writer *w, const char *dir, uint32_t id,
                         uint32_t part);

/* Add the hint of one data record at `offset`. */
int cdb_hint_writer_add(cdb_hint_writer *w, const cdb_rec *r, uint64_t offset);

/* Write the end record, flush, and publish the hint under its final name.
 * The writer is closed whatever the outcome. */
int cdb_hint_writer_finish(cdb_hint_writer *w, uint64_t data_size);

/* Write out the buffer and fdatasync what is written so far (so that the
 * sync at finish has little left to do).  CASKDB_OK or an error code. */
int cdb_hint_writer_sync(cdb_hint_writer *w);

/* Close the writer and remove its temporary file. */
void cdb_hint_writer_abort(cdb_hint_writer *w);

/* Write the hint of immutable data file f by reading it.  A failure is
 * harmless (the data file is read instead at the next open). */
int cdb_hint_write_for(caskdb *db, const cdb_file *f);

/* Remove the hint of f, if any. */
void cdb_hint_remove(caskdb *db, const cdb_file *f);

/* Reading a hint record by record, checking as it goes. */
typedef struct cdb_hint_cursor {
  int fd;
  cdb_scanner sc;
  uint64_t off;       /* of the next hint record */
  uint64_t data_size; /* of the data file it describes */
  uint32_t count;     /* hint records read so far, not the end */
  /* The current hint record (after cdb_hint_cursor_next gave 1).  r.key
   * points into the scanner: valid until the next call. */
  cdb_rec r; /* key_kind, key, klen, value_type, timestamp, expiry */
  uint32_t offset, size;
  uint8_t type; /* CDB_HINT_PUT or CDB_HINT_DELETE */
} cdb_hint_cursor;

/* Open the hint of f, whose data file is data_size bytes, reading it through
 * a window of `window` bytes.  CASKDB_OK; CASKDB_ENOTFOUND when it is
 * missing or its header is not f's; CASKDB_ENOMEM. */
int cdb_hint_cursor_open(caskdb *db, const cdb_file *f, uint64_t data_size,
                         size_t window, cdb_hint_cursor *c);

/* Step to the next hint record: 1 when there is one; 0 at a sound end
 * record (the hint is whole: every record checked, the count and data size
 * right, nothing after it); -1 when the hint is not sound. */
int cdb_hint_cursor_next(cdb_hint_cursor *c);

/* The keydir location of the current hint record, for data file `slot`. */
void cdb_hint_cursor_loc(const cdb_hint_cursor *c, uint32_t slot, cdb_loc *loc);

void cdb_hint_cursor_close(cdb_hint_cursor *c);

/* Apply the hint of f (in slot `slot`, data size `data_size`) to the
 * keydir.  CASKDB_OK if the hint was sound and used; CASKDB_ENOTFOUND if it
 * is missing or unusable (nothing applied from it but records it had
 * already verified, which reading the data file applies again to the same
 * effect); CASKDB_ENOMEM. */
int cdb_hint_load(caskdb *db, cdb_file *f, uint32_t slot, uint64_t data_size);

/* ---- loading several sorted hints in one pass (hintrun.c) ---------------
 *
 * A run is a sequence of consecutive immutable files (oldest first), each
 * with a hint whose header is right.  Loading it merges their hints by key:
 * for each key only the record of the newest file of the run counts, as if
 * the files had been applied one after the other, and keys reach the
 * keydir in increasing order (its cheap path).  This needs every hint to be
 * sound and strictly increasing, which is checked as it is read; when one
 * is not, loading stops and the caller applies the files of the run one by
 * one instead (hint.h's cdb_hint_load, or the data file).  That is always
 * right, even after a partial load: applying a file sets or removes each
 * of its keys, so once every file of the run is applied in order, each key
 * they hold is as its newest record says, whatever the run did to it. */
typedef struct cdb_hint_source cdb_hint_source;

typedef struct cdb_hint_run {
  cdb_hint_source **src; /* oldest first */
  size_t n, cap;
} cdb_hint_run;

/* Add f (in `slot`) as the newest file of the run.  CASKDB_OK;
 * CASKDB_ENOTFOUND when f has no hint or its header is wrong (f was not
 * added); CASKDB_ENOMEM. */
int cdb_hint_run_add(caskdb *db, cdb_hint_run *run, cdb_file *f, uint32_t slot);

/* The files of the run, oldest first: run->n of them. */
cdb_file *cdb_hint_run_file(const cdb_hint_run *run, size_t i);
uint32_t cdb_hint_run_slot(const cdb_hint_run *run, size_t i);

/* Apply the run to the keydir.  CASKDB_OK; CASKDB_ENOTFOUND when a hint
 * turned out unsound or unsorted (the caller then applies every file of the
 * run one by one); CASKDB_ENOMEM (with a message).  Either way the run is
 * left to cdb_hint_run_clear. */
int cdb_hint_run_load(caskdb *db, cdb_hint_run *run);

/* Close the run's hints and empty it (its files stay the db's). */
void cdb_hint_run_clear(cdb_hint_run *run);

/* Clear and free the run's memory. */
void cdb_hint_run_free(cdb_hint_run *run);

#endif /* CASKDB_HINT_H */

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
 */
#ifndef CASKDB_HINT_H
#define CASKDB_HINT_H

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

/* Apply the hint of f (in slot `slot`, data size `data_size`) to the
 * keydir.  CASKDB_OK if the hint was sound and used; CASKDB_ENOTFOUND if it
 * is missing or unusable (nothing applied from it but records it had
 * already verified, which reading the data file applies again to the same
 * effect); CASKDB_ENOMEM. */
int cdb_hint_load(caskdb *db, cdb_file *f, uint32_t slot, uint64_t data_size);

#endif /* CASKDB_HINT_H */

/*
 * datafile.h -- data files: names, creation, and reading them record by
 * record.
 *
 * A data file is a file header followed by records (record.h).  Its name is
 * its id in ten decimal digits and ".cask" (0000000001.cask), so that names
 * sort in creation order.
 */
#ifndef CASKDB_DATAFILE_H
#define CASKDB_DATAFILE_H

#include "record.h"

#include <stddef.h>
#include <stdint.h>

#define CDB_DATA_SUFFIX ".cask"
#define CDB_HINT_SUFFIX ".hint"
#define CDB_TMP_SUFFIX ".tmp"
#define CDB_FILE_NAME_MAX 40

/* Write the name of file (id, part) with `suffix` into name
 * (CDB_FILE_NAME_MAX bytes): "0000000007.cask" for part 0,
 * "0000000007_0000000002.cask" for part 2.  Names sort as (id, part). */
void cdb_file_name(char *name, uint32_t id, uint32_t part, const char *suffix);

/* If `name` is a file name with `suffix` as above, store its id and part and
 * return 1; else 0. */
int cdb_parse_file_name(const char *name, const char *suffix, uint32_t *id,
                        uint32_t *part);

/* ---- reading a file record by record ---------------------------------------
 *
 * A scanner reads a file front to back through a buffer, so that opening a
 * database costs a few large reads instead of one read per record.  It
 * decides for each position whether a whole valid record starts there.
 */

typedef struct cdb_scanner {
  int fd;
  uint64_t file_size;
  unsigned char *buf;
  size_t cap;             /* bytes allocated in buf */
  uint64_t buf_at;        /* file offset of buf[0] */
  size_t buf_len;         /* valid bytes in buf */
  int err;                /* errno of a failed read */
  unsigned char *keycopy; /* key of the last streamed record */
} cdb_scanner;

/* What cdb_scan_record found at an offset. */
#define CDB_SCAN_OK 0    /* a whole record with a good CRC */
#define CDB_SCAN_END 1   /* the offset is the end of the file */
#define CDB_SCAN_SHORT 2 /* the file ends inside the record */
#define CDB_SCAN_BAD 3   /* bad header or CRC mismatch */
#define CDB_SCAN_IOERR 4 /* a read failed (scanner->err) */
#define CDB_SCAN_NOMEM 5

/* Start scanning an open file of `file_size` bytes.  0 or -1 (no memory). */
int cdb_scanner_init(cdb_scanner *s, int fd, uint64_t file_size);

/* The same with a window of `window` bytes instead of the default 1 MiB
 * (for many files read side by side; it still grows for a longer record). */
int cdb_scanner_init_window(cdb_scanner *s, int fd, uint64_t file_size,
                            size_t window);
void cdb_scanner_free(cdb_scanner *s);

/* Look at the record at `off`.  On CDB_SCAN_OK, *r describes it: r->key
 * points into the scanner's buffer (valid until the next call), r->value is
 * NULL unless the whole record fit in the buffer (large values are checked
 * by streaming their CRC, never held whole). */
int cdb_scan_record(cdb_scanner *s, uint64_t off, cdb_rec *r);

/* Make file bytes [off, off + n) available and return a pointer to them,
 * or NULL (read error or the file is too short; s->err says which).  Valid
 * until the next call on the scanner.  n <= what is left of the file. */
const unsigned char *cdb_scan_bytes(cdb_scanner *s, uint64_t off, size_t n);

/* Find the first offset > off where a whole valid record starts; for salvage
 * after a bad record.  Returns that offset, or the file size if none. */
uint64_t cdb_scan_resync(cdb_scanner *s, uint64_t off);

#endif /* CASKDB_DATAFILE_H */

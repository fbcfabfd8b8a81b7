/*
 * datafile.c -- data file names and the buffered record scanner.
 *
 * The scanner keeps a window of the file in memory (buf covers file bytes
 * buf_at .. buf_at + buf_len) and slides it forward as records are
 * consumed.  A record that is larger than STREAM_THRESHOLD is never held
 * whole: its header and key are read into the window, and its CRC is
 * finished by streaming the value through the window in chunks.
 *
 * Every length read from the file is checked against the file size before
 * it is used, so a bad length can never make us read or allocate wildly.
 */
#include "datafile.h"

#include "crc32c.h"
#include "os.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW_SIZE (1024 * 1024)
#define STREAM_THRESHOLD (8 * 1024 * 1024)

void cdb_file_name(char *name, uint32_t id, uint32_t part, const char *suffix) {
  if (part == 0)
    snprintf(name, CDB_FILE_NAME_MAX, "%010u%s", (unsigned)id, suffix);
  else
    snprintf(name, CDB_FILE_NAME_MAX, "%010u_%010u%s", (unsigned)id,
             (unsigned)part, suffix);
}

/* Parse ten decimal digits at p into *v; 1 if they fit in 32 bits. */
static int parse_ten_digits(const char *p, uint32_t *v) {
  uint64_t n = 0;
  int i;
  for (i = 0; i < 10; i++) {
    if (p[i] < '0' || p[i] > '9')
      return 0;
    n = n * 10 + (uint64_t)(p[i] - '0');
  }
  if (n > UINT32_MAX)
    return 0;
  *v = (uint32_t)n;
  return 1;
}

int cdb_parse_file_name(const char *name, const char *suffix, uint32_t *id,
                        uint32_t *part) {
  if (!parse_ten_digits(name, id))
    return 0;
  *part = 0;
  if (name[10] == '_') {
    if (!parse_ten_digits(name + 11, part) || *part == 0)
      return 0;
    name += 11;
  }
  return strcmp(name + 10, suffix) == 0;
}

int cdb_scanner_init(cdb_scanner *s, int fd, uint64_t file_size) {
  return cdb_scanner_init_window(s, fd, file_size, WINDOW_SIZE);
}

int cdb_scanner_init_window(cdb_scanner *s, int fd, uint64_t file_size,
                            size_t window) {
  memset(s, 0, sizeof *s);
  s->fd = fd;
  s->file_size = file_size;
  s->cap = window;
  s->buf = malloc(s->cap);
  return s->buf ? 0 : -1;
}

void cdb_scanner_free(cdb_scanner *s) {
  free(s->buf);
  free(s->keycopy);
  s->buf = NULL;
  s->keycopy = NULL;
}

/* Make the window hold file bytes [off, off + n), n <= what is left of the
 * file.  Returns CDB_SCAN_OK, CDB_SCAN_IOERR or CDB_SCAN_NOMEM. */
static int window_fill(cdb_scanner *s, uint64_t off, size_t n) {
  size_t want;
  ssize_t got;
  if (off >= s->buf_at && off + n <= s->buf_at + s->buf_len)
    return CDB_SCAN_OK;
  if (n > s->cap) {
    unsigned char *bigger = realloc(s->buf, n);
    if (bigger == NULL)
      return CDB_SCAN_NOMEM;
    s->buf = bigger;
    s->cap = n;
  }
  want = s->cap;
  if (want > s->file_size - off)
    want = (size_t)(s->file_size - off);
  got = cdb_os->pread(s->fd, s->buf, want, off);
  if (got < 0) {
    s->err = errno;
    return CDB_SCAN_IOERR;
  }
  s->buf_at = off;
  s->buf_len = (size_t)got;
  if ((size_t)got < n) {
    /* The file shrank under us: treat it as a read error. */
    s->err = EIO;
    return CDB_SCAN_IOERR;
  }
  return CDB_SCAN_OK;
}

static const unsigned char *window_at(const cdb_scanner *s, uint64_t off) {
  return s->buf + (off - s->buf_at);
}

/* Check the CRC of a record too large to hold whole.  The window holds its
 * header and key on entry; the key is copied out first since streaming the
 * value reuses the window. */
static int scan_streamed(cdb_scanner *s, uint64_t off, cdb_rec *r,
                         unsigned char **keycopy) {
  const unsigned char *p = window_at(s, off);
  uint32_t crc = cdb_crc32c(0, p + 4, CDB_REC_HEADER_SIZE - 4 + r->klen);
  uint32_t stored = cdb_rec_stored_crc(p);
  uint64_t pos = off + CDB_REC_HEADER_SIZE + r->klen;
  uint64_t left = r->vlen;
  int rc;
  free(*keycopy);
  *keycopy = malloc(r->klen + 1u);
  if (*keycopy == NULL)
    return CDB_SCAN_NOMEM;
  memcpy(*keycopy, p + CDB_REC_HEADER_SIZE, r->klen);
  while (left > 0) {
    size_t chunk = left < s->cap ? (size_t)left : s->cap;
    rc = window_fill(s, pos, chunk);
    if (rc != CDB_SCAN_OK)
      return rc;
    crc = cdb_crc32c(crc, window_at(s, pos), chunk);
    pos += chunk;
    left -= chunk;
  }
  if (crc != stored)
    return CDB_SCAN_BAD;
  r->key = *keycopy;
  r->value = NULL;
  return CDB_SCAN_OK;
}

const unsigned char *cdb_scan_bytes(cdb_scanner *s, uint64_t off, size_t n) {
  if (off > s->file_size || n > s->file_size - off) {
    s->err = 0;
    return NULL;
  }
  if (window_fill(s, off, n) != CDB_SCAN_OK)
    return NULL;
  return window_at(s, off);
}

int cdb_scan_record(cdb_scanner *s, uint64_t off, cdb_rec *r) {
  uint64_t left, size;
  int rc;
  if (off >= s->file_size)
    return CDB_SCAN_END;
  left = s->file_size - off;
  if (left < CDB_REC_HEADER_SIZE)
    return CDB_SCAN_SHORT;
  rc = window_fill(s, off, CDB_REC_HEADER_SIZE);
  if (rc != CDB_SCAN_OK)
    return rc;
  if (cdb_rec_decode_header(window_at(s, off), r) != CDB_DECODE_OK)
    return CDB_SCAN_BAD;
  size = cdb_rec_size(r->klen, r->vlen);
  if (size > left)
    return CDB_SCAN_SHORT;
  if (size > STREAM_THRESHOLD) {
    rc = window_fill(s, off, CDB_REC_HEADER_SIZE + r->klen);
    if (rc != CDB_SCAN_OK)
      return rc;
    return scan_streamed(s, off, r, &s->keycopy);
  }
  rc = window_fill(s, off, (size_t)size);
  if (rc != CDB_SCAN_OK)
    return rc;
  if (cdb_rec_decode(window_at(s, off), (size_t)size, r) != CDB_DECODE_OK)
    return CDB_SCAN_BAD;
  return CDB_SCAN_OK;
}

uint64_t cdb_scan_resync(cdb_scanner *s, uint64_t off) {
  cdb_rec r;
  uint64_t at;
  for (at = off + 1; at + CDB_REC_HEADER_SIZE <= s->file_size; at++) {
    int rc = cdb_scan_record(s, at, &r);
    if (rc == CDB_SCAN_OK)
      return at;
    if (rc == CDB_SCAN_IOERR || rc == CDB_SCAN_NOMEM)
      break;
  }
  return s->file_size;
}

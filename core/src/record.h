/*
 * record.h -- the byte layout of records and file headers (no I/O here).
 *
 * docs/FORMAT.md is the reference; this file is its code.  Every integer on
 * disk is little-endian and read with the get_u*le helpers below, never by
 * casting a pointer or copying a struct.
 */
#ifndef CASKDB_RECORD_H
#define CASKDB_RECORD_H

#include <stddef.h>
#include <stdint.h>

/* ---- little-endian helpers ---------------------------------------------- */

static inline uint32_t get_u32le(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static inline uint64_t get_u64le(const unsigned char *p) {
  return (uint64_t)get_u32le(p) | (uint64_t)get_u32le(p + 4) << 32;
}

static inline uint16_t get_u16le(const unsigned char *p) {
  return (uint16_t)(p[0] | p[1] << 8);
}

static inline void put_u16le(unsigned char *p, uint16_t v) {
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
}

static inline void put_u32le(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
  p[2] = (unsigned char)(v >> 16);
  p[3] = (unsigned char)(v >> 24);
}

static inline void put_u64le(unsigned char *p, uint64_t v) {
  put_u32le(p, (uint32_t)v);
  put_u32le(p + 4, (uint32_t)(v >> 32));
}

/* ---- file header ----------------------------------------------------------
 */

#define CDB_FORMAT_VERSION 1
#define CDB_FILE_HEADER_SIZE 24
#define CDB_FILE_DATA 1
#define CDB_FILE_HINT 2

/* The eight magic bytes every file starts with: "CASKDB\r\n". */
extern const unsigned char cdb_magic[8];

typedef struct cdb_file_header {
  uint16_t version;
  uint8_t kind;     /* CDB_FILE_DATA or CDB_FILE_HINT */
  uint32_t file_id; /* the id in the file's name */
  uint32_t part;    /* 0, or the part number of a merge output */
} cdb_file_header;

void cdb_file_header_encode(unsigned char out[CDB_FILE_HEADER_SIZE],
                            const cdb_file_header *h);

/* Results of the decoders below. */
#define CDB_DECODE_OK 0
#define CDB_DECODE_SHORT 1   /* fewer bytes than the thing needs */
#define CDB_DECODE_BAD 2     /* bad magic, bad field, or CRC mismatch */
#define CDB_DECODE_VERSION 3 /* a file header of another format version */

/* Decode a file header from `avail` bytes. */
int cdb_file_header_decode(const unsigned char *p, size_t avail,
                           cdb_file_header *h);

/* ---- data records ---------------------------------------------------------
 */

#define CDB_REC_HEADER_SIZE 36

/* Record types. */
#define CDB_REC_PUT 1
#define CDB_REC_DELETE 2
#define CDB_REC_BATCH_PUT 3    /* a put inside a batch */
#define CDB_REC_BATCH_DELETE 4 /* a delete inside a batch */
#define CDB_REC_BATCH_END 5    /* commits the batch records before it */

/* Key kinds on disk. */
#define CDB_KEY_BYTES 0
#define CDB_KEY_INT 1 /* 8 bytes, little-endian two's complement */
#define CDB_KEY_LIST_ELEM                                                      \
  2 /* an element of a list (list.c): the list's key                           \
       kind (1 byte), its key bytes, and the                                   \
       element's index (8 bytes, big-endian, sign                              \
       bit flipped) */

typedef struct cdb_rec {
  uint64_t timestamp; /* ms since the epoch when written */
  uint64_t expiry;    /* ms since the epoch, 0 = never */
  uint8_t type;       /* CDB_REC_* */
  uint8_t key_kind;   /* CDB_KEY_* */
  uint8_t value_type; /* the caller's tag */
  uint32_t flags;
  uint32_t klen;
  uint32_t vlen;
  const unsigned char *key;   /* klen bytes */
  const unsigned char *value; /* vlen bytes */
} cdb_rec;

/* Total bytes of a record with these lengths. */
static inline uint64_t cdb_rec_size(uint64_t klen, uint64_t vlen) {
  return CDB_REC_HEADER_SIZE + klen + vlen;
}

/* Write the record's 36-byte header into `out`, CRC included; r->key and
 * r->value are read to compute the CRC but not copied. */
void cdb_rec_encode_header(unsigned char out[CDB_REC_HEADER_SIZE],
                           const cdb_rec *r);

/* Decode the 36-byte header at p (the caller has at least that many bytes)
 * into r (key and value pointers left NULL) and check every field that can
 * be checked without the body: known type and key kind, reserved byte zero,
 * lengths within the limits and consistent with the type.  Returns
 * CDB_DECODE_OK or CDB_DECODE_BAD.  The CRC is not checked here. */
int cdb_rec_decode_header(const unsigned char *p, cdb_rec *r);

/* Decode and verify a whole record from `avail` bytes at p: the one function
 * that decides "whole / short / bad".  CDB_DECODE_SHORT when avail is less
 * than the header or than the size the header claims (when that claim is
 * itself valid); CDB_DECODE_BAD for a bad header or a CRC mismatch;
 * CDB_DECODE_OK with r filled (key/value point into p) otherwise. */
int cdb_rec_decode(const unsigned char *p, size_t avail, cdb_rec *r);

/* The CRC stored in a record header. */
static inline uint32_t cdb_rec_stored_crc(const unsigned char *p) {
  return get_u32le(p);
}

#endif /* CASKDB_RECORD_H */

/*
 * record.c -- encode and decode one record or file header.  No I/O.
 *
 * A record on disk (docs/FORMAT.md, "Data records"):
 *
 *   0   u32  crc32c of bytes 4 .. end of record
 *   4   u64  timestamp, ms since the Unix epoch
 *   12  u64  expiry, ms since the Unix epoch, 0 = never
 *   20  u8   record type
 *   21  u8   key kind
 *   22  u8   value type tag
 *   23  u8   reserved, 0
 *   24  u32  user flags
 *   28  u32  key length
 *   32  u32  value length
 *   36       key bytes, then value bytes
 */
#include "record.h"

#include "caskdb.h"
#include "crc32c.h"

#include <string.h>

const unsigned char cdb_magic[8] = {'C', 'A', 'S', 'K', 'D', 'B', '\r', '\n'};

void cdb_file_header_encode(unsigned char out[CDB_FILE_HEADER_SIZE],
                            const cdb_file_header *h) {
  memcpy(out, cdb_magic, 8);
  put_u16le(out + 8, h->version);
  out[10] = h->kind;
  out[11] = 0;
  put_u32le(out + 12, h->file_id);
  put_u32le(out + 16, h->part);
  put_u32le(out + 20, cdb_crc32c(0, out, 20));
}

int cdb_file_header_decode(const unsigned char *p, size_t avail,
                           cdb_file_header *h) {
  if (avail < CDB_FILE_HEADER_SIZE)
    return CDB_DECODE_SHORT;
  if (memcmp(p, cdb_magic, 8) != 0)
    return CDB_DECODE_BAD;
  if (get_u32le(p + 20) != cdb_crc32c(0, p, 20))
    return CDB_DECODE_BAD;
  h->version = get_u16le(p + 8);
  h->kind = p[10];
  h->file_id = get_u32le(p + 12);
  h->part = get_u32le(p + 16);
  if (h->version != CDB_FORMAT_VERSION)
    return CDB_DECODE_VERSION;
  if ((h->kind != CDB_FILE_DATA && h->kind != CDB_FILE_HINT) || p[11] != 0)
    return CDB_DECODE_BAD;
  return CDB_DECODE_OK;
}

void cdb_rec_encode_header(unsigned char out[CDB_REC_HEADER_SIZE],
                           const cdb_rec *r) {
  uint32_t crc;
  put_u64le(out + 4, r->timestamp);
  put_u64le(out + 12, r->expiry);
  out[20] = r->type;
  out[21] = r->key_kind;
  out[22] = r->value_type;
  out[23] = 0;
  put_u32le(out + 24, r->flags);
  put_u32le(out + 28, r->klen);
  put_u32le(out + 32, r->vlen);
  crc = cdb_crc32c(0, out + 4, CDB_REC_HEADER_SIZE - 4);
  crc = cdb_crc32c(crc, r->key, r->klen);
  crc = cdb_crc32c(crc, r->value, r->vlen);
  put_u32le(out, crc);
}

/* Which types carry a key, and what value length each allows. */
static int rec_fields_valid(const cdb_rec *r) {
  switch (r->type) {
  case CDB_REC_PUT:
  case CDB_REC_BATCH_PUT:
    break;
  case CDB_REC_DELETE:
  case CDB_REC_BATCH_DELETE:
    if (r->vlen != 0)
      return 0;
    break;
  case CDB_REC_BATCH_END:
    /* No key; the value is the u32 count of records in the batch. */
    return r->klen == 0 && r->vlen == 4 && r->key_kind == CDB_KEY_BYTES;
  default:
    return 0;
  }
  if (r->vlen > CASKDB_MAX_VALUE_SIZE)
    return 0;
  if (r->key_kind == CDB_KEY_INT)
    return r->klen == 8;
  if (r->key_kind == CDB_KEY_LIST_ELEM)
    return r->klen >= 9 && r->klen <= 9 + CASKDB_MAX_KEY_SIZE &&
           (r->klen == 17 || r->klen - 9 <= CASKDB_MAX_KEY_SIZE);
  return r->key_kind == CDB_KEY_BYTES && r->klen <= CASKDB_MAX_KEY_SIZE;
}

int cdb_rec_decode_header(const unsigned char *p, cdb_rec *r) {
  r->timestamp = get_u64le(p + 4);
  r->expiry = get_u64le(p + 12);
  r->type = p[20];
  r->key_kind = p[21];
  r->value_type = p[22];
  r->flags = get_u32le(p + 24);
  r->klen = get_u32le(p + 28);
  r->vlen = get_u32le(p + 32);
  r->key = NULL;
  r->value = NULL;
  if (p[23] != 0 || !rec_fields_valid(r))
    return CDB_DECODE_BAD;
  return CDB_DECODE_OK;
}

int cdb_rec_decode(const unsigned char *p, size_t avail, cdb_rec *r) {
  uint64_t size;
  if (avail < CDB_REC_HEADER_SIZE)
    return CDB_DECODE_SHORT;
  if (cdb_rec_decode_header(p, r) != CDB_DECODE_OK)
    return CDB_DECODE_BAD;
  size = cdb_rec_size(r->klen, r->vlen);
  if (size > avail)
    return CDB_DECODE_SHORT;
  if (cdb_crc32c(0, p + 4, (size_t)size - 4) != cdb_rec_stored_crc(p))
    return CDB_DECODE_BAD;
  r->key = p + CDB_REC_HEADER_SIZE;
  r->value = r->key + r->klen;
  return CDB_DECODE_OK;
}

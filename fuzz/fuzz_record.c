/*
 * fuzz_record.c -- cdb_rec_decode, the one function that decides whether
 * bytes are a whole record, a short one or a bad one.
 *
 * Invariants checked beyond "no crash, no sanitizer report":
 *  - a decoded record lies inside the input, key then value right after the
 *    36-byte header;
 *  - its header, encoded again from the decoded fields, is byte for byte
 *    the input's (CRC included): decoding loses nothing;
 *  - header-only decoding agrees with whole decoding about the header.
 */
#include "record.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ASSERT(cond)                                                      \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__,     \
              #cond);                                                          \
      abort();                                                                 \
    }                                                                          \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  unsigned char hdr[CDB_REC_HEADER_SIZE];
  cdb_rec r, h;
  int rc = cdb_rec_decode(data, size, &r);
  if (size < CDB_REC_HEADER_SIZE) {
    FUZZ_ASSERT(rc == CDB_DECODE_SHORT);
    return 0;
  }
  if (cdb_rec_decode_header(data, &h) != CDB_DECODE_OK) {
    FUZZ_ASSERT(rc == CDB_DECODE_BAD);
    return 0;
  }
  FUZZ_ASSERT(rc != CDB_DECODE_VERSION);
  if (cdb_rec_size(h.klen, h.vlen) > size)
    FUZZ_ASSERT(rc == CDB_DECODE_SHORT);
  if (rc != CDB_DECODE_OK)
    return 0;
  FUZZ_ASSERT(cdb_rec_size(r.klen, r.vlen) <= size);
  FUZZ_ASSERT(r.key == data + CDB_REC_HEADER_SIZE);
  FUZZ_ASSERT(r.value == r.key + r.klen);
  FUZZ_ASSERT(r.klen == h.klen && r.vlen == h.vlen && r.type == h.type);
  cdb_rec_encode_header(hdr, &r);
  FUZZ_ASSERT(memcmp(hdr, data, CDB_REC_HEADER_SIZE) == 0);
  return 0;
}

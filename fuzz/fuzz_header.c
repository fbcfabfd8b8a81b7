/*
 * fuzz_header.c -- the file header decoder and the data file name parser
 * (names come from the directory listing: untrusted too).
 *
 * Invariants: a header that decodes encodes back to the same 24 bytes; a
 * name that parses is exactly the name cdb_file_name gives its id and part.
 */
#include "datafile.h"
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
  unsigned char out[CDB_FILE_HEADER_SIZE];
  char name[CDB_FILE_NAME_MAX];
  cdb_file_header h;
  uint32_t id, part;
  char *s;
  int rc = cdb_file_header_decode(data, size, &h);
  if (size < CDB_FILE_HEADER_SIZE)
    FUZZ_ASSERT(rc == CDB_DECODE_SHORT);
  if (rc == CDB_DECODE_OK) {
    FUZZ_ASSERT(h.kind == CDB_FILE_DATA || h.kind == CDB_FILE_HINT);
    cdb_file_header_encode(out, &h);
    FUZZ_ASSERT(memcmp(out, data, CDB_FILE_HEADER_SIZE) == 0);
  }
  /* The same bytes as a file name (NUL-terminated, as readdir gives). */
  s = malloc(size + 1);
  if (s == NULL)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  if (cdb_parse_file_name(s, CDB_DATA_SUFFIX, &id, &part)) {
    cdb_file_name(name, id, part, CDB_DATA_SUFFIX);
    FUZZ_ASSERT(strcmp(name, s) == 0);
  }
  if (cdb_parse_file_name(s, CDB_HINT_SUFFIX, &id, &part)) {
    cdb_file_name(name, id, part, CDB_HINT_SUFFIX);
    FUZZ_ASSERT(strcmp(name, s) == 0);
  }
  free(s);
  return 0;
}

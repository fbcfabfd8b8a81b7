/*
 * key.h -- canonical keys: the one byte string per key that the keydir
 * orders with memcmp.
 *
 *   integer n:  0x00, then n + 2^63 as 8 bytes big-endian
 *               (flipping the sign bit makes byte order numeric order)
 *   bytes b:    0x01, then b
 *
 * So integers sort numerically and before every byte key, and byte keys
 * sort bytewise with a shorter prefix first.  Canonical keys live only in
 * memory; on disk a key is its kind and its plain bytes (record.h).
 */
#ifndef CASKDB_KEY_H
#define CASKDB_KEY_H

#include "caskdb.h"

#include <stddef.h>
#include <stdint.h>

#define CDB_CANON_INT 0x00
#define CDB_CANON_BYTES 0x01
#define CDB_CANON_HIDDEN                                                       \
  0x02 /* engine-internal keys (list elements): they                           \
          sort after every user key */
/* The largest canonical key: a list element of the largest byte key. */
#define CDB_CANON_MAX (1 + 1 + CASKDB_MAX_KEY_SIZE + 8)

/* Build the canonical key of `key` in out (CDB_CANON_MAX bytes) and store
 * its length.  CASKDB_OK, CASKDB_EINVAL (bytes NULL with len > 0),
 * CASKDB_ETOOLARGE. */
int cdb_key_to_canon(const caskdb_key *key, unsigned char *out, size_t *len);

/* Build the canonical key of a key read from disk (kind CDB_KEY_*, already
 * validated by the record decoder). */
size_t cdb_key_canon_from_disk(uint8_t kind, const unsigned char *bytes,
                               size_t klen, unsigned char *out);

/* The user's view of a canonical key; for a byte key, data points into
 * canon. */
caskdb_key cdb_key_from_canon(const unsigned char *canon, size_t len);

/* The disk form of a canonical key: its kind, and its bytes in disk8 (for
 * an integer) or inside canon (for bytes). */
void cdb_key_to_disk(const unsigned char *canon, size_t len, uint8_t *kind,
                     const unsigned char **bytes, size_t *klen,
                     unsigned char disk8[8]);

/* The keydir's order of two canonical keys: memcmp over the shorter
 * length, then the shorter first.  < 0, 0 or > 0. */
int cdb_canon_cmp(const unsigned char *a, size_t alen, const unsigned char *b,
                  size_t blen);

#endif /* CASKDB_KEY_H */

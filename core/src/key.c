/*
 * key.c -- conversions between user keys, canonical keys and disk keys.
 * See key.h for the canonical form.
 */
#include "key.h"

#include "record.h"

#include <string.h>

static void put_u64be(unsigned char *p, uint64_t v) {
  int i;
  for (i = 7; i >= 0; i--) {
    p[i] = (unsigned char)v;
    v >>= 8;
  }
}

static uint64_t get_u64be(const unsigned char *p) {
  uint64_t v = 0;
  int i;
  for (i = 0; i < 8; i++)
    v = v << 8 | p[i];
  return v;
}

/* Signed to "offset binary": adding 2^63 modulo 2^64 flips the sign bit. */
static uint64_t int_to_ordered(int64_t n) {
  return (uint64_t)n ^ (UINT64_C(1) << 63);
}

static int64_t ordered_to_int(uint64_t u) {
  uint64_t v = u ^ (UINT64_C(1) << 63);
  int64_t n;
  memcpy(&n, &v, sizeof n); /* two's complement, without UB */
  return n;
}

int cdb_key_to_canon(const caskdb_key *key, unsigned char *out, size_t *len) {
  if (key->is_int) {
    out[0] = CDB_CANON_INT;
    put_u64be(out + 1, int_to_ordered(key->num));
    *len = 9;
    return CASKDB_OK;
  }
  if (key->len > CASKDB_MAX_KEY_SIZE)
    return CASKDB_ETOOLARGE;
  if (key->data == NULL && key->len > 0)
    return CASKDB_EINVAL;
  out[0] = CDB_CANON_BYTES;
  if (key->len > 0)
    memcpy(out + 1, key->data, key->len);
  *len = key->len + 1;
  return CASKDB_OK;
}

size_t cdb_key_canon_from_disk(uint8_t kind, const unsigned char *bytes,
                               size_t klen, unsigned char *out) {
  if (kind == CDB_KEY_LIST_ELEM) {
    out[0] = CDB_CANON_HIDDEN;
    memcpy(out + 1, bytes, klen);
    return klen + 1;
  }
  if (kind == CDB_KEY_INT) {
    uint64_t raw = get_u64le(bytes);
    int64_t n;
    memcpy(&n, &raw, sizeof n);
    out[0] = CDB_CANON_INT;
    put_u64be(out + 1, int_to_ordered(n));
    return 9;
  }
  out[0] = CDB_CANON_BYTES;
  if (klen > 0)
    memcpy(out + 1, bytes, klen);
  return klen + 1;
}

caskdb_key cdb_key_from_canon(const unsigned char *canon, size_t len) {
  if (canon[0] == CDB_CANON_INT)
    return caskdb_key_int(ordered_to_int(get_u64be(canon + 1)));
  return caskdb_key_bytes(canon + 1, len - 1);
}

void cdb_key_to_disk(const unsigned char *canon, size_t len, uint8_t *kind,
                     const unsigned char **bytes, size_t *klen,
                     unsigned char disk8[8]) {
  if (canon[0] == CDB_CANON_HIDDEN) {
    *kind = CDB_KEY_LIST_ELEM;
    *bytes = canon + 1;
    *klen = len - 1;
    return;
  }
  if (canon[0] == CDB_CANON_INT) {
    int64_t n = ordered_to_int(get_u64be(canon + 1));
    uint64_t raw;
    memcpy(&raw, &n, sizeof raw);
    put_u64le(disk8, raw);
    *kind = CDB_KEY_INT;
    *bytes = disk8;
    *klen = 8;
    return;
  }
  *kind = CDB_KEY_BYTES;
  *bytes = canon + 1;
  *klen = len - 1;
}

int cdb_canon_cmp(const unsigned char *a, size_t alen, const unsigned char *b,
                  size_t blen) {
  size_t common = alen < blen ? alen : blen;
  int c = common ? memcmp(a, b, common) : 0;
  if (c)
    return c;
  return (alen > blen) - (alen < blen);
}

/*
 * list.c -- lists under one key, where a push or a pop is one append.
 *
 * A list stored under key K is:
 *   - a header record at K, value type CASKDB_TYPE_LIST, value 16 bytes:
 *     head and tail as i64 little-endian; the elements are the indices
 *     head .. tail - 1;
 *   - one record per element under an engine-internal key (key kind 2 on
 *     disk): K's kind byte, K's bytes, then the index as 8 bytes big-endian
 *     with the sign bit flipped.  Internal keys sort after every user key
 *     and are invisible to get, iteration and count.
 * A push writes the element and the new header as one batch, so one append;
 * a pop writes the element's tombstone and the new header (or the header's
 * tombstone when the list becomes empty).  Putting a value over a list, or
 * deleting it, also deletes its elements, in the same batch.  Elements left
 * behind some other way (the header expired, or a batch overwrote it) are
 * invisible and dropped by the next merge (merge.c).
 */
#include "db.h"
#include "key.h"
#include "record.h"
#include "shared.h"

#include <stdlib.h>
#include <string.h>

#define HEADER_SIZE 16

typedef struct list_state {
  int exists;   /* a live list header is there */
  int stale;    /* an expired list header is there: its elements must go */
  int64_t head; /* first index */
  int64_t tail; /* one past the last index */
  uint64_t expiry;
} list_state;

static void put_u64be(unsigned char *p, uint64_t v) {
  int i;
  for (i = 7; i >= 0; i--) {
    p[i] = (unsigned char)v;
    v >>= 8;
  }
}

/* The canonical key of element `index` of the list at canonical key k. */
static size_t element_key(const unsigned char *k, size_t klen, int64_t index,
                          unsigned char *out) {
  unsigned char disk8[8];
  const unsigned char *bytes;
  size_t n;
  uint8_t kind;
  uint64_t u;
  cdb_key_to_disk(k, klen, &kind, &bytes, &n, disk8);
  out[0] = CDB_CANON_HIDDEN;
  out[1] = kind;
  memcpy(out + 2, bytes, n);
  memcpy(&u, &index, sizeof u);
  put_u64be(out + 2 + n, u ^ (UINT64_C(1) << 63));
  return 2 + n + 8;
}

/* Read the list header at the canonical key in db->keybuf. */
static int read_state(caskdb *db, size_t clen, list_state *st) {
  cdb_loc loc;
  cdb_rec r;
  int rc;
  memset(st, 0, sizeof *st);
  if (!cdb_kd_find(db->kd, db->keybuf, clen, &loc))
    return CASKDB_OK;
  if (loc.vtype != CASKDB_TYPE_LIST)
    return cdb_expired(db, loc.expiry)
               ? CASKDB_OK
               : cdb_fail(db, CASKDB_ENOTLIST, 0, "the value is not a list");
  rc = cdb_read_record(db, &loc, &r);
  if (rc != CASKDB_OK)
    return rc;
  if (r.vlen != HEADER_SIZE)
    return cdb_fail(db, CASKDB_ECORRUPT, 0, "bad list header");
  st->head = (int64_t)get_u64le(r.value);
  st->tail = (int64_t)get_u64le(r.value + 8);
  if (st->tail < st->head)
    return cdb_fail(db, CASKDB_ECORRUPT, 0, "bad list header");
  st->expiry = loc.expiry;
  if (cdb_expired(db, loc.expiry))
    st->stale = 1;
  else
    st->exists = 1;
  return CASKDB_OK;
}

/* Add deletes of the elements head .. tail - 1 to a batch. */
static int delete_elements(caskdb_batch *b, const unsigned char *k, size_t klen,
                           int64_t head, int64_t tail) {
  unsigned char ek[CDB_CANON_MAX];
  int64_t i;
  for (i = head; i < tail; i++) {
    size_t n = element_key(k, klen, i, ek);
    int rc = cdb_batch_add(b, 1, ek, n, NULL, 0, NULL);
    if (rc != CASKDB_OK)
      return rc;
  }
  return CASKDB_OK;
}

/* Add the header (head, tail) of the list, or its delete when empty. */
static int add_header(caskdb_batch *b, const unsigned char *k, size_t klen,
                      int64_t head, int64_t tail, uint64_t expiry) {
  unsigned char v[HEADER_SIZE];
  caskdb_meta meta;
  if (head == tail)
    return cdb_batch_add(b, 1, k, klen, NULL, 0, NULL);
  put_u64le(v, (uint64_t)head);
  put_u64le(v + 8, (uint64_t)tail);
  meta.type = CASKDB_TYPE_LIST;
  meta.flags = 0;
  meta.expiry = expiry;
  return cdb_batch_add(b, 0, k, klen, v, sizeof v, &meta);
}

int cdb_list_cleanup(caskdb *db, size_t clen, caskdb_batch *b, int *is_list) {
  list_state st;
  int rc;
  *is_list = 0;
  {
    cdb_loc loc;
    if (!cdb_kd_find(db->kd, db->keybuf, clen, &loc) ||
        loc.vtype != CASKDB_TYPE_LIST)
      return CASKDB_OK;
  }
  rc = read_state(db, clen, &st);
  if (rc != CASKDB_OK)
    return rc;
  *is_list = 1;
  return delete_elements(b, db->keybuf, clen, st.head, st.tail);
}

/* Copy a popped value to db->popbuf (NUL-terminated): committing the pop
 * may read other records into db->rbuf. */
static int keep_value(caskdb *db, const cdb_rec *r) {
  if ((size_t)r->vlen + 1 > db->popcap) {
    unsigned char *p = realloc(db->popbuf, (size_t)r->vlen + 1);
    if (p == NULL)
      return cdb_fail(db, CASKDB_ENOMEM, 0, "out of memory in a list");
    db->popbuf = p;
    db->popcap = (size_t)r->vlen + 1;
  }
  memcpy(db->popbuf, r->value, r->vlen);
  db->popbuf[r->vlen] = '\0';
  return CASKDB_OK;
}

/* Start a batch for a list operation on `key`: its canonical form is left
 * in a copy (k) since the batch outlives db->keybuf. */
static int begin(caskdb *db, caskdb_key key, unsigned char *k, size_t *klen,
                 caskdb_batch **b) {
  int rc;
  if (db == NULL)
    return CASKDB_EINVAL;
  db->errmsg[0] = '\0';
  rc = cdb_key_to_canon(&key, db->keybuf, klen);
  if (rc != CASKDB_OK)
    return rc;
  memcpy(k, db->keybuf, *klen);
  rc = cdb_check_writable(db);
  if (rc != CASKDB_OK)
    return rc;
  rc = caskdb_batch_new(b);
  return rc == CASKDB_OK ? CASKDB_OK
                         : cdb_fail(db, rc, 0, "out of memory in a list");
}

static int push(caskdb *db, caskdb_key key, int left, const void *value,
                size_t vlen, const caskdb_meta *meta, uint64_t *len) {
  unsigned char k[CDB_CANON_MAX], ek[CDB_CANON_MAX];
  caskdb_meta elem = {0, 0, 0};
  caskdb_batch *b;
  list_state st;
  size_t klen, n;
  int64_t index;
  int rc;
  if ((value == NULL && vlen > 0) || vlen > CASKDB_MAX_VALUE_SIZE)
    return value == NULL ? CASKDB_EINVAL : CASKDB_ETOOLARGE;
  rc = begin(db, key, k, &klen, &b);
  if (rc != CASKDB_OK)
    return rc;
  rc = read_state(db, klen, &st);
  if (rc == CASKDB_OK && st.stale) {
    rc = delete_elements(b, k, klen, st.head, st.tail);
    st.head = st.tail = 0;
    st.expiry = 0;
  }
  if (meta) {
    elem.type = meta->type;
    elem.flags = meta->flags;
  }
  index = left ? st.head - 1 : st.tail;
  if (rc == CASKDB_OK) {
    n = element_key(k, klen, index, ek);
    rc = cdb_batch_add(b, 0, ek, n, value, vlen, &elem);
  }
  if (left)
    st.head--;
  else
    st.tail++;
  if (rc == CASKDB_OK)
    rc = add_header(b, k, klen, st.head, st.tail, st.expiry);
  if (rc == CASKDB_OK)
    rc = caskdb_batch_commit(db, b);
  caskdb_batch_free(b);
  if (rc == CASKDB_OK && len)
    *len = (uint64_t)(st.tail - st.head);
  return rc;
}

int caskdb_list_push(caskdb *db, caskdb_key key, int left, const void *value,
                     size_t vlen, const caskdb_meta *meta, uint64_t *len) {
  int rc;
  if (db == NULL || db->sh == NULL)
    return push(db, key, left, value, vlen, meta, len);
  rc = cdb_shared_write_begin(db);
  if (rc == CASKDB_OK)
    rc = cdb_shared_write_end(db, push(db, key, left, value, vlen, meta, len));
  return rc;
}

static int pop(caskdb *db, caskdb_key key, int left, const void **value,
               size_t *vlen, caskdb_meta *meta) {
  unsigned char k[CDB_CANON_MAX], ek[CDB_CANON_MAX];
  caskdb_batch *b;
  list_state st;
  cdb_loc loc;
  cdb_rec r;
  size_t klen, n;
  int64_t index;
  int rc;
  if (value == NULL || vlen == NULL)
    return CASKDB_EINVAL;
  rc = begin(db, key, k, &klen, &b);
  if (rc != CASKDB_OK)
    return rc;
  rc = read_state(db, klen, &st);
  if (rc == CASKDB_OK && !st.exists)
    rc = CASKDB_ENOTFOUND;
  if (rc != CASKDB_OK) {
    caskdb_batch_free(b);
    return rc;
  }
  index = left ? st.head : st.tail - 1;
  n = element_key(k, klen, index, ek);
  if (!cdb_kd_find(db->kd, ek, n, &loc)) {
    caskdb_batch_free(b);
    return cdb_fail(db, CASKDB_ECORRUPT, 0, "a list element is missing");
  }
  rc = cdb_read_record(db, &loc, &r);
  if (rc == CASKDB_OK)
    rc = keep_value(db, &r);
  if (rc == CASKDB_OK)
    rc = cdb_batch_add(b, 1, ek, n, NULL, 0, NULL);
  if (left)
    st.head++;
  else
    st.tail--;
  if (rc == CASKDB_OK)
    rc = add_header(b, k, klen, st.head, st.tail, st.expiry);
  if (rc == CASKDB_OK)
    rc = caskdb_batch_commit(db, b);
  caskdb_batch_free(b);
  if (rc != CASKDB_OK)
    return rc;
  *value = db->popbuf;
  *vlen = r.vlen;
  if (meta) {
    meta->type = r.value_type;
    meta->flags = r.flags;
    meta->expiry = 0;
  }
  return CASKDB_OK;
}

int caskdb_list_pop(caskdb *db, caskdb_key key, int left, const void **value,
                    size_t *vlen, caskdb_meta *meta) {
  int rc;
  if (db == NULL || db->sh == NULL)
    return pop(db, key, left, value, vlen, meta);
  rc = cdb_shared_write_begin(db);
  if (rc == CASKDB_OK)
    rc = cdb_shared_write_end(db, pop(db, key, left, value, vlen, meta));
  return rc;
}

int caskdb_list_len(caskdb *db, caskdb_key key, uint64_t *len) {
  list_state st;
  size_t klen;
  int rc;
  if (db == NULL || len == NULL)
    return CASKDB_EINVAL;
  db->errmsg[0] = '\0';
  if (db->sh && (rc = cdb_shared_refresh(db)) != CASKDB_OK)
    return rc; /* it uses db->keybuf: before the key goes there */
  rc = cdb_key_to_canon(&key, db->keybuf, &klen);
  if (rc != CASKDB_OK)
    return rc;
  rc = read_state(db, klen, &st);
  if (rc != CASKDB_OK)
    return rc;
  *len = st.exists ? (uint64_t)(st.tail - st.head) : 0;
  return CASKDB_OK;
}

int cdb_list_element_orphaned(caskdb *db, const unsigned char *ek,
                              size_t elen) {
  unsigned char parent[CDB_CANON_MAX];
  size_t plen;
  cdb_loc loc;
  if (elen < 10)
    return 1;
  plen = cdb_key_canon_from_disk(ek[1], ek + 2, elen - 10, parent);
  return !cdb_kd_find(db->kd, parent, plen, &loc) ||
         loc.vtype != CASKDB_TYPE_LIST || cdb_expired(db, loc.expiry);
}

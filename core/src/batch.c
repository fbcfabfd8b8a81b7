/*
 * batch.c -- atomic batches.
 *
 * A batch collects operations in memory (canonical key, value, meta).  On
 * commit it is encoded as consecutive records of type BATCH_PUT /
 * BATCH_DELETE followed by one BATCH_END record whose value is the number
 * of records before it, and written with a single append.  At open
 * (open.c) batch records are held aside until their end record is read, so
 * a batch cut short by a crash is dropped whole.  A batch is never split
 * across two data files: the active file rotates first if it does not fit.
 */
#include "db.h"
#include "key.h"
#include "shared.h"

#include <stdlib.h>
#include <string.h>

typedef struct batch_op {
  int type;      /* CDB_REC_BATCH_PUT or CDB_REC_BATCH_DELETE */
  size_t key_at; /* canonical key: offset into the batch's bytes */
  size_t clen;
  size_t value_at; /* value: offset into the batch's bytes */
  size_t vlen;
  caskdb_meta meta;
} batch_op;

struct caskdb_batch {
  batch_op *ops;
  size_t nops, opcap;
  unsigned char *bytes; /* keys and values, back to back */
  size_t len, cap;
  uint64_t disk_size; /* bytes the records will take, end record included */
};

#define END_RECORD_SIZE (CDB_REC_HEADER_SIZE + 4)

int caskdb_batch_new(caskdb_batch **bp) {
  if (bp == NULL)
    return CASKDB_EINVAL;
  *bp = calloc(1, sizeof **bp);
  if (*bp == NULL)
    return CASKDB_ENOMEM;
  (*bp)->disk_size = END_RECORD_SIZE;
  return CASKDB_OK;
}

void caskdb_batch_free(caskdb_batch *b) {
  if (b == NULL)
    return;
  free(b->ops);
  free(b->bytes);
  free(b);
}

void caskdb_batch_clear(caskdb_batch *b) {
  if (b == NULL)
    return;
  b->nops = 0;
  b->len = 0;
  b->disk_size = END_RECORD_SIZE;
}

size_t caskdb_batch_count(const caskdb_batch *b) { return b ? b->nops : 0; }

/* Make room for one more op and n more bytes. */
static int reserve(caskdb_batch *b, size_t n) {
  if (b->nops == b->opcap) {
    size_t cap = b->opcap ? b->opcap * 2 : 16;
    batch_op *ops = realloc(b->ops, cap * sizeof *ops);
    if (ops == NULL)
      return CASKDB_ENOMEM;
    b->ops = ops;
    b->opcap = cap;
  }
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    unsigned char *p;
    while (cap < b->len + n)
      cap *= 2;
    p = realloc(b->bytes, cap);
    if (p == NULL)
      return CASKDB_ENOMEM;
    b->bytes = p;
    b->cap = cap;
  }
  return CASKDB_OK;
}

int cdb_batch_add(caskdb_batch *b, int is_delete, const unsigned char *canon,
                  size_t clen, const void *value, size_t vlen,
                  const caskdb_meta *meta) {
  int type = is_delete ? CDB_REC_BATCH_DELETE : CDB_REC_BATCH_PUT;
  size_t klen = canon[0] == CDB_CANON_INT ? 8 : clen - 1; /* as on disk */
  uint64_t size = cdb_rec_size(klen, vlen);
  batch_op *op;
  int rc;
  if (b->disk_size + size > CASKDB_MAX_BATCH_SIZE)
    return CASKDB_ETOOLARGE;
  rc = reserve(b, clen + vlen);
  if (rc != CASKDB_OK)
    return rc;
  op = &b->ops[b->nops++];
  op->type = type;
  op->key_at = b->len;
  op->clen = clen;
  memcpy(b->bytes + b->len, canon, clen);
  b->len += clen;
  op->value_at = b->len;
  op->vlen = vlen;
  if (vlen)
    memcpy(b->bytes + b->len, value, vlen);
  b->len += vlen;
  if (meta)
    op->meta = *meta;
  else
    memset(&op->meta, 0, sizeof op->meta);
  b->disk_size += size;
  return CASKDB_OK;
}

static int add_op(caskdb_batch *b, int type, caskdb_key key, const void *value,
                  size_t vlen, const caskdb_meta *meta) {
  unsigned char canon[CDB_CANON_MAX];
  size_t clen;
  int rc;
  if (b == NULL || (value == NULL && vlen > 0))
    return CASKDB_EINVAL;
  rc = cdb_key_to_canon(&key, canon, &clen);
  if (rc != CASKDB_OK)
    return rc;
  if (vlen > CASKDB_MAX_VALUE_SIZE)
    return CASKDB_ETOOLARGE;
  return cdb_batch_add(b, type == CDB_REC_BATCH_DELETE, canon, clen, value,
                       vlen, meta);
}

int caskdb_batch_put(caskdb_batch *b, caskdb_key key, const void *value,
                     size_t vlen, const caskdb_meta *meta) {
  if (meta && meta->type == CASKDB_TYPE_LIST)
    return CASKDB_EINVAL; /* the tag is the engine's own */
  return add_op(b, CDB_REC_BATCH_PUT, key, value, vlen, meta);
}

int caskdb_batch_delete(caskdb_batch *b, caskdb_key key) {
  return add_op(b, CDB_REC_BATCH_DELETE, key, NULL, 0, NULL);
}

/* Encode one op as a record at out; returns its size. */
static size_t encode_op(const caskdb_batch *b, const batch_op *op, uint64_t now,
                        unsigned char *out) {
  const unsigned char *canon = b->bytes + op->key_at;
  unsigned char disk8[8];
  const unsigned char *kbytes;
  size_t klen;
  cdb_rec r;
  memset(&r, 0, sizeof r);
  cdb_key_to_disk(canon, op->clen, &r.key_kind, &kbytes, &klen, disk8);
  r.type = (uint8_t)op->type;
  r.timestamp = now;
  if (op->type == CDB_REC_BATCH_PUT) {
    r.expiry = op->meta.expiry;
    r.value_type = op->meta.type;
    r.flags = op->meta.flags;
    r.vlen = (uint32_t)op->vlen;
    r.value = b->bytes + op->value_at;
  }
  r.klen = (uint32_t)klen;
  r.key = kbytes;
  memcpy(out + CDB_REC_HEADER_SIZE, kbytes, klen);
  if (r.vlen)
    memcpy(out + CDB_REC_HEADER_SIZE + klen, r.value, r.vlen);
  cdb_rec_encode_header(out, &r);
  return (size_t)cdb_rec_size(klen, r.vlen);
}

static size_t encode_end(size_t count, uint64_t now, unsigned char *out) {
  unsigned char value[4];
  cdb_rec r;
  memset(&r, 0, sizeof r);
  put_u32le(value, (uint32_t)count);
  r.type = CDB_REC_BATCH_END;
  r.key_kind = CDB_KEY_BYTES;
  r.timestamp = now;
  r.vlen = 4;
  r.value = value;
  r.key = value; /* klen 0: not read */
  memcpy(out + CDB_REC_HEADER_SIZE, value, 4);
  cdb_rec_encode_header(out, &r);
  return END_RECORD_SIZE;
}

/* Point the keydir at every record of the written batch. */
static int apply_ops(caskdb *db, const caskdb_batch *b, uint64_t start,
                     const unsigned char *buf) {
  uint64_t off = start;
  size_t i;
  for (i = 0; i < b->nops; i++) {
    const batch_op *op = &b->ops[i];
    cdb_rec r;
    cdb_loc loc;
    int rc;
    cdb_rec_decode_header(buf + (off - start), &r);
    loc.slot = cdb_active_slot(db);
    loc.offset = (uint32_t)off;
    loc.size = (uint32_t)cdb_rec_size(r.klen, r.vlen);
    loc.expiry = r.expiry;
    loc.vtype = r.value_type;
    rc = cdb_apply(db, b->bytes + op->key_at, op->clen, &loc,
                   op->type == CDB_REC_BATCH_DELETE);
    if (rc != CASKDB_OK)
      return rc;
    off += loc.size;
  }
  return CASKDB_OK;
}

static int commit(caskdb *db, caskdb_batch *b) {
  unsigned char *buf;
  struct iovec iov;
  uint64_t now, start;
  size_t i, at = 0;
  int rc;
  if (db == NULL || b == NULL)
    return CASKDB_EINVAL;
  db->errmsg[0] = '\0';
  rc = cdb_check_writable(db);
  if (rc != CASKDB_OK || b->nops == 0)
    return rc;
  rc = cdb_make_room(db, b->disk_size);
  if (rc != CASKDB_OK)
    return rc;
  buf = malloc((size_t)b->disk_size);
  if (buf == NULL)
    return cdb_fail(db, CASKDB_ENOMEM, 0, "out of memory encoding a batch");
  now = cdb_now_ms(db);
  for (i = 0; i < b->nops; i++)
    at += encode_op(b, &b->ops[i], now, buf + at);
  at += encode_end(b->nops, now, buf + at);
  iov.iov_base = buf;
  iov.iov_len = at;
  rc = cdb_append(db, &iov, 1, at, &start);
  if (rc == CASKDB_OK) {
    rc = apply_ops(db, b, start, buf);
    if (rc != CASKDB_OK)
      db->failed = 1; /* on disk whole, in memory in part: reopen */
  }
  free(buf);
  if (rc == CASKDB_OK)
    cdb_after_write(db);
  return rc;
}

int caskdb_batch_commit(caskdb *db, caskdb_batch *b) {
  int rc;
  if (db == NULL || db->sh == NULL)
    return commit(db, b);
  rc = cdb_shared_write_begin(db);
  if (rc == CASKDB_OK)
    rc = cdb_shared_write_end(db, commit(db, b));
  return rc;
}

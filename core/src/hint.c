/*
 * hint.c -- writing and reading hint files (layout in hint.h).
 *
 * Writing goes through a buffer to a temporary file that is renamed into
 * place when complete and synced, so a hint under its final name is whole
 * (and a hint lost anyway would simply not be used).
 * Reading checks every hint record's CRC and bounds, and that the end
 * record names the data file's real size, before trusting the hint.
 */
#include "hint.h"

#include "crc32c.h"
#include "datafile.h"
#include "key.h"
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#define HINT_BUFFER (256 * 1024)
#define HINT_WINDOW (256 * 1024) /* a hint read alone */

static char *hint_path(const char *dir, uint32_t id, uint32_t part,
                       const char *extra) {
  char name[CDB_FILE_NAME_MAX + 8];
  cdb_file_name(name, id, part, CDB_HINT_SUFFIX);
  strcat(name, extra);
  return cdb_path_join(dir, name);
}

static int flush_buffer(cdb_hint_writer *w) {
  struct iovec iov;
  if (w->len == 0)
    return CASKDB_OK;
  iov.iov_base = w->buf;
  iov.iov_len = w->len;
  if (cdb_os->pwritev_all(w->fd, &iov, 1, w->written) < 0)
    return cdb_code_from_errno(errno);
  w->written += w->len;
  w->len = 0;
  return CASKDB_OK;
}

static void writer_close(cdb_hint_writer *w) {
  if (w->fd >= 0)
    cdb_os->close(w->fd);
  w->fd = -1;
  free(w->buf);
  free(w->tmp_path);
  free(w->final_path);
  w->buf = NULL;
  w->tmp_path = w->final_path = NULL;
}

void cdb_hint_writer_abort(cdb_hint_writer *w) {
  if (w->tmp_path)
    cdb_os->unlink(w->tmp_path);
  writer_close(w);
}

int cdb_hint_writer_open(cdb_hint_writer *w, const char *dir, uint32_t id,
                         uint32_t part) {
  cdb_file_header h;
  memset(w, 0, sizeof *w);
  w->fd = -1;
  w->tmp_path = hint_path(dir, id, part, CDB_TMP_SUFFIX);
  w->final_path = hint_path(dir, id, part, "");
  w->cap = HINT_BUFFER;
  w->buf = malloc(w->cap);
  if (!w->tmp_path || !w->final_path || !w->buf) {
    writer_close(w);
    return CASKDB_ENOMEM;
  }
  w->fd = cdb_os->open(w->tmp_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (w->fd < 0) {
    int code = cdb_code_from_errno(errno);
    writer_close(w);
    return code;
  }
  h.version = CDB_FORMAT_VERSION;
  h.kind = CDB_FILE_HINT;
  h.file_id = id;
  h.part = part;
  cdb_file_header_encode(w->buf, &h);
  w->len = CDB_FILE_HEADER_SIZE;
  return CASKDB_OK;
}

/* Encode one hint record into the buffer (flushing first if needed). */
static int put_hint(cdb_hint_writer *w, uint8_t type, uint8_t key_kind,
                    uint8_t vtype, const unsigned char *key, uint32_t klen,
                    uint64_t ts, uint64_t expiry, uint32_t offset,
                    uint32_t size) {
  size_t need = CDB_HINT_HEADER_SIZE + klen;
  unsigned char *p;
  int rc;
  if (w->len + need > w->cap) {
    rc = flush_buffer(w);
    if (rc != CASKDB_OK)
      return rc;
  }
  if (need > w->cap) {
    unsigned char *bigger = realloc(w->buf, need);
    if (bigger == NULL)
      return CASKDB_ENOMEM;
    w->buf = bigger;
    w->cap = need;
  }
  p = w->buf + w->len;
  put_u64le(p + 4, ts);
  put_u64le(p + 12, expiry);
  put_u32le(p + 20, offset);
  put_u32le(p + 24, size);
  p[28] = type;
  p[29] = key_kind;
  p[30] = vtype;
  p[31] = 0;
  put_u32le(p + 32, klen);
  if (klen)
    memcpy(p + CDB_HINT_HEADER_SIZE, key, klen);
  put_u32le(p, cdb_crc32c(0, p + 4, need - 4));
  w->len += need;
  return CASKDB_OK;
}

int cdb_hint_writer_sync(cdb_hint_writer *w) {
  int rc = flush_buffer(w);
  if (rc == CASKDB_OK && cdb_os->fdatasync(w->fd) < 0)
    rc = cdb_code_from_errno(errno);
  return rc;
}

int cdb_hint_writer_add(cdb_hint_writer *w, const cdb_rec *r, uint64_t offset) {
  int del = r->type == CDB_REC_DELETE || r->type == CDB_REC_BATCH_DELETE;
  w->count++;
  return put_hint(w, del ? CDB_HINT_DELETE : CDB_HINT_PUT, r->key_kind,
                  del ? 0 : r->value_type, r->key, r->klen, r->timestamp,
                  r->expiry, (uint32_t)offset,
                  (uint32_t)cdb_rec_size(r->klen, r->vlen));
}

int cdb_hint_writer_finish(cdb_hint_writer *w, uint64_t data_size) {
  int rc = put_hint(w, CDB_HINT_END, CDB_KEY_BYTES, 0, NULL, 0, 0, 0,
                    (uint32_t)data_size, w->count);
  if (rc == CASKDB_OK)
    rc = flush_buffer(w);
  /* Synced before the rename, so that a power cut leaves the old state or
   * the whole hint, not an empty file under the final name (which would be
   * ignored, but is work for nothing). */
  if (rc == CASKDB_OK && cdb_os->fdatasync(w->fd) < 0)
    rc = cdb_code_from_errno(errno);
  if (rc == CASKDB_OK && cdb_os->rename(w->tmp_path, w->final_path) < 0)
    rc = cdb_code_from_errno(errno);
  if (rc != CASKDB_OK)
    cdb_hint_writer_abort(w);
  else
    writer_close(w);
  return rc;
}

/* ---- the hint of a file that just became immutable ------------------------
 *
 * The data file is scanned once; its committed records (batch records only
 * once their end record is seen, as at open) go to a sink.  The sorting
 * sink keeps them in memory, sorted by canonical key at the end, and the
 * hint gets each key's last record in the file (a later record of a key
 * replaces the earlier one, a delete included).  A file whose keys would
 * take more than SORT_LIMIT bytes to sort is scanned a second time straight
 * into the writer, in file order: such a hint loads more slowly (hint.h).
 */

#define SORT_LIMIT (64u * 1024 * 1024)

typedef int (*hint_sink)(void *ctx, const cdb_rec *r, uint64_t offset);

static int sink_writer(void *ctx, const cdb_rec *r, uint64_t offset) {
  return cdb_hint_writer_add(ctx, r, offset);
}

typedef struct sorted_entry {
  const unsigned char *key; /* canonical, in the arena (set when sorting) */
  size_t key_at;            /* its offset in the arena */
  uint32_t klen;
  uint32_t seq; /* position among the file's records: later wins */
  uint64_t timestamp, expiry;
  uint32_t offset, size;
  uint8_t type, vtype;
} sorted_entry;

typedef struct hint_sorter {
  sorted_entry *e;
  size_t n, cap;
  unsigned char *arena;
  size_t used, arena_cap;
  int too_big;
} hint_sorter;

/* buf (of *cap bytes) grown by doubling to hold need bytes, or NULL (buf
 * is left as it was). */
static void *grow(void *buf, size_t *cap, size_t need) {
  size_t n = *cap ? *cap : 4096;
  void *p;
  while (n < need)
    n *= 2;
  if (n == *cap)
    return buf;
  p = realloc(buf, n);
  if (p != NULL)
    *cap = n;
  return p;
}

static int sink_sorter(void *ctx, const cdb_rec *r, uint64_t offset) {
  hint_sorter *so = ctx;
  int del = r->type == CDB_REC_DELETE || r->type == CDB_REC_BATCH_DELETE;
  size_t bytes_e = (so->n + 1) * sizeof *so->e, ecap = so->cap * sizeof *so->e;
  sorted_entry *e;
  unsigned char *arena;
  if (so->used + CDB_CANON_MAX + bytes_e > SORT_LIMIT) {
    so->too_big = 1;
    return CASKDB_ENOMEM;
  }
  e = grow(so->e, &ecap, bytes_e);
  if (e == NULL)
    return CASKDB_ENOMEM;
  so->e = e;
  so->cap = ecap / sizeof *so->e;
  arena = grow(so->arena, &so->arena_cap, so->used + CDB_CANON_MAX);
  if (arena == NULL)
    return CASKDB_ENOMEM;
  so->arena = arena;
  e = &so->e[so->n];
  e->key_at = so->used;
  e->klen = (uint32_t)cdb_key_canon_from_disk(r->key_kind, r->key, r->klen,
                                              so->arena + so->used);
  so->used += e->klen;
  e->seq = (uint32_t)so->n;
  e->timestamp = r->timestamp;
  e->expiry = r->expiry;
  e->offset = (uint32_t)offset;
  e->size = (uint32_t)cdb_rec_size(r->klen, r->vlen);
  e->type = del ? CDB_HINT_DELETE : CDB_HINT_PUT;
  e->vtype = del ? 0 : r->value_type;
  so->n++;
  return CASKDB_OK;
}

static int compare_entries(const void *a, const void *b) {
  const sorted_entry *x = a, *y = b;
  int c = cdb_canon_cmp(x->key, x->klen, y->key, y->klen);
  if (c != 0)
    return c;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sort the entries and write each key's last one. */
static int write_sorted(cdb_hint_writer *w, hint_sorter *so) {
  size_t i;
  for (i = 0; i < so->n; i++)
    so->e[i].key = so->arena + so->e[i].key_at;
  if (so->n > 1)
    qsort(so->e, so->n, sizeof *so->e, compare_entries);
  for (i = 0; i < so->n; i++) {
    const sorted_entry *e = &so->e[i];
    unsigned char disk8[8];
    const unsigned char *kbytes;
    size_t klen;
    uint8_t kind;
    int rc;
    if (i + 1 < so->n &&
        cdb_canon_cmp(e->key, e->klen, e[1].key, e[1].klen) == 0)
      continue; /* a later record of the same key follows */
    cdb_key_to_disk(e->key, e->klen, &kind, &kbytes, &klen, disk8);
    w->count++;
    rc = put_hint(w, e->type, kind, e->vtype, kbytes, (uint32_t)klen,
                  e->timestamp, e->expiry, e->offset, e->size);
    if (rc != CASKDB_OK)
      return rc;
  }
  return CASKDB_OK;
}

/* Hint records for the committed records of a data file: batch records are
 * held until their end record, as at open. */
typedef struct pending_hints {
  uint64_t start; /* offset of the first record of an open batch */
  uint32_t n;     /* records in it */
} pending_hints;

static int add_committed(hint_sink sink, void *ctx, cdb_scanner *sc,
                         uint64_t from, uint64_t to) {
  uint64_t off = from;
  while (off < to) {
    cdb_rec r;
    if (cdb_scan_record(sc, off, &r) != CDB_SCAN_OK)
      return CASKDB_EIO;
    if (r.type != CDB_REC_BATCH_END) {
      int rc = sink(ctx, &r, off);
      if (rc != CASKDB_OK)
        return rc;
    }
    off += cdb_rec_size(r.klen, r.vlen);
  }
  return CASKDB_OK;
}

static int hint_from_scan(hint_sink sink, void *ctx, cdb_scanner *sc) {
  uint64_t off = CDB_FILE_HEADER_SIZE;
  pending_hints batch = {0, 0};
  for (;;) {
    cdb_rec r;
    int rc = cdb_scan_record(sc, off, &r);
    uint64_t size;
    if (rc == CDB_SCAN_END)
      return batch.n ? CASKDB_ECORRUPT : CASKDB_OK;
    if (rc != CDB_SCAN_OK)
      return CASKDB_ECORRUPT;
    size = cdb_rec_size(r.klen, r.vlen);
    if (r.type == CDB_REC_BATCH_PUT || r.type == CDB_REC_BATCH_DELETE) {
      if (batch.n++ == 0)
        batch.start = off;
    } else if (r.type == CDB_REC_BATCH_END) {
      rc = add_committed(sink, ctx, sc, batch.start, off);
      if (rc != CASKDB_OK)
        return rc;
      batch.n = 0;
    } else {
      rc = sink(ctx, &r, off);
      if (rc != CASKDB_OK)
        return rc;
    }
    off += size;
  }
}

/* Scan f into the sink. */
static int scan_file(const cdb_file *f, hint_sink sink, void *ctx) {
  cdb_scanner sc;
  int rc;
  if (cdb_scanner_init(&sc, f->fd, f->size) < 0)
    return CASKDB_ENOMEM;
  rc = hint_from_scan(sink, ctx, &sc);
  cdb_scanner_free(&sc);
  return rc;
}

/* The hint records of f, sorted when they fit in SORT_LIMIT. */
static int write_records(cdb_hint_writer *w, const cdb_file *f) {
  hint_sorter so;
  int rc;
  memset(&so, 0, sizeof so);
  rc = scan_file(f, sink_sorter, &so);
  if (rc == CASKDB_OK)
    rc = write_sorted(w, &so);
  else if (so.too_big)
    rc = scan_file(f, sink_writer, w);
  free(so.e);
  free(so.arena);
  return rc;
}

int cdb_hint_write_for(caskdb *db, const cdb_file *f) {
  cdb_hint_writer w;
  int rc = cdb_hint_writer_open(&w, db->path, f->id, f->part);
  if (rc != CASKDB_OK)
    return rc;
  rc = write_records(&w, f);
  if (rc != CASKDB_OK) {
    cdb_hint_writer_abort(&w);
    return rc;
  }
  return cdb_hint_writer_finish(&w, f->size);
}

void cdb_hint_remove(caskdb *db, const cdb_file *f) {
  char *path = hint_path(db->path, f->id, f->part, "");
  if (path)
    cdb_os->unlink(path);
  free(path);
}

/* ---- reading a hint -------------------------------------------------------
 */

/* Decode and check the hint record at off; 0 if it is not sound. */
static int read_hint(cdb_scanner *sc, uint64_t off, uint64_t data_size,
                     cdb_rec *r, uint32_t *offset, uint32_t *size,
                     uint8_t *type) {
  const unsigned char *p = cdb_scan_bytes(sc, off, CDB_HINT_HEADER_SIZE);
  uint32_t klen;
  if (p == NULL)
    return 0;
  klen = get_u32le(p + 32);
  *type = p[28];
  r->key_kind = p[29];
  r->value_type = p[30];
  if (p[31] != 0 || klen > CASKDB_MAX_KEY_SIZE + 9 ||
      (r->key_kind == CDB_KEY_INT && klen != 8) ||
      (r->key_kind == CDB_KEY_BYTES && klen > CASKDB_MAX_KEY_SIZE) ||
      (r->key_kind == CDB_KEY_LIST_ELEM && klen < 9) ||
      r->key_kind > CDB_KEY_LIST_ELEM)
    return 0;
  p = cdb_scan_bytes(sc, off, CDB_HINT_HEADER_SIZE + klen);
  if (p == NULL || get_u32le(p) != cdb_crc32c(0, p + 4, 32 + klen))
    return 0;
  r->timestamp = get_u64le(p + 4);
  r->expiry = get_u64le(p + 12);
  r->klen = klen;
  r->key = p + CDB_HINT_HEADER_SIZE;
  *offset = get_u32le(p + 20);
  *size = get_u32le(p + 24);
  if (*type == CDB_HINT_END)
    return klen == 0 && *offset == data_size;
  if (*type != CDB_HINT_PUT && *type != CDB_HINT_DELETE)
    return 0;
  /* The record it names must lie inside the data file, after its header,
   * and be at least big enough for its key. */
  return *offset >= CDB_FILE_HEADER_SIZE &&
         (uint64_t)*offset + *size <= data_size &&
         *size >= CDB_REC_HEADER_SIZE + klen;
}

static int check_hint_header(cdb_scanner *sc, const cdb_file *f) {
  const unsigned char *p = cdb_scan_bytes(sc, 0, CDB_FILE_HEADER_SIZE);
  cdb_file_header h;
  return p != NULL &&
         cdb_file_header_decode(p, CDB_FILE_HEADER_SIZE, &h) == CDB_DECODE_OK &&
         h.kind == CDB_FILE_HINT && h.file_id == f->id && h.part == f->part;
}

int cdb_hint_cursor_open(caskdb *db, const cdb_file *f, uint64_t data_size,
                         size_t window, cdb_hint_cursor *c) {
  char *path = hint_path(db->path, f->id, f->part, "");
  uint64_t size;
  memset(c, 0, sizeof *c);
  c->fd = -1;
  if (path == NULL)
    return CASKDB_ENOMEM;
  c->fd = cdb_os->open(path, O_RDONLY, 0);
  free(path);
  if (c->fd < 0)
    return CASKDB_ENOTFOUND;
  if (cdb_os->file_size(c->fd, &size) < 0) {
    cdb_os->close(c->fd);
    c->fd = -1;
    return CASKDB_ENOTFOUND;
  }
  if (cdb_scanner_init_window(&c->sc, c->fd, size, window) < 0) {
    cdb_os->close(c->fd);
    c->fd = -1;
    return CASKDB_ENOMEM;
  }
  c->data_size = data_size;
  c->off = CDB_FILE_HEADER_SIZE;
  if (!check_hint_header(&c->sc, f)) {
    cdb_hint_cursor_close(c);
    return CASKDB_ENOTFOUND;
  }
  return CASKDB_OK;
}

int cdb_hint_cursor_next(cdb_hint_cursor *c) {
  if (!read_hint(&c->sc, c->off, c->data_size, &c->r, &c->offset, &c->size,
                 &c->type))
    return -1;
  c->off += CDB_HINT_HEADER_SIZE + c->r.klen;
  if (c->type == CDB_HINT_END)
    return c->size == c->count && c->off == c->sc.file_size ? 0 : -1;
  c->count++;
  return 1;
}

void cdb_hint_cursor_close(cdb_hint_cursor *c) {
  if (c->fd < 0)
    return;
  cdb_scanner_free(&c->sc);
  cdb_os->close(c->fd);
  c->fd = -1;
}

void cdb_hint_cursor_loc(const cdb_hint_cursor *c, uint32_t slot,
                         cdb_loc *loc) {
  loc->slot = slot;
  loc->offset = c->offset;
  loc->size = c->size;
  loc->expiry = c->r.expiry;
  loc->vtype = c->r.value_type;
}

int cdb_hint_load(caskdb *db, cdb_file *f, uint32_t slot, uint64_t data_size) {
  cdb_hint_cursor c;
  int rc = cdb_hint_cursor_open(db, f, data_size, HINT_WINDOW, &c);
  int more;
  if (rc != CASKDB_OK)
    return rc;
  while ((more = cdb_hint_cursor_next(&c)) > 0) {
    cdb_loc loc;
    size_t clen =
        cdb_key_canon_from_disk(c.r.key_kind, c.r.key, c.r.klen, db->keybuf);
    cdb_hint_cursor_loc(&c, slot, &loc);
    rc = cdb_apply(db, db->keybuf, clen, &loc, c.type == CDB_HINT_DELETE);
    if (rc != CASKDB_OK)
      break;
  }
  cdb_hint_cursor_close(&c);
  if (rc != CASKDB_OK)
    return rc;
  return more == 0 ? CASKDB_OK : CASKDB_ENOTFOUND;
}

/*
 * iter.c -- ordered iteration that survives changes to the database.
 *
 * An iterator holds a keydir cursor and a copy of the last key it gave.
 * While the keydir's version is unchanged (no key inserted or removed) the
 * cursor is valid and moving on is one step.  When the version changed, the
 * cursor may point into a node that was split or freed, so it is thrown
 * away and the iterator seeks to the smallest key greater than the last one
 * it gave.  Keys only ever increase, so an iteration cannot loop and gives
 * no key twice.
 *
 * The handle keeps a list of its iterators so that closing the handle
 * first detaches them (they then answer CASKDB_EINVAL) instead of leaving
 * them pointing at freed memory.
 */
#include "db.h"
#include "key.h"
#include "shared.h"

#include <stdlib.h>
#include <string.h>

/* Where the next call starts. */
#define AT_START 0   /* seek to `start`, inclusive */
#define AFTER_LAST 1 /* the first key > `last` */

struct caskdb_iter {
  caskdb *db; /* NULL once the handle is closed */
  caskdb_iter *prev, *next;

  unsigned char *from; /* canonical `from` of the range; or NULL */
  size_t from_len;
  unsigned char *start; /* where to seek: max(from, prefix, sought key) */
  size_t start_len;
  unsigned char *to; /* canonical upper bound, exclusive; NULL: none */
  size_t to_len;
  unsigned char *prefix; /* canonical prefix (kind byte + bytes); or NULL */
  size_t prefix_len;
  int keys_only;

  int state;
  int done; /* gave CASKDB_DONE; stays done until a seek */
  cdb_kd_cursor cur;
  unsigned char *last; /* the last key given, canonical */
  size_t last_len;
};

static unsigned char *copy_bytes(const unsigned char *p, size_t n) {
  unsigned char *c = malloc(n ? n : 1);
  if (c && n)
    memcpy(c, p, n);
  return c;
}

static void iter_free(caskdb_iter *it) {
  free(it->from);
  free(it->start);
  free(it->to);
  free(it->prefix);
  free(it->last);
  free(it);
}

static void link_iter(caskdb *db, caskdb_iter *it) {
  it->prev = NULL;
  it->next = db->iters;
  if (db->iters)
    db->iters->prev = it;
  db->iters = it;
}

static void unlink_iter(caskdb_iter *it) {
  if (it->db == NULL)
    return;
  if (it->prev)
    it->prev->next = it->next;
  else
    it->db->iters = it->next;
  if (it->next)
    it->next->prev = it->prev;
}

void cdb_iter_detach_all(caskdb *db) {
  caskdb_iter *it = db->iters;
  while (it) {
    caskdb_iter *next = it->next;
    it->db = NULL;
    it->prev = it->next = NULL;
    it = next;
  }
  db->iters = NULL;
}

void cdb_iter_reseek_all(caskdb *db) {
  caskdb_iter *it;
  /* A version the new keydir has not reached (versions only grow): the
   * next step seeks past the last key instead of using the cursor. */
  for (it = db->iters; it; it = it->next)
    it->cur.version = cdb_kd_version(db->kd) - 1;
}

/* Set `start` to the larger of a canonical key and the range's bounds. */
static int set_start(caskdb_iter *it, const unsigned char *k, size_t klen) {
  const unsigned char *best = k;
  size_t best_len = klen;
  if (it->from && (best == NULL ||
                   cdb_canon_cmp(it->from, it->from_len, best, best_len) > 0)) {
    best = it->from;
    best_len = it->from_len;
  }
  if (it->prefix && (best == NULL || cdb_canon_cmp(it->prefix, it->prefix_len,
                                                   best, best_len) > 0)) {
    best = it->prefix;
    best_len = it->prefix_len;
  }
  free(it->start);
  it->start = NULL;
  it->start_len = 0;
  if (best) {
    it->start = copy_bytes(best, best_len);
    if (it->start == NULL)
      return CASKDB_ENOMEM;
    it->start_len = best_len;
  }
  it->state = AT_START;
  it->done = 0;
  return CASKDB_OK;
}

static int build_bounds(caskdb_iter *it, const caskdb_range *range,
                        unsigned char *buf) {
  size_t len;
  int rc;
  if (range->to) {
    rc = cdb_key_to_canon(range->to, buf, &len);
    if (rc != CASKDB_OK)
      return rc;
    it->to = copy_bytes(buf, len);
    if (it->to == NULL)
      return CASKDB_ENOMEM;
    it->to_len = len;
  }
  if (range->prefix || range->prefix_len) {
    caskdb_key p = caskdb_key_bytes(range->prefix, range->prefix_len);
    rc = cdb_key_to_canon(&p, buf, &len);
    if (rc != CASKDB_OK)
      return rc;
    it->prefix = copy_bytes(buf, len);
    if (it->prefix == NULL)
      return CASKDB_ENOMEM;
    it->prefix_len = len;
  }
  if (range->from) {
    rc = cdb_key_to_canon(range->from, buf, &len);
    if (rc != CASKDB_OK)
      return rc;
    it->from = copy_bytes(buf, len);
    if (it->from == NULL)
      return CASKDB_ENOMEM;
    it->from_len = len;
  }
  return set_start(it, NULL, 0);
}

int caskdb_iter_open(caskdb *db, const caskdb_range *range, caskdb_iter **itp) {
  caskdb_range all;
  caskdb_iter *it;
  int rc;
  if (db == NULL || itp == NULL)
    return CASKDB_EINVAL;
  *itp = NULL;
  if (range == NULL) {
    memset(&all, 0, sizeof all);
    range = &all;
  }
  it = calloc(1, sizeof *it);
  if (it == NULL)
    return CASKDB_ENOMEM;
  it->last = malloc(CDB_CANON_MAX);
  if (it->last == NULL) {
    free(it);
    return CASKDB_ENOMEM;
  }
  it->keys_only = range->keys_only;
  rc = build_bounds(it, range, db->keybuf);
  if (rc != CASKDB_OK) {
    iter_free(it);
    return rc;
  }
  it->db = db;
  link_iter(db, it);
  *itp = it;
  return CASKDB_OK;
}

int caskdb_iter_seek(caskdb_iter *it, caskdb_key key) {
  size_t len;
  int rc;
  if (it == NULL || it->db == NULL)
    return CASKDB_EINVAL;
  rc = cdb_key_to_canon(&key, it->db->keybuf, &len);
  if (rc != CASKDB_OK)
    return rc;
  return set_start(it, it->db->keybuf, len);
}

/* The entry under the cursor, read out of the keydir: the location is a
 * copy, the key is the keydir's (good until the keydir next changes). */
typedef struct iter_entry {
  const unsigned char *key;
  size_t klen;
  cdb_loc loc;
} iter_entry;

static int cursor_entry(const cdb_keydir *kd, const cdb_kd_cursor *cur,
                        iter_entry *e) {
  return cdb_kd_cursor_get(kd, cur, &e->key, &e->klen, &e->loc);
}

/* Put the cursor on the next candidate entry and read it into *e; 0 at the
 * end. */
static int advance(caskdb_iter *it, iter_entry *e) {
  cdb_keydir *kd = it->db->kd;
  if (it->state == AT_START) {
    cdb_kd_seek(kd, it->start, it->start_len, &it->cur);
    it->state = AFTER_LAST;
    return cursor_entry(kd, &it->cur, e);
  }
  if (it->cur.version == cdb_kd_version(kd)) {
    cdb_kd_cursor_next(kd, &it->cur);
    return cursor_entry(kd, &it->cur, e);
  }
  cdb_kd_seek(kd, it->last, it->last_len, &it->cur);
  if (!cursor_entry(kd, &it->cur, e))
    return 0;
  if (cdb_canon_cmp(e->key, e->klen, it->last, it->last_len) != 0)
    return 1;
  cdb_kd_cursor_next(kd, &it->cur); /* the last key given is still there */
  return cursor_entry(kd, &it->cur, e);
}

/* In key order, reads jump around the data files (they are in write order
 * until a merge sorts them by key), and each record costs cache and TLB
 * misses.  Asking for the record a few keys ahead lets those misses overlap
 * with the work on this one. */
#define PREFETCH_DISTANCE 4

static void prefetch_ahead(caskdb_iter *it) {
  cdb_keydir *kd = it->db->kd;
  cdb_kd_cursor ahead = it->cur;
  cdb_loc loc;
  int i;
  for (i = 0; i < PREFETCH_DISTANCE; i++)
    cdb_kd_cursor_next(kd, &ahead);
  if (cdb_kd_cursor_get(kd, &ahead, NULL, NULL, &loc))
    cdb_prefetch_record(it->db, &loc);
}

static int beyond_range(const caskdb_iter *it, const iter_entry *e) {
  if (e->key[0] == CDB_CANON_HIDDEN)
    return 1; /* engine-internal keys sort after every user key */
  if (it->to && cdb_canon_cmp(e->key, e->klen, it->to, it->to_len) >= 0)
    return 1;
  if (it->prefix && (e->klen < it->prefix_len ||
                     memcmp(e->key, it->prefix, it->prefix_len) != 0))
    return 1;
  return 0;
}

int caskdb_iter_next(caskdb_iter *it, caskdb_key *key, const void **value,
                     size_t *vlen, caskdb_meta *meta) {
  iter_entry entry, *e = &entry;
  cdb_rec r;
  int rc;
  if (it == NULL || it->db == NULL)
    return CASKDB_EINVAL;
  if (it->done)
    return CASKDB_DONE;
  if (it->db->sh && (rc = cdb_shared_refresh(it->db)) != CASKDB_OK)
    return rc;
  for (;;) {
    if (!advance(it, e) || beyond_range(it, e)) {
      it->done = 1;
      return CASKDB_DONE;
    }
    memcpy(it->last, e->key, e->klen);
    it->last_len = e->klen;
    if (!cdb_expired(it->db, e->loc.expiry))
      break;
  }
  if (key)
    *key = cdb_key_from_canon(it->last, it->last_len);
  if (meta) {
    meta->type = 0;
    meta->flags = 0;
    meta->expiry = e->loc.expiry;
  }
  if (value)
    *value = NULL;
  if (vlen)
    *vlen = 0;
  if (it->keys_only)
    return CASKDB_OK;
  prefetch_ahead(it);
  rc = cdb_read_record(it->db, &e->loc, &r);
  if (rc != CASKDB_OK)
    return rc;
  if (value)
    *value = r.value;
  if (vlen)
    *vlen = r.vlen;
  if (meta) {
    meta->type = r.value_type;
    meta->flags = r.flags;
  }
  return CASKDB_OK;
}

void caskdb_iter_close(caskdb_iter *it) {
  if (it == NULL)
    return;
  unlink_iter(it);
  iter_free(it);
}

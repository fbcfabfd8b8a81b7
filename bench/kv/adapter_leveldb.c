/*
 * adapter_leveldb.c -- LevelDB behind the bench_kv adapter interface,
 * through its C API (leveldb/c.h).
 *
 * Settings: the defaults (4 MiB write buffer, Snappy compression when the
 * library has it) plus the two its documentation recommends for reads: a
 * Bloom filter of 10 bits per key and a 64 MiB block cache.  Fast
 * workloads: WriteOptions.sync = false, the default: every put is appended
 * to the log with write(2), not fsynced (survives a process crash, as
 * CaskDB's sync=none).  Durable puts: sync = true (fsync of the log per
 * put).  Each get copies the value into a malloc'd buffer (the C API's only
 * way), freed at once.
 */
#include <stdio.h>
#include <stdlib.h>

#include <leveldb/c.h>

#include "adapter.h"

typedef struct ldb {
  leveldb_t *db;
  leveldb_options_t *opt;
  leveldb_cache_t *cache;
  leveldb_filterpolicy_t *bloom;
  leveldb_writeoptions_t *wo;
  leveldb_readoptions_t *ro;
} ldb;

static int ldb_fail(const char *what, char *err) {
  fprintf(stderr, "leveldb: %s: %s\n", what, err);
  leveldb_free(err);
  return -1;
}

static void *ldb_open(const char *dir, int durable, size_t nkeys,
                      size_t vsize) {
  ldb *h = calloc(1, sizeof *h);
  char *err = NULL;
  (void)nkeys;
  (void)vsize;
  if (h == NULL)
    return NULL;
  h->opt = leveldb_options_create();
  h->cache = leveldb_cache_create_lru(64 << 20);
  h->bloom = leveldb_filterpolicy_create_bloom(10);
  leveldb_options_set_create_if_missing(h->opt, 1);
  leveldb_options_set_cache(h->opt, h->cache);
  leveldb_options_set_filter_policy(h->opt, h->bloom);
  h->wo = leveldb_writeoptions_create();
  leveldb_writeoptions_set_sync(h->wo, durable);
  h->ro = leveldb_readoptions_create();
  h->db = leveldb_open(h->opt, dir, &err);
  if (err != NULL) {
    ldb_fail("open", err);
    return NULL;
  }
  return h;
}

static int ldb_close(void *p) {
  ldb *h = (ldb *)p;
  leveldb_close(h->db);
  leveldb_writeoptions_destroy(h->wo);
  leveldb_readoptions_destroy(h->ro);
  leveldb_options_destroy(h->opt);
  leveldb_filterpolicy_destroy(h->bloom);
  leveldb_cache_destroy(h->cache);
  free(h);
  return 0;
}

static int ldb_put(void *p, const void *k, size_t kl, const void *v,
                   size_t vl) {
  ldb *h = (ldb *)p;
  char *err = NULL;
  leveldb_put(h->db, h->wo, k, kl, v, vl, &err);
  return err == NULL ? 0 : ldb_fail("put", err);
}

static int ldb_get(void *p, const void *k, size_t kl, size_t *vl) {
  ldb *h = (ldb *)p;
  char *err = NULL;
  char *v = leveldb_get(h->db, h->ro, k, kl, vl, &err);
  if (err != NULL)
    return ldb_fail("get", err);
  if (v == NULL)
    return 0;
  kv_touch(v, *vl);
  leveldb_free(v);
  return 1;
}

static int ldb_del(void *p, const void *k, size_t kl) {
  ldb *h = (ldb *)p;
  char *err = NULL;
  leveldb_delete(h->db, h->wo, k, kl, &err);
  return err == NULL ? 0 : ldb_fail("delete", err);
}

static long ldb_scan(void *p, const void *k, size_t kl, long n) {
  ldb *h = (ldb *)p;
  leveldb_iterator_t *it = leveldb_create_iterator(h->db, h->ro);
  char *err = NULL;
  const char *s;
  size_t len;
  long got = 0;
  if (k != NULL)
    leveldb_iter_seek(it, k, kl);
  else
    leveldb_iter_seek_to_first(it);
  for (; leveldb_iter_valid(it) && (n == 0 || got < n); got++) {
    s = leveldb_iter_key(it, &len);
    kv_touch(s, len);
    s = leveldb_iter_value(it, &len);
    kv_touch(s, len);
    leveldb_iter_next(it);
  }
  leveldb_iter_get_error(it, &err);
  leveldb_iter_destroy(it);
  return err == NULL ? got : ldb_fail("iterate", err);
}

const kv_adapter kv_leveldb = {
    "LevelDB",
    "sync=false (log write(2) per put, no fsync), bloom 10 bits/key, "
    "64 MiB block cache, default compression",
    "WriteOptions.sync=true (fsync of the log per put)",
    ldb_open,
    ldb_close,
    ldb_put,
    ldb_get,
    ldb_del,
    ldb_scan};

/*
 * adapter_rocksdb.c -- RocksDB behind the bench_kv adapter interface,
 * through its C API (rocksdb/c.h).
 *
 * Settings, after RocksDB's tuning guide: IncreaseParallelism(2) for the
 * two cores, a block-based table with a Bloom filter of 10 bits per key and
 * a 64 MiB LRU block cache; everything else the default (64 MiB memtable,
 * level compaction, Snappy/LZ4 compression when the library has it).  Fast
 * workloads: WriteOptions.sync = false, the default: every put is appended
 * to the WAL with write(2), not fsynced.  Durable puts: sync = true.  Gets
 * use rocksdb_get_pinned, which saves the copy of the value.
 */
#include <stdio.h>
#include <stdlib.h>

#include <rocksdb/c.h>

#include "adapter.h"

typedef struct rdb {
  rocksdb_t *db;
  rocksdb_options_t *opt;
  rocksdb_block_based_table_options_t *bbt;
  rocksdb_cache_t *cache;
  rocksdb_writeoptions_t *wo;
  rocksdb_readoptions_t *ro;
} rdb;

static int rdb_fail(const char *what, char *err) {
  fprintf(stderr, "rocksdb: %s: %s\n", what, err);
  rocksdb_free(err);
  return -1;
}

static void *rdb_open(const char *dir, int durable, size_t nkeys,
                      size_t vsize) {
  rdb *h = calloc(1, sizeof *h);
  char *err = NULL;
  (void)nkeys;
  (void)vsize;
  if (h == NULL)
    return NULL;
  h->opt = rocksdb_options_create();
  rocksdb_options_increase_parallelism(h->opt, 2);
  rocksdb_options_set_create_if_missing(h->opt, 1);
  h->bbt = rocksdb_block_based_options_create();
  h->cache = rocksdb_cache_create_lru(64 << 20);
  rocksdb_block_based_options_set_block_cache(h->bbt, h->cache);
  rocksdb_block_based_options_set_filter_policy(
      h->bbt, rocksdb_filterpolicy_create_bloom(10));
  rocksdb_options_set_block_based_table_factory(h->opt, h->bbt);
  h->wo = rocksdb_writeoptions_create();
  rocksdb_writeoptions_set_sync(h->wo, durable);
  h->ro = rocksdb_readoptions_create();
  h->db = rocksdb_open(h->opt, dir, &err);
  if (err != NULL) {
    rdb_fail("open", err);
    return NULL;
  }
  return h;
}

static int rdb_close(void *p) {
  rdb *h = (rdb *)p;
  rocksdb_close(h->db);
  rocksdb_writeoptions_destroy(h->wo);
  rocksdb_readoptions_destroy(h->ro);
  rocksdb_options_destroy(h->opt);
  rocksdb_block_based_options_destroy(h->bbt);
  rocksdb_cache_destroy(h->cache);
  free(h);
  return 0;
}

static int rdb_put(void *p, const void *k, size_t kl, const void *v,
                   size_t vl) {
  rdb *h = (rdb *)p;
  char *err = NULL;
  rocksdb_put(h->db, h->wo, k, kl, v, vl, &err);
  return err == NULL ? 0 : rdb_fail("put", err);
}

static int rdb_get(void *p, const void *k, size_t kl, size_t *vl) {
  rdb *h = (rdb *)p;
  char *err = NULL;
  const char *v;
  rocksdb_pinnableslice_t *ps = rocksdb_get_pinned(h->db, h->ro, k, kl, &err);
  if (err != NULL)
    return rdb_fail("get", err);
  if (ps == NULL)
    return 0;
  v = rocksdb_pinnableslice_value(ps, vl);
  kv_touch(v, *vl);
  rocksdb_pinnableslice_destroy(ps);
  return 1;
}

static int rdb_del(void *p, const void *k, size_t kl) {
  rdb *h = (rdb *)p;
  char *err = NULL;
  rocksdb_delete(h->db, h->wo, k, kl, &err);
  return err == NULL ? 0 : rdb_fail("delete", err);
}

static long rdb_scan(void *p, const void *k, size_t kl, long n) {
  rdb *h = (rdb *)p;
  rocksdb_iterator_t *it = rocksdb_create_iterator(h->db, h->ro);
  char *err = NULL;
  const char *s;
  size_t len;
  long got = 0;
  if (k != NULL)
    rocksdb_iter_seek(it, k, kl);
  else
    rocksdb_iter_seek_to_first(it);
  for (; rocksdb_iter_valid(it) && (n == 0 || got < n); got++) {
    s = rocksdb_iter_key(it, &len);
    kv_touch(s, len);
    s = rocksdb_iter_value(it, &len);
    kv_touch(s, len);
    rocksdb_iter_next(it);
  }
  rocksdb_iter_get_error(it, &err);
  rocksdb_iter_destroy(it);
  return err == NULL ? got : rdb_fail("iterate", err);
}

const kv_adapter kv_rocksdb = {
    "RocksDB",
    "sync=false (WAL write(2) per put, no fsync), IncreaseParallelism(2), "
    "bloom 10 bits/key, 64 MiB block cache, default compression",
    "WriteOptions.sync=true (fsync of the WAL per put)",
    rdb_open,
    rdb_close,
    rdb_put,
    rdb_get,
    rdb_del,
    rdb_scan};

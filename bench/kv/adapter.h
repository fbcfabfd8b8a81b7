/*
 * adapter.h -- what bench_kv asks of each engine it measures.
 *
 * One adapter per engine (adapter_<engine>.c), each a table of functions
 * over an opaque handle.  The workloads in bench_kv.c call only these, so
 * every engine runs exactly the same sequence of operations.  An adapter is
 * compiled only when its library was found (KV_HAVE_<ENGINE>, set by
 * bench/CMakeLists.txt).
 *
 * Rules for an adapter: every call is one operation as an application would
 * make it, acknowledged at the durability level the adapter's `fast` (or
 * `durable`) line states; a get reads the value's bytes (kv_touch), so that
 * an engine handing out a pointer into a mapping pays for the page it
 * points to; failures print one line to stderr and return -1.
 */
#ifndef KV_ADAPTER_H
#define KV_ADAPTER_H

#include <stddef.h>

typedef struct kv_adapter {
  const char *name;    /* column header, e.g. "LMDB" */
  const char *fast;    /* the settings of every workload but "durable" */
  const char *durable; /* the settings of the durable puts */
  /* Open (creating) the database in the existing, empty or previously
   * used directory `dir`.  durable: every put is on disk (fsync) before it
   * returns.  nkeys and vsize are hints for engines that must size a map.
   * Returns the handle or NULL. */
  void *(*open)(const char *dir, int durable, size_t nkeys, size_t vsize);
  /* Close the handle; 0 or -1. */
  int (*close)(void *h);
  /* Insert or replace; 0 or -1. */
  int (*put)(void *h, const void *k, size_t kl, const void *v, size_t vl);
  /* 1 found (value length in *vl, its bytes touched), 0 missing, -1. */
  int (*get)(void *h, const void *k, size_t kl, size_t *vl);
  /* Delete (a missing key is not an error); 0 or -1. */
  int (*del)(void *h, const void *k, size_t kl);
  /* Read up to n pairs (n 0: all) in key order from the first key >= k
   * (k NULL: from the first key), touching keys and values.  Returns the
   * number of pairs read or -1. */
  long (*scan)(void *h, const void *k, size_t kl, long n);
} kv_adapter;

/* Where kv_touch leaves what it read, so the compiler cannot drop it. */
extern volatile unsigned kv_sink;

/* Read the first and last byte of a value or key. */
static inline void kv_touch(const void *p, size_t n) {
  if (n > 0)
    kv_sink +=
        ((const unsigned char *)p)[0] + ((const unsigned char *)p)[n - 1];
}

extern const kv_adapter kv_caskdb;
extern const kv_adapter kv_lmdb;
extern const kv_adapter kv_leveldb;
extern const kv_adapter kv_rocksdb;
extern const kv_adapter kv_sqlite;

/* hints.c: the CaskDB-only figures (keydir bytes per key, reopen from hint
 * files against reopen from data files only), printed as markdown. */
int kv_caskdb_hints(const char *dir, size_t n, const size_t *vsizes,
                    int nvsizes, unsigned long long seed);

#endif /* KV_ADAPTER_H */

/*
 * adapter_caskdb.c -- CaskDB behind the bench_kv adapter interface.
 *
 * Fast workloads: sync = CASKDB_SYNC_NONE, the default: every put is one
 * write(2), so an acknowledged put survives a process crash (not a power
 * cut).  Durable puts: CASKDB_SYNC_ALWAYS, one fdatasync(2) per put.
 * Everything else is the default (64 MiB data files, no merge).
 */
#include <stdio.h>

#include "adapter.h"
#include "caskdb.h"

static void *cask_open(const char *dir, int durable, size_t nkeys,
                       size_t vsize) {
  caskdb_options o;
  caskdb *db;
  char err[512];
  (void)nkeys;
  (void)vsize;
  caskdb_options_init(&o);
  o.sync = durable ? CASKDB_SYNC_ALWAYS : CASKDB_SYNC_NONE;
  if (caskdb_open(dir, &o, &db, err, sizeof err) != CASKDB_OK) {
    fprintf(stderr, "caskdb: open %s: %s\n", dir, err);
    return NULL;
  }
  return db;
}

static int cask_close(void *h) {
  return caskdb_close((caskdb *)h) == CASKDB_OK ? 0 : -1;
}

static int fail(caskdb *db, const char *what, int rc) {
  fprintf(stderr, "caskdb: %s: %s (%s)\n", what, caskdb_strerror(rc),
          caskdb_errmsg(db));
  return -1;
}

static int cask_put(void *h, const void *k, size_t kl, const void *v,
                    size_t vl) {
  int rc = caskdb_put((caskdb *)h, caskdb_key_bytes(k, kl), v, vl, NULL);
  return rc == CASKDB_OK ? 0 : fail((caskdb *)h, "put", rc);
}

static int cask_get(void *h, const void *k, size_t kl, size_t *vl) {
  const void *v;
  int rc = caskdb_get((caskdb *)h, caskdb_key_bytes(k, kl), &v, vl, NULL);
  if (rc == CASKDB_OK) {
    kv_touch(v, *vl);
    return 1;
  }
  return rc == CASKDB_ENOTFOUND ? 0 : fail((caskdb *)h, "get", rc);
}

static int cask_del(void *h, const void *k, size_t kl) {
  int rc = caskdb_delete((caskdb *)h, caskdb_key_bytes(k, kl));
  return rc == CASKDB_OK || rc == CASKDB_ENOTFOUND
             ? 0
             : fail((caskdb *)h, "delete", rc);
}

static long cask_scan(void *h, const void *k, size_t kl, long n) {
  caskdb_key from = caskdb_key_bytes(k, kl), key;
  caskdb_range r = {0};
  caskdb_iter *it;
  const void *v;
  size_t vl;
  long got = 0;
  int rc;
  if (k != NULL)
    r.from = &from;
  rc = caskdb_iter_open((caskdb *)h, &r, &it);
  if (rc != CASKDB_OK)
    return fail((caskdb *)h, "iter_open", rc);
  while ((n == 0 || got < n) &&
         (rc = caskdb_iter_next(it, &key, &v, &vl, NULL)) == CASKDB_OK) {
    kv_touch(key.data, key.len);
    kv_touch(v, vl);
    got++;
  }
  caskdb_iter_close(it);
  if (rc != CASKDB_OK && rc != CASKDB_DONE)
    return fail((caskdb *)h, "iter_next", rc);
  return got;
}

const kv_adapter kv_caskdb = {
    "CaskDB",
    "sync=none (one write(2) per put: survives a process crash)",
    "sync=always (fdatasync per put)",
    cask_open,
    cask_close,
    cask_put,
    cask_get,
    cask_del,
    cask_scan};

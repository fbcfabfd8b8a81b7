/*
 * adapter_lmdb.c -- LMDB behind the bench_kv adapter interface.
 *
 * One write transaction per put or delete (so that each acknowledged write
 * stands alone, as with the other engines).  Reads use one read-only
 * transaction kept reset between operations and renewed for each get or
 * scan, the pattern lmdb.h recommends for frequent short reads.
 *
 * Fast workloads: MDB_NOSYNC | MDB_WRITEMAP.  This is weaker than CaskDB's
 * sync=none in one way and alike in another: a commit makes no write(2) at
 * all, the pages are changed in a shared file mapping; the kernel owns them,
 * so they survive a crash of the process, but nothing reaches the disk until
 * the kernel writes the mapping back.  Durable puts: the default flags (a
 * commit writes and fdatasyncs the data pages, then the meta page).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <lmdb.h>

#include "adapter.h"

typedef struct lm {
  MDB_env *env;
  MDB_dbi dbi;
  MDB_txn *rtxn; /* reset between reads */
  MDB_cursor *cur;
} lm;

static void *lm_fail(const char *what, int rc) {
  fprintf(stderr, "lmdb: %s: %s\n", what, mdb_strerror(rc));
  return NULL;
}

static void *lm_open(const char *dir, int durable, size_t nkeys, size_t vsize) {
  lm *h = calloc(1, sizeof *h);
  MDB_txn *txn;
  size_t map = (size_t)4 << 30, need = nkeys * (vsize + 128) * 8;
  int rc;
  if (h == NULL)
    return lm_fail("calloc", ENOMEM);
  if (need > map)
    map = need;
  if ((rc = mdb_env_create(&h->env)) != 0)
    return lm_fail("env_create", rc);
  if ((rc = mdb_env_set_mapsize(h->env, map)) != 0)
    return lm_fail("set_mapsize", rc);
  rc = mdb_env_open(h->env, dir, durable ? 0 : MDB_NOSYNC | MDB_WRITEMAP, 0644);
  if (rc != 0)
    return lm_fail("env_open", rc);
  if ((rc = mdb_txn_begin(h->env, NULL, 0, &txn)) != 0)
    return lm_fail("txn_begin", rc);
  if ((rc = mdb_dbi_open(txn, NULL, 0, &h->dbi)) != 0)
    return lm_fail("dbi_open", rc);
  if ((rc = mdb_txn_commit(txn)) != 0)
    return lm_fail("commit", rc);
  if ((rc = mdb_txn_begin(h->env, NULL, MDB_RDONLY, &h->rtxn)) != 0)
    return lm_fail("txn_begin(rdonly)", rc);
  if ((rc = mdb_cursor_open(h->rtxn, h->dbi, &h->cur)) != 0)
    return lm_fail("cursor_open", rc);
  mdb_txn_reset(h->rtxn);
  return h;
}

static int lm_close(void *p) {
  lm *h = (lm *)p;
  mdb_cursor_close(h->cur);
  mdb_txn_abort(h->rtxn);
  mdb_env_close(h->env);
  free(h);
  return 0;
}

static int lm_write(lm *h, const void *k, size_t kl, const void *v, size_t vl,
                    int del) {
  MDB_val key = {kl, (void *)k}, val = {vl, (void *)v};
  MDB_txn *txn;
  int rc = mdb_txn_begin(h->env, NULL, 0, &txn);
  if (rc != 0) {
    lm_fail("txn_begin", rc);
    return -1;
  }
  rc = del ? mdb_del(txn, h->dbi, &key, NULL)
           : mdb_put(txn, h->dbi, &key, &val, 0);
  if (rc == MDB_NOTFOUND) {
    mdb_txn_abort(txn);
    return 0;
  }
  if (rc != 0) {
    mdb_txn_abort(txn);
    lm_fail(del ? "del" : "put", rc);
    return -1;
  }
  if ((rc = mdb_txn_commit(txn)) != 0) {
    lm_fail("commit", rc);
    return -1;
  }
  return 0;
}

static int lm_put(void *h, const void *k, size_t kl, const void *v, size_t vl) {
  return lm_write((lm *)h, k, kl, v, vl, 0);
}

static int lm_del(void *h, const void *k, size_t kl) {
  return lm_write((lm *)h, k, kl, NULL, 0, 1);
}

static int lm_get(void *p, const void *k, size_t kl, size_t *vl) {
  lm *h = (lm *)p;
  MDB_val key = {kl, (void *)k}, val;
  int rc = mdb_txn_renew(h->rtxn);
  if (rc != 0) {
    lm_fail("txn_renew", rc);
    return -1;
  }
  rc = mdb_get(h->rtxn, h->dbi, &key, &val);
  if (rc == 0) {
    kv_touch(val.mv_data, val.mv_size);
    *vl = val.mv_size;
  }
  mdb_txn_reset(h->rtxn);
  if (rc == 0)
    return 1;
  if (rc == MDB_NOTFOUND)
    return 0;
  lm_fail("get", rc);
  return -1;
}

static long lm_scan(void *p, const void *k, size_t kl, long n) {
  lm *h = (lm *)p;
  MDB_val key = {kl, (void *)k}, val;
  long got = 0;
  int rc = mdb_txn_renew(h->rtxn);
  if (rc == 0)
    rc = mdb_cursor_renew(h->rtxn, h->cur);
  if (rc != 0) {
    lm_fail("renew", rc);
    return -1;
  }
  rc = mdb_cursor_get(h->cur, &key, &val, k ? MDB_SET_RANGE : MDB_FIRST);
  while (rc == 0 && (n == 0 || got < n)) {
    kv_touch(key.mv_data, key.mv_size);
    kv_touch(val.mv_data, val.mv_size);
    got++;
    rc = mdb_cursor_get(h->cur, &key, &val, MDB_NEXT);
  }
  mdb_txn_reset(h->rtxn);
  if (rc != 0 && rc != MDB_NOTFOUND) {
    lm_fail("cursor_get", rc);
    return -1;
  }
  return got;
}

const kv_adapter kv_lmdb = {
    "LMDB",
    "MDB_NOSYNC|MDB_WRITEMAP, one txn per write (weaker: no write(2) per put; "
    "data sits in a shared mapping, survives a process crash)",
    "default flags (fdatasync of data, then of the meta page, per commit)",
    lm_open,
    lm_close,
    lm_put,
    lm_get,
    lm_del,
    lm_scan};

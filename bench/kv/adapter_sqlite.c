/*
 * adapter_sqlite.c -- SQLite behind the bench_kv adapter interface.
 *
 * One table kv(k BLOB PRIMARY KEY, v BLOB): WITHOUT ROWID for values of up
 * to 200 bytes (SQLite's advice for small rows), an ordinary rowid table
 * otherwise.  Prepared statements, reset after each use; a 64 MiB page
 * cache.  Every write is its own transaction (autocommit), so that each
 * acknowledged put stands alone as with the other engines.
 *
 * Fast workloads: journal_mode=WAL, synchronous=OFF: each commit appends
 * its pages to the WAL with write(2) and no fsync (survives a process
 * crash).  Durable puts: journal_mode=WAL, synchronous=FULL (the WAL is
 * fsynced at every commit).
 */
#include <stdio.h>
#include <stdlib.h>

#include <sqlite3.h>

#include "adapter.h"

typedef struct sq {
  sqlite3 *db;
  sqlite3_stmt *put, *get, *del, *range, *all;
} sq;

static int sq_fail(sq *h, const char *what) {
  fprintf(stderr, "sqlite: %s: %s\n", what, sqlite3_errmsg(h->db));
  return -1;
}

static int sq_exec(sq *h, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(h->db, sql, NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "sqlite: %s: %s\n", sql, err);
    sqlite3_free(err);
    return -1;
  }
  return 0;
}

static int sq_prepare(sq *h, const char *sql, sqlite3_stmt **st) {
  if (sqlite3_prepare_v2(h->db, sql, -1, st, NULL) != SQLITE_OK)
    return sq_fail(h, sql);
  return 0;
}

static void *sq_open(const char *dir, int durable, size_t nkeys, size_t vsize) {
  char path[4096];
  sq *h = calloc(1, sizeof *h);
  (void)nkeys;
  if (h == NULL)
    return NULL;
  snprintf(path, sizeof path, "%s/kv.sqlite", dir);
  if (sqlite3_open(path, &h->db) != SQLITE_OK) {
    sq_fail(h, "open");
    return NULL;
  }
  if (sq_exec(h, "PRAGMA journal_mode=WAL") != 0 ||
      sq_exec(h, durable ? "PRAGMA synchronous=FULL"
                         : "PRAGMA synchronous=OFF") != 0 ||
      sq_exec(h, "PRAGMA cache_size=-65536") != 0 ||
      sq_exec(h, vsize <= 200 ? "CREATE TABLE IF NOT EXISTS kv(k BLOB PRIMARY "
                                "KEY, v BLOB) WITHOUT ROWID"
                              : "CREATE TABLE IF NOT EXISTS kv(k BLOB PRIMARY "
                                "KEY, v BLOB)") != 0)
    return NULL;
  if (sq_prepare(h, "INSERT OR REPLACE INTO kv(k, v) VALUES(?1, ?2)",
                 &h->put) != 0 ||
      sq_prepare(h, "SELECT v FROM kv WHERE k = ?1", &h->get) != 0 ||
      sq_prepare(h, "DELETE FROM kv WHERE k = ?1", &h->del) != 0 ||
      sq_prepare(h, "SELECT k, v FROM kv WHERE k >= ?1 ORDER BY k LIMIT ?2",
                 &h->range) != 0 ||
      sq_prepare(h, "SELECT k, v FROM kv ORDER BY k", &h->all) != 0)
    return NULL;
  return h;
}

static int sq_close(void *p) {
  sq *h = (sq *)p;
  sqlite3_finalize(h->put);
  sqlite3_finalize(h->get);
  sqlite3_finalize(h->del);
  sqlite3_finalize(h->range);
  sqlite3_finalize(h->all);
  if (sqlite3_close(h->db) != SQLITE_OK)
    return sq_fail(h, "close");
  free(h);
  return 0;
}

static int sq_write(sq *h, sqlite3_stmt *st, const void *k, size_t kl) {
  int rc;
  sqlite3_bind_blob(st, 1, k, (int)kl, SQLITE_STATIC);
  rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : sq_fail(h, "step");
}

static int sq_put(void *p, const void *k, size_t kl, const void *v, size_t vl) {
  sq *h = (sq *)p;
  sqlite3_bind_blob(h->put, 2, v, (int)vl, SQLITE_STATIC);
  return sq_write(h, h->put, k, kl);
}

static int sq_del(void *p, const void *k, size_t kl) {
  sq *h = (sq *)p;
  return sq_write(h, h->del, k, kl);
}

static int sq_get(void *p, const void *k, size_t kl, size_t *vl) {
  sq *h = (sq *)p;
  int rc, found = 0;
  sqlite3_bind_blob(h->get, 1, k, (int)kl, SQLITE_STATIC);
  rc = sqlite3_step(h->get);
  if (rc == SQLITE_ROW) {
    const void *v = sqlite3_column_blob(h->get, 0);
    *vl = (size_t)sqlite3_column_bytes(h->get, 0);
    kv_touch(v, *vl);
    found = 1;
  } else if (rc != SQLITE_DONE) {
    sqlite3_reset(h->get);
    return sq_fail(h, "get");
  }
  sqlite3_reset(h->get);
  return found;
}

static long sq_scan(void *p, const void *k, size_t kl, long n) {
  sq *h = (sq *)p;
  sqlite3_stmt *st = h->all;
  long got = 0;
  int rc = SQLITE_DONE;
  if (k != NULL) {
    st = h->range;
    sqlite3_bind_blob(st, 1, k, (int)kl, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, n > 0 ? n : -1);
  }
  while ((n == 0 || got < n) && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    kv_touch(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
    kv_touch(sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1));
    got++;
  }
  sqlite3_reset(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return sq_fail(h, "scan");
  return got;
}

const kv_adapter kv_sqlite = {
    "SQLite",
    "WAL, synchronous=OFF, autocommit (one transaction per write: WAL "
    "write(2) per put, no fsync), prepared statements, 64 MiB cache",
    "WAL, synchronous=FULL (WAL fsync per commit)",
    sq_open,
    sq_close,
    sq_put,
    sq_get,
    sq_del,
    sq_scan};

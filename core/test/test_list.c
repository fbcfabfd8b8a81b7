/*
 * test_list.c -- lists: push and pop at both ends against a model, one
 * append per operation, lists survive reopen and merge, overwriting or
 * deleting a list removes its elements, elements are invisible to users.
 */
#include "caskdb.h"
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char tmpdir[256];

static caskdb *open_db(const char *path, const caskdb_options *o) {
  caskdb *db = NULL;
  char err[256];
  int rc = caskdb_open(path, o, &db, err, sizeof err);
  if (rc != CASKDB_OK)
    fprintf(stderr, "open %s: %s (%s)\n", path, caskdb_code_name(rc), err);
  REQUIRE(rc == CASKDB_OK);
  return db;
}

static caskdb_key skey(const char *s) { return caskdb_key_bytes(s, strlen(s)); }

/* A deque model of one list of ints. */
#define CAP 4096
typedef struct deque {
  int v[2 * CAP];
  int head, tail; /* v[head .. tail-1] */
} deque;

static int pop_is(caskdb *db, const char *key, int left, int want) {
  const void *v;
  size_t vlen;
  char buf[32];
  caskdb_meta meta;
  snprintf(buf, sizeof buf, "%d", want);
  return caskdb_list_pop(db, skey(key), left, &v, &vlen, &meta) == CASKDB_OK &&
         vlen == strlen(buf) && memcmp(v, buf, vlen) == 0 && meta.type == 7;
}

static int push(caskdb *db, const char *key, int left, int value,
                uint64_t *len) {
  char buf[32];
  caskdb_meta meta = {7, 0, 0};
  snprintf(buf, sizeof buf, "%d", value);
  return caskdb_list_push(db, skey(key), left, buf, strlen(buf), &meta, len) ==
         CASKDB_OK;
}

static uint64_t file_bytes(caskdb *db) {
  caskdb_stats st;
  caskdb_get_stats(db, &st);
  return st.disk_bytes;
}

static void test_model(void) {
  char path[300];
  static deque d;
  caskdb_options o;
  caskdb *db;
  unsigned seed = 3;
  int i, ok = 1;
  uint64_t len, before;
  snprintf(path, sizeof path, "%s/model", tmpdir);
  caskdb_options_init(&o);
  o.max_file_size = 16384;
  db = open_db(path, &o);
  d.head = d.tail = CAP;
  for (i = 0; i < 3000; i++) {
    int r = rand_r(&seed) % 10;
    if (r < 6) {
      int left = r < 3;
      ok &= push(db, "L", left, i, &len);
      if (left)
        d.v[--d.head] = i;
      else
        d.v[d.tail++] = i;
      ok &= len == (uint64_t)(d.tail - d.head);
    } else if (r < 9) {
      int left = r < 8;
      if (d.head == d.tail) {
        const void *v;
        size_t vlen;
        ok &= caskdb_list_pop(db, skey("L"), left, &v, &vlen, NULL) ==
              CASKDB_ENOTFOUND;
      } else {
        ok &= pop_is(db, "L", left, left ? d.v[d.head] : d.v[d.tail - 1]);
        if (left)
          d.head++;
        else
          d.tail--;
      }
    } else if (rand_r(&seed) % 20 == 0) {
      caskdb_close(db);
      db = open_db(path, &o);
    } else if (rand_r(&seed) % 20 == 0) {
      ok &= caskdb_merge(db) == CASKDB_OK;
    }
    ok &= caskdb_list_len(db, skey("L"), &len) == CASKDB_OK &&
          len == (uint64_t)(d.tail - d.head);
    if (!ok) {
      fprintf(stderr, "list model: wrong at step %d\n", i);
      break;
    }
  }
  CHECK(ok);
  /* Elements are not user keys. */
  CHECK_EQ(caskdb_count(db), d.head == d.tail ? 0 : 1);
  {
    caskdb_iter *it;
    caskdb_key k;
    int n = 0;
    REQUIRE(caskdb_iter_open(db, NULL, &it) == CASKDB_OK);
    while (caskdb_iter_next(it, &k, NULL, NULL, NULL) == CASKDB_OK)
      n++;
    caskdb_iter_close(it);
    CHECK_EQ(n, d.head == d.tail ? 0 : 1);
  }
  /* One push is one append of two records, whatever the length. */
  before = file_bytes(db);
  ok = push(db, "L", 0, 12345, &len);
  CHECK(ok);
  CHECK(file_bytes(db) - before < 200);
  caskdb_close(db);
}

static void test_types_and_replace(void) {
  char path[300];
  caskdb_options o;
  caskdb_stats st;
  caskdb *db;
  const void *v;
  size_t vlen;
  uint64_t len;
  caskdb_meta meta = {5, 0, 0};
  int i, ok = 1;
  snprintf(path, sizeof path, "%s/types", tmpdir);
  caskdb_options_init(&o);
  db = open_db(path, &o);
  CHECK_EQ(caskdb_put(db, skey("s"), "x", 1, NULL), CASKDB_OK);
  CHECK_EQ(caskdb_list_push(db, skey("s"), 1, "a", 1, NULL, &len),
           CASKDB_ENOTLIST);
  CHECK_EQ(caskdb_list_pop(db, skey("s"), 1, &v, &vlen, NULL), CASKDB_ENOTLIST);
  CHECK_EQ(caskdb_list_len(db, skey("s"), &len), CASKDB_ENOTLIST);
  CHECK_EQ(caskdb_list_len(db, skey("missing"), &len), CASKDB_OK);
  CHECK_EQ(len, 0);
  CHECK_EQ(caskdb_put(db, skey("t"), "x", 1, &meta), CASKDB_EINVAL);
  for (i = 0; i < 100; i++)
    ok &= push(db, "L", 0, i, &len);
  CHECK(ok);
  caskdb_get_stats(db, &st);
  CHECK_EQ(st.keys, 2);
  /* Overwriting the list removes its elements: after a merge only the
   * value is left. */
  CHECK_EQ(caskdb_put(db, skey("L"), "plain", 5, NULL), CASKDB_OK);
  CHECK_EQ(caskdb_list_len(db, skey("L"), &len), CASKDB_ENOTLIST);
  CHECK_EQ(caskdb_merge(db), CASKDB_OK);
  caskdb_get_stats(db, &st);
  CHECK(st.live_bytes < 200);
  /* A deleted list is gone, and a new one starts empty. */
  for (i = 0; i < 10; i++)
    ok &= push(db, "M", 0, i, &len);
  CHECK_EQ(caskdb_delete(db, skey("M")), CASKDB_OK);
  CHECK_EQ(caskdb_list_len(db, skey("M"), &len), CASKDB_OK);
  CHECK_EQ(len, 0);
  ok &= push(db, "M", 0, 99, &len);
  CHECK(ok);
  CHECK_EQ(len, 1);
  CHECK(pop_is(db, "M", 1, 99));
  CHECK_EQ(caskdb_exists(db, skey("M")), CASKDB_ENOTFOUND);
  /* An integer key may hold a list too. */
  CHECK_EQ(caskdb_list_push(db, caskdb_key_int(-3), 0, "i", 1, NULL, &len),
           CASKDB_OK);
  caskdb_close(db);
  db = open_db(path, &o);
  CHECK_EQ(caskdb_list_len(db, caskdb_key_int(-3), &len), CASKDB_OK);
  CHECK_EQ(len, 1);
  CHECK_EQ(caskdb_count(db), 3); /* "s", "L" and -3 */
  caskdb_close(db);
}

int main(void) {
  char cmd[300];
  snprintf(tmpdir, sizeof tmpdir, "/tmp/caskdb-test-list-XXXXXX");
  REQUIRE(mkdtemp(tmpdir) != NULL);
  test_model();
  test_types_and_replace();
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", tmpdir);
  return check_report();
}

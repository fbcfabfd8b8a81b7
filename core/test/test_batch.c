/*
 * test_batch.c -- atomic batches: applied whole, in order, across reopen;
 * and a batch cut at any byte by a crash is dropped whole at open.
 */
#include "caskdb.h"
#include "check.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

static const char *db_path(const char *name) {
  static char path[512];
  snprintf(path, sizeof path, "%s/%s", tmpdir, name);
  return path;
}

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

static int holds(caskdb *db, const char *key, const char *want) {
  const void *v;
  size_t vlen;
  if (caskdb_get(db, skey(key), &v, &vlen, NULL) != CASKDB_OK)
    return 0;
  return vlen == strlen(want) && memcmp(v, want, vlen) == 0;
}

static int missing(caskdb *db, const char *key) {
  return caskdb_exists(db, skey(key)) == CASKDB_ENOTFOUND;
}

static void test_commit(void) {
  const char *path = db_path("commit");
  caskdb *db = open_db(path, NULL);
  caskdb_batch *b;
  caskdb_meta meta = {3, 9, 0};
  caskdb_meta got;
  const void *v;
  size_t vlen;
  REQUIRE(caskdb_batch_new(&b) == CASKDB_OK);
  CHECK_EQ(caskdb_put(db, skey("gone"), "x", 1, NULL), CASKDB_OK);
  CHECK_EQ(caskdb_batch_put(b, skey("a"), "1", 1, NULL), CASKDB_OK);
  CHECK_EQ(caskdb_batch_put(b, skey("b"), "2", 1, &meta), CASKDB_OK);
  CHECK_EQ(caskdb_batch_put(b, skey("a"), "3", 1, NULL), CASKDB_OK);
  CHECK_EQ(caskdb_batch_delete(b, skey("gone")), CASKDB_OK);
  CHECK_EQ(caskdb_batch_delete(b, skey("never")), CASKDB_OK);
  CHECK_EQ(caskdb_batch_put(b, caskdb_key_int(7), "int", 3, NULL), CASKDB_OK);
  CHECK_EQ(caskdb_batch_count(b), 6);
  /* Nothing is visible before the commit. */
  CHECK(missing(db, "a"));
  CHECK(holds(db, "gone", "x"));
  CHECK_EQ(caskdb_batch_commit(db, b), CASKDB_OK);
  CHECK(holds(db, "a", "3"));
  CHECK(holds(db, "b", "2"));
  CHECK(missing(db, "gone"));
  CHECK_EQ(caskdb_exists(db, caskdb_key_int(7)), CASKDB_OK);
  CHECK_EQ(caskdb_count(db), 3);
  caskdb_close(db);

  db = open_db(path, NULL);
  CHECK(holds(db, "a", "3"));
  REQUIRE(caskdb_get(db, skey("b"), &v, &vlen, &got) == CASKDB_OK);
  CHECK_EQ(got.type, 3);
  CHECK_EQ(got.flags, 9);
  CHECK(missing(db, "gone"));
  CHECK_EQ(caskdb_count(db), 3);

  /* An empty batch writes nothing; a batch can be reused after clear. */
  caskdb_batch_clear(b);
  CHECK_EQ(caskdb_batch_count(b), 0);
  CHECK_EQ(caskdb_batch_commit(db, b), CASKDB_OK);
  CHECK_EQ(caskdb_batch_put(b, skey("c"), "4", 1, NULL), CASKDB_OK);
  CHECK_EQ(caskdb_batch_commit(db, b), CASKDB_OK);
  CHECK(holds(db, "c", "4"));
  caskdb_close(db);
  caskdb_batch_free(b);
  caskdb_batch_free(NULL);
}

static void test_errors(void) {
  const char *path = db_path("errors");
  caskdb *db = open_db(path, NULL);
  caskdb_options o;
  caskdb_batch *b;
  char *big = calloc(1, CASKDB_MAX_KEY_SIZE + 1);
  REQUIRE(big != NULL);
  REQUIRE(caskdb_batch_new(&b) == CASKDB_OK);
  CHECK_EQ(caskdb_batch_new(NULL), CASKDB_EINVAL);
  CHECK_EQ(caskdb_batch_put(b, caskdb_key_bytes(big, CASKDB_MAX_KEY_SIZE + 1),
                            "x", 1, NULL),
           CASKDB_ETOOLARGE);
  CHECK_EQ(caskdb_batch_put(b, skey("k"), NULL, 3, NULL), CASKDB_EINVAL);
  CHECK_EQ(caskdb_batch_count(b), 0);
  CHECK_EQ(caskdb_batch_put(b, skey("k"), "v", 1, NULL), CASKDB_OK);
  caskdb_close(db);
  caskdb_options_init(&o);
  o.readonly = 1;
  db = open_db(path, &o);
  CHECK_EQ(caskdb_batch_commit(db, b), CASKDB_EREADONLY);
  CHECK(missing(db, "k"));
  caskdb_close(db);
  caskdb_batch_free(b);
  free(big);
}

/* A batch bigger than max_file_size goes whole into one file. */
static void test_rotation(void) {
  const char *path = db_path("rotation");
  caskdb_options o;
  caskdb_stats st;
  caskdb_batch *b;
  caskdb *db;
  char key[32], val[300];
  int i, ok = 1;
  caskdb_options_init(&o);
  o.max_file_size = 4096;
  db = open_db(path, &o);
  REQUIRE(caskdb_batch_new(&b) == CASKDB_OK);
  memset(val, 'v', sizeof val);
  val[sizeof val - 1] = '\0';
  CHECK_EQ(caskdb_put(db, skey("first"), "1", 1, NULL), CASKDB_OK);
  for (i = 0; i < 40; i++) {
    snprintf(key, sizeof key, "k%03d", i);
    ok &= caskdb_batch_put(b, skey(key), val, strlen(val), NULL) == CASKDB_OK;
  }
  CHECK(ok);
  CHECK_EQ(caskdb_batch_commit(db, b), CASKDB_OK);
  caskdb_get_stats(db, &st);
  CHECK_EQ(st.data_files, 2);
  CHECK_EQ(caskdb_put(db, skey("after"), "2", 1, NULL), CASKDB_OK);
  caskdb_get_stats(db, &st);
  CHECK_EQ(st.data_files, 3);
  caskdb_close(db);
  db = open_db(path, &o);
  for (i = 0; i < 40; i++) {
    snprintf(key, sizeof key, "k%03d", i);
    ok &= holds(db, key, val);
  }
  CHECK(ok);
  CHECK(holds(db, "first", "1"));
  CHECK(holds(db, "after", "2"));
  caskdb_close(db);
  caskdb_batch_free(b);
}

static uint64_t file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Cut the file holding a committed batch at every byte inside the batch:
 * the batch must vanish whole, what came before must stay. */
static void test_torn_batch(void) {
  const char *path = db_path("torn");
  char file[600], copy[600], cmd[1400];
  uint64_t before, after, cut;
  caskdb_batch *b;
  caskdb *db = open_db(path, NULL);
  int ok_all = 1;
  snprintf(file, sizeof file, "%s/0000000001.cask", path);
  snprintf(copy, sizeof copy, "%s/saved", tmpdir);
  CHECK_EQ(caskdb_put(db, skey("before"), "old", 3, NULL), CASKDB_OK);
  CHECK_EQ(caskdb_put(db, skey("x"), "x0", 2, NULL), CASKDB_OK);
  before = file_size(file);
  REQUIRE(caskdb_batch_new(&b) == CASKDB_OK);
  caskdb_batch_put(b, skey("x"), "x1", 2, NULL);
  caskdb_batch_put(b, skey("y"), "y1", 2, NULL);
  caskdb_batch_delete(b, skey("before"));
  CHECK_EQ(caskdb_batch_commit(db, b), CASKDB_OK);
  caskdb_batch_free(b);
  caskdb_close(db);
  after = file_size(file);
  REQUIRE(after > before);
  snprintf(cmd, sizeof cmd, "cp '%s' '%s'", file, copy);
  REQUIRE(system(cmd) == 0);
  for (cut = before; cut < after; cut++) {
    caskdb_stats st;
    int ok = 1;
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", copy, file);
    REQUIRE(system(cmd) == 0);
    REQUIRE(truncate(file, (off_t)cut) == 0);
    db = open_db(path, NULL);
    ok &= holds(db, "before", "old");
    ok &= holds(db, "x", "x0");
    ok &= missing(db, "y");
    caskdb_get_stats(db, &st);
    ok &= st.truncated_bytes == cut - before;
    caskdb_close(db);
    ok &= file_size(file) == before;
    if (!ok)
      fprintf(stderr, "torn batch: wrong state after cut at %llu\n",
              (unsigned long long)cut);
    ok_all &= ok;
  }
  CHECK(ok_all);
  /* The whole file: the batch is there. */
  snprintf(cmd, sizeof cmd, "cp '%s' '%s'", copy, file);
  REQUIRE(system(cmd) == 0);
  db = open_db(path, NULL);
  CHECK(missing(db, "before"));
  CHECK(holds(db, "x", "x1"));
  CHECK(holds(db, "y", "y1"));
  caskdb_close(db);
}

int main(void) {
  char cmd[300];
  snprintf(tmpdir, sizeof tmpdir, "/tmp/caskdb-test-batch-XXXXXX");
  REQUIRE(mkdtemp(tmpdir) != NULL);
  test_commit();
  test_errors();
  test_rotation();
  test_torn_batch();
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", tmpdir);
  return check_report();
}

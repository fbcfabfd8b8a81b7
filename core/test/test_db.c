/*
 * test_db.c -- the public API end to end: put / get / delete / exists /
 * count / sync / stats, reopen after every kind of write, rotation across
 * many small files, binary keys, integer keys, the size limits, sync modes,
 * error codes, and a million keys round trip.
 */
#include "caskdb.h"
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

static void remove_tree(const char *dir) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", dir);
}

/* A fresh database path inside the test's temporary directory. */
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
  REQUIRE(rc == CASKDB_OK && db != NULL);
  return db;
}

static caskdb_key skey(const char *s) { return caskdb_key_bytes(s, strlen(s)); }

/* Does key hold exactly `want`? */
static int holds(caskdb *db, caskdb_key key, const void *want, size_t n) {
  const void *v;
  size_t vlen;
  if (caskdb_get(db, key, &v, &vlen, NULL) != CASKDB_OK)
    return 0;
  return vlen == n && memcmp(v, want, n) == 0;
}

static int holds_str(caskdb *db, const char *key, const char *want) {
  return holds(db, skey(key), want, strlen(want));
}

static void test_codes(void) {
  CHECK(strcmp(caskdb_code_name(CASKDB_OK), "ok") == 0);
  CHECK(strcmp(caskdb_code_name(CASKDB_ECORRUPT), "corrupt") == 0);
  CHECK(strcmp(caskdb_code_name(CASKDB_ELOCKED), "locked") == 0);
  CHECK(strcmp(caskdb_code_name(CASKDB_EREADONLY), "readonly") == 0);
  CHECK(strcmp(caskdb_code_name(CASKDB_ENOSPC), "nospace") == 0);
  CHECK(strcmp(caskdb_code_name(12345), "unknown") == 0);
  CHECK(strstr(caskdb_strerror(CASKDB_ELOCKED), "locked") != NULL);
  CHECK(strcmp(caskdb_version(), CASKDB_VERSION_STRING) == 0);
}

static void test_basic(void) {
  const char *path = db_path("basic");
  caskdb *db = open_db(path, NULL);
  const void *v;
  size_t vlen;
  caskdb_meta meta = {200, 0xdeadbeef, 0};
  caskdb_stats st;

  CHECK_EQ(caskdb_count(db), 0);
  CHECK_EQ(caskdb_get(db, skey("othello"), &v, &vlen, NULL), CASKDB_ENOTFOUND);
  CHECK_EQ(caskdb_put(db, skey("othello"), "shakespeare", 11, NULL), CASKDB_OK);
  CHECK(holds_str(db, "othello", "shakespeare"));
  CHECK_EQ(caskdb_exists(db, skey("othello")), CASKDB_OK);
  CHECK_EQ(caskdb_exists(db, skey("hamlet")), CASKDB_ENOTFOUND);
  CHECK_EQ(caskdb_count(db), 1);

  /* Overwrite, with a type tag and flags. */
  CHECK_EQ(caskdb_put(db, skey("othello"), "marlowe", 7, &meta), CASKDB_OK);
  memset(&meta, 0, sizeof meta);
  REQUIRE(caskdb_get(db, skey("othello"), &v, &vlen, &meta) == CASKDB_OK);
  CHECK(vlen == 7 && memcmp(v, "marlowe", 7) == 0);
  CHECK(((const char *)v)[7] == '\0');
  CHECK_EQ(meta.type, 200);
  CHECK_EQ(meta.flags, 0xdeadbeef);
  CHECK_EQ(caskdb_count(db), 1);

  /* The empty key and the empty value are valid. */
  CHECK_EQ(caskdb_put(db, skey(""), "", 0, NULL), CASKDB_OK);
  CHECK(holds_str(db, "", ""));
  CHECK_EQ(caskdb_count(db), 2);

  /* Delete. */
  CHECK_EQ(caskdb_delete(db, skey("othello")), CASKDB_OK);
  CHECK_EQ(caskdb_delete(db, skey("othello")), CASKDB_ENOTFOUND);
  CHECK_EQ(caskdb_exists(db, skey("othello")), CASKDB_ENOTFOUND);
  CHECK_EQ(caskdb_count(db), 1);

  CHECK_EQ(caskdb_sync(db), CASKDB_OK);
  CHECK_EQ(caskdb_get_stats(db, &st), CASKDB_OK);
  CHECK_EQ(st.keys, 1);
  CHECK_EQ(st.data_files, 1);
  CHECK(st.disk_bytes == st.live_bytes + st.dead_bytes);
  CHECK_EQ(st.live_bytes, 36 + 0 + 0);
  CHECK_EQ(st.truncated_bytes, 0);
  CHECK(st.keydir_bytes > 0);
  CHECK_EQ(caskdb_close(db), CASKDB_OK);
  CHECK_EQ(caskdb_close(NULL), CASKDB_OK);
}

static void test_reopen_after_each_write(void) {
  const char *path = db_path("reopen");
  caskdb *db = open_db(path, NULL);
  caskdb_meta meta = {7, 42, 0};
  caskdb_meta got;
  const void *v;
  size_t vlen;

  CHECK_EQ(caskdb_put(db, skey("a"), "1", 1, NULL), CASKDB_OK);
  caskdb_close(db);
  db = open_db(path, NULL);
  CHECK(holds_str(db, "a", "1"));

  CHECK_EQ(caskdb_put(db, skey("a"), "2", 1, &meta), CASKDB_OK);
  caskdb_close(db);
  db = open_db(path, NULL);
  REQUIRE(caskdb_get(db, skey("a"), &v, &vlen, &got) == CASKDB_OK);
  CHECK(vlen == 1 && memcmp(v, "2", 1) == 0);
  CHECK_EQ(got.type, 7);
  CHECK_EQ(got.flags, 42);

  CHECK_EQ(caskdb_delete(db, skey("a")), CASKDB_OK);
  caskdb_close(db);
  db = open_db(path, NULL);
  CHECK_EQ(caskdb_exists(db, skey("a")), CASKDB_ENOTFOUND);
  CHECK_EQ(caskdb_count(db), 0);

  CHECK_EQ(caskdb_put(db, caskdb_key_int(-5), "neg", 3, NULL), CASKDB_OK);
  caskdb_close(db);
  db = open_db(path, NULL);
  CHECK(holds(db, caskdb_key_int(-5), "neg", 3));
  CHECK_EQ(caskdb_exists(db, skey("-5")), CASKDB_ENOTFOUND);
  caskdb_close(db);
}

static void test_integer_and_binary_keys(void) {
  const char *path = db_path("keys");
  caskdb *db = open_db(path, NULL);
  const int64_t nums[] = {INT64_MIN, -1, 0, 1, 255, 256, INT64_MAX};
  const char bin1[] = {'a', 0, 'b'};
  const char bin2[] = {'a', 0, 'c'};
  const char bin3[] = {0};
  size_t i;
  for (i = 0; i < sizeof nums / sizeof nums[0]; i++)
    CHECK_EQ(caskdb_put(db, caskdb_key_int(nums[i]), &nums[i], 8, NULL),
             CASKDB_OK);
  CHECK_EQ(caskdb_put(db, caskdb_key_bytes(bin1, 3), "1", 1, NULL), CASKDB_OK);
  CHECK_EQ(caskdb_put(db, caskdb_key_bytes(bin2, 3), "2", 1, NULL), CASKDB_OK);
  CHECK_EQ(caskdb_put(db, caskdb_key_bytes(bin3, 1), "3", 1, NULL), CASKDB_OK);
  /* "a" alone is a different key from "a\0b". */
  CHECK_EQ(caskdb_exists(db, caskdb_key_bytes("a", 1)), CASKDB_ENOTFOUND);
  caskdb_close(db);
  db = open_db(path, NULL);
  for (i = 0; i < sizeof nums / sizeof nums[0]; i++)
    CHECK(holds(db, caskdb_key_int(nums[i]), &nums[i], 8));
  CHECK(holds(db, caskdb_key_bytes(bin1, 3), "1", 1));
  CHECK(holds(db, caskdb_key_bytes(bin2, 3), "2", 1));
  CHECK(holds(db, caskdb_key_bytes(bin3, 1), "3", 1));
  CHECK_EQ(caskdb_exists(db, caskdb_key_bytes("", 0)), CASKDB_ENOTFOUND);
  CHECK_EQ(caskdb_count(db), 10);
  caskdb_close(db);
}

static void test_limits_and_invalid(void) {
  const char *path = db_path("limits");
  caskdb *db = open_db(path, NULL);
  size_t big = CASKDB_MAX_KEY_SIZE + 1;
  char *key = malloc(big);
  caskdb_options o;
  caskdb *other = NULL;
  const void *v;
  size_t vlen;
  REQUIRE(key != NULL);
  memset(key, 'k', big);
  CHECK_EQ(caskdb_put(db, caskdb_key_bytes(key, big), "x", 1, NULL),
           CASKDB_ETOOLARGE);
  CHECK_EQ(caskdb_get(db, caskdb_key_bytes(key, big), &v, &vlen, NULL),
           CASKDB_ETOOLARGE);
  CHECK_EQ(caskdb_put(db, caskdb_key_bytes(key, big - 1), "max", 3, NULL),
           CASKDB_OK);
  CHECK(holds(db, caskdb_key_bytes(key, big - 1), "max", 3));
  /* A value over the limit is refused before anything is read from it. */
  CHECK_EQ(
      caskdb_put(db, skey("v"), key, (size_t)CASKDB_MAX_VALUE_SIZE + 1, NULL),
      CASKDB_ETOOLARGE);
  CHECK_EQ(caskdb_put(db, skey("v"), NULL, 1, NULL), CASKDB_EINVAL);
  CHECK_EQ(caskdb_put(db, caskdb_key_bytes(NULL, 3), "x", 1, NULL),
           CASKDB_EINVAL);
  CHECK_EQ(caskdb_get(db, skey("v"), NULL, &vlen, NULL), CASKDB_EINVAL);
  CHECK_EQ(caskdb_put(NULL, skey("v"), "x", 1, NULL), CASKDB_EINVAL);
  caskdb_close(db);
  db = open_db(path, NULL);
  CHECK(holds(db, caskdb_key_bytes(key, big - 1), "max", 3));
  caskdb_close(db);
  free(key);

  caskdb_options_init(&o);
  o.max_file_size = 100; /* under CASKDB_MIN_FILE_SIZE */
  CHECK_EQ(caskdb_open(path, &o, &other, NULL, 0), CASKDB_EINVAL);
  CHECK(other == NULL);
  caskdb_options_init(&o);
  o.sync = 9;
  CHECK_EQ(caskdb_open(path, &o, &other, NULL, 0), CASKDB_EINVAL);
  CHECK_EQ(caskdb_open(NULL, NULL, &other, NULL, 0), CASKDB_EINVAL);
  CHECK_EQ(caskdb_open("", NULL, &other, NULL, 0), CASKDB_EINVAL);
}

static void test_large_value(void) {
  const char *path = db_path("large");
  size_t n = 20u * 1024 * 1024; /* over the scanner's streaming threshold */
  unsigned char *val = malloc(n);
  caskdb *db = open_db(path, NULL);
  size_t i;
  REQUIRE(val != NULL);
  for (i = 0; i < n; i++)
    val[i] = (unsigned char)(i * 7 + (i >> 12));
  CHECK_EQ(caskdb_put(db, skey("big"), val, n, NULL), CASKDB_OK);
  CHECK_EQ(caskdb_put(db, skey("after"), "x", 1, NULL), CASKDB_OK);
  CHECK(holds(db, skey("big"), val, n));
  caskdb_close(db);
  db = open_db(path, NULL);
  CHECK(holds(db, skey("big"), val, n));
  CHECK(holds_str(db, "after", "x"));
  caskdb_close(db);
  free(val);
}

static int count_files(const char *dir, const char *suffix) {
  DIR *d = opendir(dir);
  struct dirent *de;
  int n = 0;
  size_t sl = strlen(suffix);
  if (d == NULL)
    return -1;
  while ((de = readdir(d)) != NULL) {
    size_t l = strlen(de->d_name);
    if (l > sl && strcmp(de->d_name + l - sl, suffix) == 0)
      n++;
  }
  closedir(d);
  return n;
}

static void test_rotation(void) {
  const char *path = db_path("rotation");
  caskdb_options o;
  caskdb_stats st;
  caskdb *db;
  char key[32], val[200];
  int i, ok = 1;
  caskdb_options_init(&o);
  o.max_file_size = 4096;
  db = open_db(path, &o);
  for (i = 0; i < 2000; i++) {
    snprintf(key, sizeof key, "key%05d", i);
    memset(val, 'a' + i % 26, sizeof val);
    ok &= caskdb_put(db, skey(key), val, 100 + i % 100, NULL) == CASKDB_OK;
  }
  CHECK(ok);
  /* Overwrite half, delete a quarter. */
  for (i = 0; i < 2000; i += 2) {
    snprintf(key, sizeof key, "key%05d", i);
    ok &= caskdb_put(db, skey(key), "new", 3, NULL) == CASKDB_OK;
  }
  for (i = 1; i < 2000; i += 4) {
    snprintf(key, sizeof key, "key%05d", i);
    ok &= caskdb_delete(db, skey(key)) == CASKDB_OK;
  }
  CHECK(ok);
  caskdb_get_stats(db, &st);
  CHECK(st.data_files > 50);
  CHECK_EQ(st.data_files, count_files(path, ".cask"));
  CHECK_EQ(st.keys, 1500);
  caskdb_close(db);
  /* Every file but the active one stays within max_file_size. */
  db = open_db(path, &o);
  for (i = 0; i < 2000; i++) {
    snprintf(key, sizeof key, "key%05d", i);
    memset(val, 'a' + i % 26, sizeof val);
    if (i % 2 == 0)
      ok &= holds(db, skey(key), "new", 3);
    else if (i % 4 == 1)
      ok &= caskdb_exists(db, skey(key)) == CASKDB_ENOTFOUND;
    else
      ok &= holds(db, skey(key), val, 100 + i % 100);
  }
  CHECK(ok);
  caskdb_get_stats(db, &st);
  CHECK_EQ(st.keys, 1500);
  CHECK(st.disk_bytes == st.live_bytes + st.dead_bytes);
  caskdb_close(db);
}

/* A clock the test moves by hand. */
static uint64_t fake_now = 1000000;
static uint64_t fake_clock(void *ctx) {
  (void)ctx;
  return fake_now;
}

static void test_expiry(void) {
  const char *path = db_path("expiry");
  caskdb_options o;
  caskdb_meta meta = {0, 0, 0};
  caskdb *db;
  caskdb_options_init(&o);
  o.clock = fake_clock;
  db = open_db(path, &o);
  meta.expiry = fake_now + 5000;
  CHECK_EQ(caskdb_put(db, skey("session"), "x", 1, &meta), CASKDB_OK);
  CHECK_EQ(caskdb_put(db, skey("old"), "y", 1, NULL), CASKDB_OK);
  meta.expiry = fake_now - 1; /* already expired: hides the old value */
  CHECK_EQ(caskdb_put(db, skey("old"), "z", 1, &meta), CASKDB_OK);
  CHECK_EQ(caskdb_exists(db, skey("old")), CASKDB_ENOTFOUND);
  CHECK(holds_str(db, "session", "x"));
  CHECK_EQ(caskdb_count(db), 1);
  fake_now += 5000;
  CHECK_EQ(caskdb_exists(db, skey("session")), CASKDB_ENOTFOUND);
  CHECK_EQ(caskdb_count(db), 0);
  fake_now -= 1;
  CHECK(holds_str(db, "session", "x"));
  CHECK_EQ(caskdb_count(db), 1);
  caskdb_close(db);
  db = open_db(path, &o);
  CHECK(holds_str(db, "session", "x"));
  CHECK_EQ(caskdb_exists(db, skey("old")), CASKDB_ENOTFOUND);
  fake_now += 1;
  CHECK_EQ(caskdb_delete(db, skey("session")), CASKDB_ENOTFOUND);
  caskdb_close(db);
  db = open_db(path, &o);
  CHECK_EQ(caskdb_count(db), 0);
  caskdb_close(db);
}

static void test_sync_modes(void) {
  int modes[] = {CASKDB_SYNC_NONE, CASKDB_SYNC_ALWAYS, CASKDB_SYNC_INTERVAL};
  size_t m;
  for (m = 0; m < 3; m++) {
    char name[32];
    caskdb_options o;
    caskdb *db;
    int i, ok = 1;
    snprintf(name, sizeof name, "sync%d", modes[m]);
    caskdb_options_init(&o);
    o.sync = modes[m];
    o.sync_interval_ms = 1;
    o.max_file_size = 4096;
    db = open_db(db_path(name), &o);
    for (i = 0; i < 200; i++)
      ok &= caskdb_put(db, caskdb_key_int(i), "value", 5, NULL) == CASKDB_OK;
    CHECK(ok);
    CHECK_EQ(caskdb_sync(db), CASKDB_OK);
    caskdb_close(db);
    db = open_db(db_path(name), &o);
    CHECK_EQ(caskdb_count(db), 200);
    caskdb_close(db);
  }
}

static void test_missing_directory(void) {
  caskdb_options o;
  caskdb *db = NULL;
  char err[256];
  char path[600];
  caskdb_options_init(&o);
  o.create = 0;
  CHECK_EQ(caskdb_open(db_path("nothere"), &o, &db, err, sizeof err),
           CASKDB_ENOENT);
  CHECK(db == NULL);
  CHECK(strstr(err, "nothere") != NULL);
  /* The parent of the directory must exist. */
  snprintf(path, sizeof path, "%s/a/b/c", tmpdir);
  CHECK_EQ(caskdb_open(path, NULL, &db, err, sizeof err), CASKDB_ENOENT);
  /* A path that is a file. */
  snprintf(path, sizeof path, "%s/afile", tmpdir);
  {
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    close(fd);
  }
  CHECK(caskdb_open(path, NULL, &db, err, sizeof err) < 0);
  CHECK(db == NULL);
}

static void test_million_keys(void) {
  const char *path = db_path("million");
  const int n = getenv("CASKDB_TEST_SMALL") ? 50000 : 1000000;
  caskdb *db = open_db(path, NULL);
  caskdb_stats st;
  char key[32], val[32];
  int i, ok = 1;
  for (i = 0; i < n; i++) {
    snprintf(key, sizeof key, "k%015d", i);
    snprintf(val, sizeof val, "v%d", i * 3);
    ok &= caskdb_put(db, skey(key), val, strlen(val), NULL) == CASKDB_OK;
  }
  CHECK(ok);
  caskdb_close(db);
  db = open_db(path, NULL);
  CHECK_EQ(caskdb_count(db), n);
  for (i = 0; i < n; i++) {
    snprintf(key, sizeof key, "k%015d", i);
    snprintf(val, sizeof val, "v%d", i * 3);
    ok &= holds_str(db, key, val);
  }
  CHECK(ok);
  caskdb_get_stats(db, &st);
  CHECK_EQ(st.keys, n);
  printf("keydir: %.1f bytes per key at %d keys\n", (double)st.keydir_bytes / n,
         n);
  caskdb_close(db);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/caskdb-test-db-XXXXXX");
  REQUIRE(mkdtemp(tmpdir) != NULL);
  test_codes();
  test_basic();
  test_reopen_after_each_write();
  test_integer_and_binary_keys();
  test_limits_and_invalid();
  test_large_value();
  test_rotation();
  test_expiry();
  test_sync_modes();
  test_missing_directory();
  test_million_keys();
  remove_tree(tmpdir);
  return check_report();
}

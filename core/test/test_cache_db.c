/*
 * test_cache_db.c -- the value cache and use_mmap inside the engine: a
 * random model test (puts, overwrites, deletes, expiries, batches,
 * iteration, merges, reopens; fixed seeds) with a small cache under each
 * policy, values overwritten or deleted never served from the cache, reads
 * right after merge deleted the files they were cached from, no file mapped
 * with use_mmap off, and the options checked.
 */
#include "caskdb.h"
#include "check.h"
#include "testutil.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[256];
static uint64_t now_ms = 1000000;

static uint64_t fake_clock(void *ctx) {
  (void)ctx;
  return now_ms;
}

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

static void cache_options(caskdb_options *o, int policy, int use_mmap,
                          uint64_t cache_size) {
  caskdb_options_init(o);
  o->use_mmap = use_mmap;
  o->cache_size = cache_size;
  o->cache_policy = policy;
  o->max_file_size = 16 * 1024;
  o->clock = fake_clock;
}

static caskdb_stats stats(caskdb *db) {
  caskdb_stats st;
  REQUIRE(caskdb_get_stats(db, &st) == CASKDB_OK);
  return st;
}

/* Whether key holds exactly want (wlen bytes). */
static int holds(caskdb *db, const char *key, const void *want, size_t wlen) {
  const void *v;
  size_t vlen;
  if (caskdb_get(db, caskdb_key_bytes(key, strlen(key)), &v, &vlen, NULL) !=
      CASKDB_OK)
    return 0;
  return vlen == wlen && memcmp(v, want, wlen) == 0 &&
         ((const char *)v)[vlen] == '\0';
}

static int missing(caskdb *db, const char *key) {
  const void *v;
  size_t vlen;
  return caskdb_get(db, caskdb_key_bytes(key, strlen(key)), &v, &vlen, NULL) ==
         CASKDB_ENOTFOUND;
}

static void put_str(caskdb *db, const char *key, const char *value) {
  REQUIRE(caskdb_put(db, caskdb_key_bytes(key, strlen(key)), value,
                     strlen(value), NULL) == CASKDB_OK);
}

/* ---- the random model test ------------------------------------------------
 */

enum { NKEYS = 300, MAXV = 6000 };

typedef struct model_val {
  int live;
  uint64_t expiry;
  size_t len;
  unsigned char *bytes;
} model_val;

static model_val model[NKEYS];
static uint64_t rng;

static uint64_t next_rand(void) {
  rng = rng * 6364136223846793005u + 1442695040888963407u;
  return rng >> 17;
}

static void key_name(char *out, int k) { snprintf(out, 16, "key%04d", k); }

static int model_live(int k) {
  return model[k].live && (model[k].expiry == 0 || model[k].expiry > now_ms);
}

/* A value of random length (mostly under a kilobyte, now and then larger
 * than an eighth of the cache, so refused by it) and random bytes. */
static size_t make_value(unsigned char *buf) {
  size_t len =
      next_rand() % 50 == 0 ? 4000 + next_rand() % 2000 : next_rand() % 1000;
  size_t i;
  for (i = 0; i < len; i++)
    buf[i] = (unsigned char)next_rand();
  return len;
}

static void model_set(int k, const unsigned char *v, size_t len,
                      uint64_t expiry) {
  free(model[k].bytes);
  model[k].bytes = malloc(len ? len : 1);
  REQUIRE(model[k].bytes != NULL);
  memcpy(model[k].bytes, v, len);
  model[k].len = len;
  model[k].expiry = expiry;
  model[k].live = 1;
}

static void model_del(int k) {
  free(model[k].bytes);
  model[k].bytes = NULL;
  model[k].live = 0;
}

static int check_key(caskdb *db, int k) {
  char key[16];
  key_name(key, k);
  if (model_live(k))
    return holds(db, key, model[k].bytes, model[k].len);
  return missing(db, key);
}

/* Every key by iteration (which reads through the cache too), in order. */
static int check_iteration(caskdb *db) {
  caskdb_iter *it;
  caskdb_key key;
  const void *v;
  size_t vlen;
  int k = 0, ok = 1, rc;
  REQUIRE(caskdb_iter_open(db, NULL, &it) == CASKDB_OK);
  while ((rc = caskdb_iter_next(it, &key, &v, &vlen, NULL)) == CASKDB_OK) {
    char want[16];
    while (k < NKEYS && !model_live(k))
      k++;
    if (k == NKEYS)
      return 0;
    key_name(want, k);
    ok &= key.len == strlen(want) && memcmp(key.data, want, key.len) == 0;
    ok &= vlen == model[k].len && memcmp(v, model[k].bytes, vlen) == 0;
    k++;
  }
  caskdb_iter_close(it);
  while (k < NKEYS && !model_live(k))
    k++;
  return ok && rc == CASKDB_DONE && k == NKEYS;
}

static void model_test(int policy, int use_mmap, uint64_t seed) {
  static unsigned char buf[MAXV];
  char path[512];
  caskdb_options o;
  caskdb *db;
  caskdb_stats st;
  int i, bad = 0, merges = 0;
  uint64_t hits = 0;
  char key[16];

  snprintf(path, sizeof path, "%s", db_path(""));
  snprintf(path + strlen(path), 64, "model-%d-%d-%llu", policy, use_mmap,
           (unsigned long long)seed);
  rng = seed;
  memset(model, 0, sizeof model);
  cache_options(&o, policy, use_mmap, 32 * 1024);
  db = open_db(path, &o);
  for (i = 0; i < 20000 && bad < 5; i++) {
    int op = (int)(next_rand() % 1000), k = (int)(next_rand() % NKEYS);
    key_name(key, k);
    if (op < 400) { /* get: hot keys more often */
      if (next_rand() % 2)
        k = (int)(next_rand() % 20);
      if (!check_key(db, k)) {
        fprintf(stderr,
                "op %d: key %d differs from the model (live %d len %zu exp "
                "%llu now %llu)\n",
                i, k, model_live(k), model[k].len,
                (unsigned long long)model[k].expiry,
                (unsigned long long)now_ms);
        bad++;
      }
    } else if (op < 650) { /* put, sometimes with an expiry */
      size_t len = make_value(buf);
      uint64_t expiry = next_rand() % 10 == 0 ? now_ms + next_rand() % 100 : 0;
      caskdb_meta meta = {0, 0, expiry};
      REQUIRE(caskdb_put(db, caskdb_key_bytes(key, strlen(key)), buf, len,
                         &meta) == CASKDB_OK);
      model_set(k, buf, len, expiry);
    } else if (op < 750) { /* delete */
      int rc = caskdb_delete(db, caskdb_key_bytes(key, strlen(key)));
      CHECK_EQ(rc, model_live(k) ? CASKDB_OK : CASKDB_ENOTFOUND);
      model_del(k);
    } else if (op < 800) { /* a batch of puts and deletes */
      caskdb_batch *b;
      int n = 1 + (int)(next_rand() % 5), j;
      REQUIRE(caskdb_batch_new(&b) == CASKDB_OK);
      for (j = 0; j < n; j++) {
        int bk = (int)(next_rand() % NKEYS);
        char bkey[16];
        key_name(bkey, bk);
        if (next_rand() % 3 == 0) {
          REQUIRE(caskdb_batch_delete(b, caskdb_key_bytes(bkey, 7)) ==
                  CASKDB_OK);
          model_del(bk);
        } else {
          size_t len = make_value(buf);
          REQUIRE(caskdb_batch_put(b, caskdb_key_bytes(bkey, 7), buf, len,
                                   NULL) == CASKDB_OK);
          model_set(bk, buf, len, 0);
        }
      }
      REQUIRE(caskdb_batch_commit(db, b) == CASKDB_OK);
      caskdb_batch_free(b);
    } else if (op < 900) { /* time passes */
      now_ms += next_rand() % 30;
    } else if (op < 915) { /* a slice of merge */
      int more;
      REQUIRE(caskdb_merge_step(db, 2000, &more) == CASKDB_OK);
    } else if (op < 918) { /* a full merge */
      REQUIRE(caskdb_merge(db) == CASKDB_OK);
      merges++;
    } else if (op < 920) { /* iteration */
      if (!check_iteration(db)) {
        fprintf(stderr, "op %d: iteration differs from the model\n", i);
        bad++;
      }
    } else if (op < 922) { /* reopen */
      st = stats(db);
      hits += st.cache_hits;
      CHECK(st.cache_bytes <= o.cache_size);
      REQUIRE(caskdb_close(db) == CASKDB_OK);
      db = open_db(path, &o);
      CHECK_EQ(stats(db).cache_entries, 0);
    }
    if (i % 97 == 0)
      CHECK(stats(db).cache_bytes <= o.cache_size);
  }
  CHECK_EQ(bad, 0);
  for (i = 0; i < NKEYS; i++)
    CHECK(check_key(db, i));
  CHECK(check_iteration(db));
  st = stats(db);
  hits += st.cache_hits;
  CHECK(st.cache_bytes <= o.cache_size);
  CHECK(st.cache_entries > 0);
  CHECK(hits > 1000);
  CHECK(merges > 20);
  REQUIRE(caskdb_close(db) == CASKDB_OK);
  for (i = 0; i < NKEYS; i++)
    free(model[i].bytes);
}

/* ---- targeted scenarios ---------------------------------------------------
 */

/* A value read (so cached), then overwritten or deleted, is never given
 * again, whatever the policy. */
static void test_never_stale(int policy) {
  caskdb_options o;
  caskdb *db;
  uint64_t hits;
  cache_options(&o, policy, 0, 64 * 1024);
  db = open_db(db_path(policy == CASKDB_CACHE_LRU ? "stale-lru" : "stale"), &o);
  put_str(db, "a", "one");
  CHECK(holds(db, "a", "one", 3)); /* a miss, then cached */
  CHECK(holds(db, "a", "one", 3)); /* a hit */
  CHECK_EQ(stats(db).cache_hits, 1);
  CHECK_EQ(stats(db).cache_misses, 1);
  put_str(db, "a", "two");
  CHECK(holds(db, "a", "two", 3));
  CHECK(holds(db, "a", "two", 3));
  REQUIRE(caskdb_delete(db, caskdb_key_bytes("a", 1)) == CASKDB_OK);
  CHECK(missing(db, "a"));
  put_str(db, "a", "three");
  CHECK(holds(db, "a", "three", 5));
  hits = stats(db).cache_hits;
  CHECK(holds(db, "a", "three", 5));
  CHECK_EQ(stats(db).cache_hits, hits + 1);
  /* The overwritten and deleted records left the cache with their keys. */
  CHECK_EQ(stats(db).cache_entries, 1);
  /* An expired value is not given either (the keydir decides first). */
  {
    caskdb_meta meta = {0, 0, now_ms + 10};
    REQUIRE(caskdb_put(db, caskdb_key_bytes("t", 1), "ttl", 3, &meta) ==
            CASKDB_OK);
    CHECK(holds(db, "t", "ttl", 3));
    CHECK(holds(db, "t", "ttl", 3));
    now_ms += 10;
    CHECK(missing(db, "t"));
  }
  REQUIRE(caskdb_close(db) == CASKDB_OK);
}

/* Records cached from files that a merge then deletes: every read after
 * the merge is right, the cached records followed the merge to their new
 * places (hits, no misses), and the deleted files left the cache. */
static void test_merge(void) {
  enum { N = 2000 };
  caskdb_options o;
  caskdb *db;
  caskdb_stats before, after;
  char key[16], val[64];
  int i, overwritten = 0;
  cache_options(&o, CASKDB_CACHE_SIEVE, 0, 4 * 1024 * 1024);
  db = open_db(db_path("merge"), &o);
  for (i = 0; i < N; i++) {
    snprintf(key, sizeof key, "k%05d", i);
    snprintf(val, sizeof val, "first value of %d", i);
    put_str(db, key, val);
  }
  for (i = 0; i < N; i++) { /* everything cached */
    snprintf(key, sizeof key, "k%05d", i);
    snprintf(val, sizeof val, "first value of %d", i);
    CHECK(holds(db, key, val, strlen(val)));
  }
  for (i = 0; i < N; i += 3) {
    snprintf(key, sizeof key, "k%05d", i);
    snprintf(val, sizeof val, "second value of %d", i);
    put_str(db, key, val);
  }
  for (i = 0; i < N; i += 5) {
    snprintf(key, sizeof key, "k%05d", i);
    caskdb_delete(db, caskdb_key_bytes(key, strlen(key)));
  }
  before = stats(db);
  REQUIRE(before.data_files > 10);
  REQUIRE(caskdb_merge(db) == CASKDB_OK);
  after = stats(db);
  CHECK(after.data_files < before.data_files);
  /* Only the live records that were cached are left, at their new places. */
  CHECK(after.cache_entries <= before.cache_entries);
  for (i = 0; i < N; i++) {
    snprintf(key, sizeof key, "k%05d", i);
    if (i % 5 == 0) {
      CHECK(missing(db, key));
      continue;
    }
    if (i % 3 == 0) {
      snprintf(val, sizeof val, "second value of %d", i);
      overwritten++;
    } else
      snprintf(val, sizeof val, "first value of %d", i);
    CHECK(holds(db, key, val, strlen(val)));
  }
  /* The first values were cached before the merge moved them: only the
   * second values, never read yet, missed. */
  CHECK(overwritten > 500);
  /* Exactly the first values were left in the cache by the merge: dead
   * records were dropped with their keys or their files. */
  CHECK_EQ(after.cache_entries, N - overwritten - N / 5);
  CHECK_EQ(stats(db).cache_misses - after.cache_misses, overwritten);
  REQUIRE(caskdb_close(db) == CASKDB_OK);
}

/* Whether this process maps a file whose path starts with prefix. */
static int maps_file_under(const char *prefix) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[1024];
  int found = 0;
  if (f == NULL)
    return -1;
  while (fgets(line, sizeof line, f) != NULL)
    if (strstr(line, prefix) != NULL)
      found = 1;
  fclose(f);
  return found;
}

static void test_no_mapping(void) {
  caskdb_options o;
  caskdb *db;
  char dir[512];
  int use_mmap;
  for (use_mmap = 0; use_mmap <= 1; use_mmap++) {
    cache_options(&o, CASKDB_CACHE_SIEVE, use_mmap, 0);
    snprintf(dir, sizeof dir, "%s", db_path(use_mmap ? "map1" : "map0"));
    db = open_db(dir, &o);
    put_str(db, "x", "y");
    REQUIRE(caskdb_merge(db) == CASKDB_OK); /* a merge output, too */
    put_str(db, "z", "w");
    CHECK(holds(db, "x", "y", 1) && holds(db, "z", "w", 1));
    if (maps_file_under(tmpdir) >= 0)
      CHECK_EQ(maps_file_under(dir), use_mmap);
    REQUIRE(caskdb_close(db) == CASKDB_OK);
    db = open_db(dir, &o); /* files loaded at open */
    CHECK(holds(db, "x", "y", 1) && holds(db, "z", "w", 1));
    if (maps_file_under(tmpdir) >= 0)
      CHECK_EQ(maps_file_under(dir), use_mmap);
    /* No cache: the figures stay 0. */
    CHECK_EQ(stats(db).cache_hits + stats(db).cache_misses, 0);
    CHECK_EQ(stats(db).cache_bytes, 0);
    REQUIRE(caskdb_close(db) == CASKDB_OK);
  }
}

static void test_options(void) {
  caskdb_options o;
  caskdb *db = NULL;
  caskdb_options_init(&o);
  CHECK_EQ(o.use_mmap, 1);
  CHECK_EQ(o.cache_size, 0);
  CHECK_EQ(o.cache_policy, CASKDB_CACHE_SIEVE);
  o.cache_policy = 0;
  CHECK_EQ(caskdb_open(db_path("opts"), &o, &db, NULL, 0), CASKDB_EINVAL);
  o.cache_policy = 3;
  CHECK_EQ(caskdb_open(db_path("opts"), &o, &db, NULL, 0), CASKDB_EINVAL);
  CHECK(db == NULL);
  o.cache_policy = CASKDB_CACHE_LRU;
  o.cache_size = 1; /* too small for any record: nothing cached, no error */
  db = open_db(db_path("opts"), &o);
  put_str(db, "k", "v");
  CHECK(holds(db, "k", "v", 1));
  CHECK(holds(db, "k", "v", 1));
  CHECK_EQ(stats(db).cache_entries, 0);
  CHECK_EQ(stats(db).cache_misses, 2);
  REQUIRE(caskdb_close(db) == CASKDB_OK);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/caskdb-cachedb-XXXXXX");
  REQUIRE(mkdtemp(tmpdir) != NULL);
  test_options();
  test_never_stale(CASKDB_CACHE_SIEVE);
  test_never_stale(CASKDB_CACHE_LRU);
  test_merge();
  test_no_mapping();
  model_test(CASKDB_CACHE_SIEVE, 0, 1);
  model_test(CASKDB_CACHE_LRU, 0, 2);
  model_test(CASKDB_CACHE_SIEVE, 1, 3);
  tu_remove_tree(tmpdir);
  return check_report();
}

/*
 * test_merge.c -- hint files and merge: merged data reads back exactly,
 * disk use falls to the live size, stepwise merges interleave with writes,
 * a long randomized model test with merges and reopens, and a child
 * process killed (SIGKILL) at random moments of a merge.
 */
#include "caskdb.h"
#include "check.h"

#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
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

static int count_files(const char *dir, const char *suffix) {
  DIR *d = opendir(dir);
  struct dirent *de;
  size_t sl = strlen(suffix);
  int n = 0;
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

/* ---- a model: the expected value of each of NKEYS integer keys ---------- */

#define NKEYS 2000
#define VMAX 300

typedef struct model {
  int live[NKEYS];
  unsigned gen[NKEYS]; /* the value is a function of (key, gen, len) */
  size_t len[NKEYS];
  uint64_t expiry[NKEYS];
} model;

static uint64_t fake_now = 1700000000000ull;
static uint64_t fake_clock(void *ctx) {
  (void)ctx;
  return fake_now;
}

static void make_value(unsigned char *buf, int key, unsigned gen, size_t len) {
  size_t i;
  for (i = 0; i < len; i++)
    buf[i] = (unsigned char)(key * 31 + gen * 7 + i);
}

static int model_visible(const model *m, int k) {
  return m->live[k] && (m->expiry[k] == 0 || m->expiry[k] > fake_now);
}

/* Does the database hold exactly what the model says? */
static int matches(caskdb *db, const model *m) {
  unsigned char want[VMAX];
  int k, ok = 1;
  uint64_t visible = 0;
  for (k = 0; k < NKEYS; k++) {
    const void *v;
    size_t vlen;
    int rc = caskdb_get(db, caskdb_key_int(k), &v, &vlen, NULL);
    if (!model_visible(m, k)) {
      if (rc != CASKDB_ENOTFOUND) {
        fprintf(stderr, "key %d should be absent (rc %d)\n", k, rc);
        ok = 0;
      }
      continue;
    }
    visible++;
    make_value(want, k, m->gen[k], m->len[k]);
    if (rc != CASKDB_OK || vlen != m->len[k] || memcmp(v, want, vlen) != 0) {
      fprintf(stderr, "key %d: rc %d, len %zu, want gen %u len %zu\n", k, rc,
              vlen, m->gen[k], m->len[k]);
      ok = 0;
    }
  }
  (void)visible;
  return ok;
}

static int put_model(caskdb *db, model *m, int k, size_t len, uint64_t ttl) {
  unsigned char buf[VMAX];
  caskdb_meta meta = {0, 0, 0};
  unsigned gen = m->gen[k] + 1;
  make_value(buf, k, gen, len);
  meta.expiry = ttl ? fake_now + ttl : 0;
  if (caskdb_put(db, caskdb_key_int(k), buf, len, &meta) != CASKDB_OK)
    return 0;
  m->live[k] = 1;
  m->gen[k] = gen;
  m->len[k] = len;
  m->expiry[k] = meta.expiry;
  return 1;
}

static int delete_model(caskdb *db, model *m, int k) {
  int rc = caskdb_delete(db, caskdb_key_int(k));
  int want = model_visible(m, k) ? CASKDB_OK : CASKDB_ENOTFOUND;
  m->live[k] = 0;
  return rc == want;
}

/* ---- tests ------------------------------------------------------------------
 */

static void small_files(caskdb_options *o) {
  caskdb_options_init(o);
  o->max_file_size = 64 * 1024;
  o->clock = fake_clock;
}

static void test_merge_reclaims_space(void) {
  const char *path = db_path("reclaim");
  static model m;
  caskdb_options o;
  caskdb_stats st;
  caskdb *db;
  int k, round, ok = 1;
  small_files(&o);
  memset(&m, 0, sizeof m);
  db = open_db(path, &o);
  /* Ten versions of every key: 90% of the data is dead. */
  for (round = 0; round < 10; round++)
    for (k = 0; k < NKEYS; k++)
      ok &= put_model(db, &m, k, 100, 0);
  /* A few deletes and expired keys, which must vanish, not come back. */
  for (k = 0; k < NKEYS; k += 10)
    ok &= delete_model(db, &m, k);
  for (k = 1; k < NKEYS; k += 10)
    ok &= put_model(db, &m, k, 50, 1000);
  CHECK(ok);
  fake_now += 2000;
  caskdb_get_stats(db, &st);
  CHECK(st.dead_bytes > 8 * st.live_bytes);
  CHECK_EQ(caskdb_merge(db), CASKDB_OK);
  CHECK(matches(db, &m));
  caskdb_get_stats(db, &st);
  /* Left: the live records, the file headers, the empty active file. */
  CHECK_EQ(st.dead_bytes, st.data_files * 24);
  CHECK_EQ(st.keys, NKEYS - NKEYS / 5);
  CHECK_EQ(st.disk_bytes, st.live_bytes + st.data_files * 24);
  CHECK_EQ(count_files(path, ".cask"), (int)st.data_files);
  CHECK_EQ(count_files(path, ".hint"), (int)st.data_files - 1);
  CHECK_EQ(count_files(path, ".tmp"), 0);
  caskdb_close(db);

  db = open_db(path, &o);
  CHECK(matches(db, &m));
  caskdb_get_stats(db, &st);
  CHECK_EQ(st.keys, NKEYS - NKEYS / 5);
  /* Merging again changes nothing but file names. */
  CHECK_EQ(caskdb_merge(db), CASKDB_OK);
  CHECK(matches(db, &m));
  caskdb_close(db);
  db = open_db(path, &o);
  CHECK(matches(db, &m));
  caskdb_close(db);
}

/* Open reads hints and the data files to the same result. */
static void test_hints_equal_data(void) {
  const char *path = db_path("hints");
  static model m;
  caskdb_options o;
  caskdb_stats with_hints, without;
  caskdb *db;
  char cmd[700];
  int k, ok = 1;
  small_files(&o);
  memset(&m, 0, sizeof m);
  db = open_db(path, &o);
  for (k = 0; k < NKEYS; k++)
    ok &= put_model(db, &m, k, (size_t)(k % VMAX), k % 3 ? 0 : 500000);
  for (k = 0; k < NKEYS; k += 7)
    ok &= delete_model(db, &m, k);
  {
    caskdb_batch *b;
    REQUIRE(caskdb_batch_new(&b) == CASKDB_OK);
    caskdb_batch_delete(b, caskdb_key_int(1));
    m.live[1] = 0;
    caskdb_batch_put(b, caskdb_key_int(2), "x", 1, NULL);
    m.live[2] = 1;
    m.len[2] = 1;
    m.expiry[2] = 0;
    CHECK_EQ(caskdb_batch_commit(db, b), CASKDB_OK);
    caskdb_batch_free(b);
  }
  CHECK(ok);
  caskdb_close(db);
  CHECK(count_files(path, ".hint") > 3);
  db = open_db(path, &o);
  caskdb_get_stats(db, &with_hints);
  caskdb_close(db);
  snprintf(cmd, sizeof cmd, "rm -f '%s'/*.hint", path);
  REQUIRE(system(cmd) == 0);
  db = open_db(path, &o);
  caskdb_get_stats(db, &without);
  CHECK_EQ(with_hints.keys, without.keys);
  CHECK_EQ(with_hints.live_bytes, without.live_bytes);
  CHECK_EQ(with_hints.disk_bytes, without.disk_bytes);
  {
    /* key 2's value "x" is not of the model's form; check it apart. */
    const void *v;
    size_t vlen;
    CHECK_EQ(caskdb_get(db, caskdb_key_int(2), &v, &vlen, NULL), CASKDB_OK);
    CHECK(vlen == 1 && memcmp(v, "x", 1) == 0);
  }
  caskdb_close(db);
}

/* ---- hint files, read as bytes (docs/FORMAT.md, "Hint files") ---------- */

#define HINT_FILE_HEADER 24
#define HINT_RECORD_HEADER 36

typedef struct hint_bytes {
  unsigned char *buf;
  size_t len;
  size_t starts[NKEYS * 4]; /* offsets of the records before the end */
  size_t n;
  size_t end_at; /* offset of the end record */
} hint_bytes;

static uint32_t le32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static void hint_read(const char *file, hint_bytes *h) {
  FILE *fp = fopen(file, "rb");
  size_t off = HINT_FILE_HEADER;
  long size;
  REQUIRE(fp != NULL);
  REQUIRE(fseek(fp, 0, SEEK_END) == 0);
  size = ftell(fp);
  REQUIRE(size >= HINT_FILE_HEADER);
  rewind(fp);
  h->len = (size_t)size;
  h->buf = malloc(h->len);
  REQUIRE(h->buf != NULL && fread(h->buf, 1, h->len, fp) == h->len);
  fclose(fp);
  h->n = 0;
  for (;;) {
    REQUIRE(off + HINT_RECORD_HEADER <= h->len);
    if (h->buf[off + 28] == 3) { /* the end record */
      h->end_at = off;
      return;
    }
    REQUIRE(h->n < sizeof h->starts / sizeof h->starts[0]);
    h->starts[h->n++] = off;
    off += HINT_RECORD_HEADER + le32(h->buf + off + 32);
  }
}

/* The integer key of the hint record at off (every key here is one). */
static int64_t hint_int_key(const hint_bytes *h, size_t off) {
  uint64_t raw = 0;
  int i;
  REQUIRE(h->buf[off + 29] == 1 && le32(h->buf + off + 32) == 8);
  for (i = 7; i >= 0; i--)
    raw = raw << 8 | h->buf[off + HINT_RECORD_HEADER + i];
  return (int64_t)raw;
}

/* Call fn on the path of every hint file of dir. */
static int each_hint(const char *dir, void (*fn)(const char *file)) {
  DIR *d = opendir(dir);
  struct dirent *de;
  int n = 0;
  REQUIRE(d != NULL);
  while ((de = readdir(d)) != NULL) {
    size_t l = strlen(de->d_name);
    char file[700];
    if (l <= 5 || strcmp(de->d_name + l - 5, ".hint") != 0)
      continue;
    snprintf(file, sizeof file, "%s/%s", dir, de->d_name);
    fn(file);
    n++;
  }
  closedir(d);
  return n;
}

static void check_hint_sorted(const char *file) {
  static hint_bytes h;
  size_t i;
  hint_read(file, &h);
  for (i = 1; i < h.n; i++)
    if (!(hint_int_key(&h, h.starts[i - 1]) < hint_int_key(&h, h.starts[i]))) {
      fprintf(stderr, "%s: record %zu is not after the one before\n", file, i);
      CHECK(0);
      break;
    }
  free(h.buf);
}

/* Rewrite a hint with its records in reverse order: every record keeps its
 * CRC and the end record its count, so the hint is sound but unsorted, as
 * an older version wrote them. */
static void reverse_hint(const char *file) {
  static hint_bytes h;
  FILE *fp;
  size_t i;
  hint_read(file, &h);
  fp = fopen(file, "wb");
  REQUIRE(fp != NULL);
  REQUIRE(fwrite(h.buf, 1, HINT_FILE_HEADER, fp) == HINT_FILE_HEADER);
  for (i = h.n; i-- > 0;) {
    size_t end = i + 1 < h.n ? h.starts[i + 1] : h.end_at;
    REQUIRE(fwrite(h.buf + h.starts[i], 1, end - h.starts[i], fp) ==
            end - h.starts[i]);
  }
  REQUIRE(fwrite(h.buf + h.end_at, 1, h.len - h.end_at, fp) ==
          h.len - h.end_at);
  REQUIRE(fclose(fp) == 0);
  free(h.buf);
}

static const char *one_hint_target;
static void reverse_one(const char *file) {
  if (strstr(file, one_hint_target) != NULL)
    reverse_hint(file);
}

/* Random puts, overwrites, deletes and TTLs over many small files. */
static void fill_many_files(caskdb *db, model *m, unsigned seed) {
  int i, ok = 1;
  for (i = 0; i < NKEYS * 3; i++) {
    int r = rand_r(&seed) % 100, k = rand_r(&seed) % NKEYS;
    if (r < 65)
      ok &= put_model(db, m, k, (size_t)(rand_r(&seed) % VMAX), 0);
    else if (r < 75)
      ok &= put_model(db, m, k, 10, (uint64_t)(rand_r(&seed) % 4000) + 1);
    else
      ok &= delete_model(db, m, k);
  }
  CHECK(ok);
}

static int same_stats(const caskdb_stats *a, const caskdb_stats *b) {
  return a->keys == b->keys && a->live_bytes == b->live_bytes &&
         a->dead_bytes == b->dead_bytes && a->disk_bytes == b->disk_bytes;
}

/* Hints are written in key order, by rotation and by merge; a database
 * opens to the same state from sorted hints (loaded together, in key
 * order), from hints of an older version (unsorted: loaded one by one, also
 * when only one of several is unsorted) and from data files alone. */
static void test_sorted_hints(void) {
  const char *path = db_path("sorted-hints");
  static model m;
  caskdb_options o;
  caskdb_stats want, got;
  caskdb *db;
  char cmd[700];
  small_files(&o);
  memset(&m, 0, sizeof m);
  db = open_db(path, &o);
  fill_many_files(db, &m, 11);
  caskdb_get_stats(db, &want);
  caskdb_close(db);
  CHECK(each_hint(path, check_hint_sorted) > 5);

  db = open_db(path, &o); /* every older file from its sorted hint */
  CHECK(matches(db, &m));
  caskdb_get_stats(db, &got);
  CHECK(same_stats(&got, &want));
  fake_now += 2000; /* some values expire: in the model and at open alike */
  caskdb_close(db);

  one_hint_target = "0000000004.hint"; /* one unsorted in the middle */
  CHECK(each_hint(path, reverse_one) > 5);
  db = open_db(path, &o);
  CHECK(matches(db, &m));
  caskdb_get_stats(db, &want);
  caskdb_close(db);

  each_hint(path, reverse_hint); /* all unsorted (4 twice: sorted again) */
  db = open_db(path, &o);
  CHECK(matches(db, &m));
  caskdb_get_stats(db, &got);
  CHECK(same_stats(&got, &want));
  caskdb_close(db);

  snprintf(cmd, sizeof cmd, "rm -f '%s'/*.hint", path);
  REQUIRE(system(cmd) == 0);
  db = open_db(path, &o); /* from data files only */
  CHECK(matches(db, &m));
  caskdb_get_stats(db, &got);
  CHECK(same_stats(&got, &want));
  CHECK_EQ(caskdb_merge(db), CASKDB_OK);
  caskdb_close(db);
  CHECK(each_hint(path, check_hint_sorted) > 0); /* merge's hints */
  db = open_db(path, &o);
  CHECK(matches(db, &m));
  caskdb_close(db);
}

/* Merge in small steps, with writes between the steps. */
static void test_stepwise(void) {
  const char *path = db_path("steps");
  static model m;
  caskdb_options o;
  caskdb_stats st;
  caskdb *db;
  int k, more = 1, steps = 0, ok = 1;
  unsigned seed = 7;
  small_files(&o);
  memset(&m, 0, sizeof m);
  db = open_db(path, &o);
  for (k = 0; k < NKEYS * 5; k++)
    ok &= put_model(db, &m, rand_r(&seed) % NKEYS, 120, 0);
  while (more) {
    int rc = caskdb_merge_step(db, 4096, &more);
    ok &= rc == CASKDB_OK;
    for (k = 0; k < 5; k++) {
      int key = rand_r(&seed) % NKEYS;
      if (rand_r(&seed) % 4 == 0)
        ok &= delete_model(db, &m, key);
      else
        ok &= put_model(db, &m, key, (size_t)(rand_r(&seed) % VMAX), 0);
    }
    steps++;
    if (steps % 50 == 0)
      ok &= matches(db, &m);
  }
  CHECK(ok);
  CHECK(steps > 20);
  CHECK(matches(db, &m));
  caskdb_get_stats(db, &st);
  CHECK(st.disk_bytes == st.live_bytes + st.dead_bytes);
  caskdb_close(db);
  db = open_db(path, &o);
  CHECK(matches(db, &m));
  caskdb_close(db);
}

/* Random puts, overwrites, deletes, TTLs, merges (whole and in steps),
 * clock moves and reopens against the model, with fixed seeds. */
static void test_random_model(void) {
  /* CASKDB_MERGE_SEEDS=N runs N seeds (the long setting). */
  const int seeds =
      getenv("CASKDB_MERGE_SEEDS") ? atoi(getenv("CASKDB_MERGE_SEEDS")) : 6;
  const int steps = 4000;
  int s;
  for (s = 1; s <= seeds; s++) {
    char name[32];
    static model m;
    caskdb_options o;
    caskdb *db;
    unsigned seed = (unsigned)s;
    int i, ok = 1, merging = 0;
    snprintf(name, sizeof name, "random%d", s);
    small_files(&o);
    o.max_file_size = 4096 + (uint64_t)(s * 3000);
    memset(&m, 0, sizeof m);
    db = open_db(db_path(name), &o);
    for (i = 0; i < steps && ok; i++) {
      int r = rand_r(&seed) % 1000;
      int k = rand_r(&seed) % (NKEYS / 4);
      if (r < 550)
        ok &= put_model(db, &m, k, (size_t)(rand_r(&seed) % VMAX), 0);
      else if (r < 650)
        ok &= put_model(db, &m, k, 20, (uint64_t)(rand_r(&seed) % 5000) + 1);
      else if (r < 850)
        ok &= delete_model(db, &m, k);
      else if (r < 900)
        fake_now += (uint64_t)(rand_r(&seed) % 3000);
      else if (r < 930) {
        int more;
        ok &= caskdb_merge_step(db, 2000, &more) == CASKDB_OK;
        merging = more;
      } else if (r < 940) {
        ok &= caskdb_merge(db) == CASKDB_OK;
        merging = 0;
      } else if (r < 950) {
        caskdb_close(db);
        db = open_db(db_path(name), &o);
        merging = 0;
      } else if (r < 960) {
        ok &= matches(db, &m);
      }
    }
    (void)merging;
    if (!ok)
      fprintf(stderr, "random model: seed %d failed at step %d\n", s, i);
    CHECK(ok);
    CHECK(matches(db, &m));
    caskdb_close(db);
    db = open_db(db_path(name), &o);
    CHECK(matches(db, &m));
    caskdb_close(db);
  }
}

/* Per-file figures add up, and the triggers decide as documented. */
static void test_file_stats_and_triggers(void) {
  const char *path = db_path("triggers");
  static model m;
  caskdb_file_stats fs[256];
  caskdb_options o;
  caskdb_stats st;
  caskdb *db;
  size_t n, i;
  uint64_t bytes = 0, live = 0;
  int k, ok = 1;
  small_files(&o);
  memset(&m, 0, sizeof m);
  db = open_db(path, &o);
  for (k = 0; k < NKEYS; k++)
    ok &= put_model(db, &m, k, 100, 0);
  CHECK(ok);
  CHECK_EQ(caskdb_merge_needed(db), 0); /* nothing dead yet */
  for (k = 0; k < NKEYS; k++)
    ok &= put_model(db, &m, k, 100, 0);
  CHECK_EQ(caskdb_merge_needed(db), 0); /* about half dead: under 0.6 */
  for (k = 0; k < NKEYS; k++)
    ok &= put_model(db, &m, k, 100, 0);
  CHECK_EQ(caskdb_merge_needed(db), 1); /* two thirds dead */
  n = caskdb_get_file_stats(db, fs, 256);
  REQUIRE(n > 3 && n <= 256);
  caskdb_get_stats(db, &st);
  CHECK_EQ(n, st.data_files);
  for (i = 0; i < n; i++) {
    bytes += fs[i].bytes;
    live += fs[i].live_bytes;
    ok &= fs[i].bytes == fs[i].live_bytes + fs[i].dead_bytes;
    ok &= fs[i].active == (i + 1 == n);
    ok &= i == 0 || fs[i].id > fs[i - 1].id;
  }
  CHECK(ok);
  CHECK_EQ(bytes, st.disk_bytes);
  CHECK_EQ(live, st.live_bytes);
  CHECK_EQ(caskdb_get_file_stats(db, fs, 1), n);
  CHECK_EQ(caskdb_merge(db), CASKDB_OK);
  CHECK_EQ(caskdb_merge_needed(db), 0);
  caskdb_close(db);
}

/* With auto_merge, overwriting the same keys again and again keeps the
 * disk use bounded, and every value stays right. */
static void test_auto_merge(void) {
  const char *path = db_path("auto");
  static model m;
  caskdb_options o;
  caskdb_stats st;
  caskdb *db;
  int k, round, ok = 1;
  small_files(&o);
  o.auto_merge = 1;
  o.auto_merge_step_bytes = 16 * 1024;
  memset(&m, 0, sizeof m);
  db = open_db(path, &o);
  for (round = 0; round < 20; round++)
    for (k = 0; k < NKEYS / 2; k++)
      ok &= put_model(db, &m, k, 100, 0);
  CHECK(ok);
  CHECK(matches(db, &m));
  caskdb_get_stats(db, &st);
  /* Without merging, 20 rounds leave 95% dead; the triggers keep the dead
   * part near 60% of the immutable files, plus the active file. */
  CHECK(st.dead_bytes < st.live_bytes * 2 + o.max_file_size * 2);
  caskdb_close(db);
  db = open_db(path, &o);
  CHECK(matches(db, &m));
  caskdb_close(db);
}

/* A record damaged on disk after open, in a file opened through its hint:
 * the merge cannot copy it, keeps that file, and the key reads as corrupt
 * (never a crash, never a lost key). */
static void test_merge_keeps_damaged_input(void) {
  const char *path = db_path("damaged");
  static model m;
  caskdb_options o;
  caskdb *db;
  char file[600];
  const void *v;
  size_t vlen;
  FILE *f;
  int k, ok = 1;
  small_files(&o);
  memset(&m, 0, sizeof m);
  db = open_db(path, &o);
  for (k = 0; k < NKEYS; k++)
    ok &= put_model(db, &m, k, 100, 0);
  CHECK(ok);
  caskdb_close(db);
  db = open_db(path, &o);
  /* Key 0 is the first record of the first file: flip a value byte. */
  snprintf(file, sizeof file, "%s/0000000001.cask", path);
  f = fopen(file, "r+b");
  REQUIRE(f != NULL);
  fseek(f, 24 + 36 + 8 + 10, SEEK_SET);
  fputc(0x5a ^ fgetc(f), f);
  fclose(f);
  CHECK_EQ(caskdb_merge(db), CASKDB_ECORRUPT);
  CHECK(strstr(caskdb_errmsg(db), "0000000001") != NULL);
  CHECK_EQ(caskdb_get(db, caskdb_key_int(0), &v, &vlen, NULL), CASKDB_ECORRUPT);
  m.live[0] = 0; /* the model cannot say what a damaged key reads as */
  for (k = 1; k < NKEYS; k++) {
    const void *got;
    size_t glen;
    unsigned char want[VMAX];
    make_value(want, k, m.gen[k], m.len[k]);
    ok &= caskdb_get(db, caskdb_key_int(k), &got, &glen, NULL) == CASKDB_OK &&
          glen == m.len[k] && memcmp(got, want, glen) == 0;
  }
  CHECK(ok);
  caskdb_close(db);
  CHECK(count_files(path, ".tmp") == 0);
}

/* ---- killed during a merge ------------------------------------------------
 */

#define KILL_KEYS 30000

static void kill_value(unsigned char *buf, int k, int version, size_t *len) {
  *len = (size_t)(40 + k % 60);
  make_value(buf, k, (unsigned)version, *len);
}

/* The database the kill test merges: every key written twice (the second
 * version live), every tenth key deleted, so a merge has much to drop. */
static void build_kill_db(const char *path, const caskdb_options *o) {
  unsigned char buf[VMAX];
  caskdb *db = open_db(path, o);
  int k, v, ok = 1;
  size_t len;
  for (v = 1; v <= 2; v++)
    for (k = 0; k < KILL_KEYS; k++) {
      kill_value(buf, k, v, &len);
      ok &= caskdb_put(db, caskdb_key_int(k), buf, len, NULL) == CASKDB_OK;
    }
  for (k = 0; k < KILL_KEYS; k += 10)
    ok &= caskdb_delete(db, caskdb_key_int(k)) == CASKDB_OK;
  CHECK(ok);
  caskdb_close(db);
}

static int kill_db_intact(const char *path, const caskdb_options *o) {
  unsigned char want[VMAX];
  caskdb *db = open_db(path, o);
  int k, ok = 1;
  for (k = 0; k < KILL_KEYS; k++) {
    const void *v;
    size_t vlen, len;
    int rc = caskdb_get(db, caskdb_key_int(k), &v, &vlen, NULL);
    if (k % 10 == 0) {
      ok &= rc == CASKDB_ENOTFOUND;
      continue;
    }
    kill_value(want, k, 2, &len);
    ok &= rc == CASKDB_OK && vlen == len && memcmp(v, want, len) == 0;
  }
  ok &= caskdb_count(db) == KILL_KEYS - KILL_KEYS / 10;
  caskdb_close(db);
  return ok;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run one merge in a child; kill it after `delay` seconds (or let it end). */
static void merge_in_child(const char *path, const caskdb_options *o,
                           double delay) {
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    caskdb *db = NULL;
    if (caskdb_open(path, o, &db, NULL, 0) != CASKDB_OK)
      _exit(2);
    _exit(caskdb_merge(db) == CASKDB_OK && caskdb_close(db) == CASKDB_OK ? 0
                                                                         : 1);
  }
  if (delay >= 0) {
    struct timespec ts;
    ts.tv_sec = (time_t)delay;
    ts.tv_nsec = (long)((delay - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
  }
  waitpid(pid, NULL, 0);
}

static void test_killed_merge(void) {
  char path[300], saved[300];
  caskdb_options o;
  char cmd[1000];
  double start, full;
  unsigned seed = 99;
  int i, kills = 30, ok = 1;
  snprintf(path, sizeof path, "%s/kill", tmpdir);
  snprintf(saved, sizeof saved, "%s/kill-saved", tmpdir);
  caskdb_options_init(&o);
  o.max_file_size = 256 * 1024;
  build_kill_db(path, &o);
  snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", path, saved);
  REQUIRE(system(cmd) == 0);
  /* How long an undisturbed merge takes, to spread the kills over it. */
  start = now_seconds();
  merge_in_child(path, &o, -1);
  full = now_seconds() - start;
  CHECK(kill_db_intact(path, &o));
  for (i = 0; i < kills; i++) {
    double delay = full * (double)(rand_r(&seed) % 1000) / 1000.0;
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", path, saved,
             path);
    REQUIRE(system(cmd) == 0);
    merge_in_child(path, &o, delay);
    if (!kill_db_intact(path, &o)) {
      fprintf(stderr, "killed merge: wrong data after a kill at %.4f s\n",
              delay);
      ok = 0;
    }
    /* A merge after the kill completes and keeps everything too. */
    if (i % 5 == 0) {
      merge_in_child(path, &o, -1);
      ok &= kill_db_intact(path, &o);
    }
  }
  printf("killed merge: %d kills over a %.3f s merge\n", kills, full);
  CHECK(ok);
}

static void timed(const char *name, void (*test)(void)) {
  double start = now_seconds();
  test();
  printf("%-18s %.2f s\n", name, now_seconds() - start);
}

int main(void) {
  char cmd[300];
  snprintf(tmpdir, sizeof tmpdir, "/tmp/caskdb-test-merge-XXXXXX");
  REQUIRE(mkdtemp(tmpdir) != NULL);
  timed("reclaims space", test_merge_reclaims_space);
  timed("hints equal data", test_hints_equal_data);
  timed("sorted hints", test_sorted_hints);
  timed("stepwise", test_stepwise);
  timed("file stats", test_file_stats_and_triggers);
  timed("auto merge", test_auto_merge);
  timed("damaged input", test_merge_keeps_damaged_input);
  timed("random model", test_random_model);
  timed("killed merge", test_killed_merge);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", tmpdir);
  return check_report();
}

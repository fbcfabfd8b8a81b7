/*
 * test_keydir.c -- the keydir against a model: a plain sorted array.
 *
 * A fixed-seed random workload of inserts, updates and deletes runs on both
 * the keydir and the model, and after every step the keydir must answer as
 * the model does: the return codes, the old locations, find, count, the
 * version (changing exactly on inserts of new keys and on removals), the full
 * ordered walk and seeks to keys present, absent, before the first and after
 * the last.  Keys come from small alphabets that include zero bytes, so keys
 * that are prefixes of each other and the empty key turn up all the time.
 *
 * A second pool mixes key lengths (0, 1, 2, 17, 300, 600 and 65 KiB,
 * many of them prefixes of each other), locations with and without an
 * expiry (so updates change the size of entries) and every vtype, and loads
 * it in random, ascending and descending order.
 *
 * Also: 64 KiB keys, updates keeping cursors valid, stale cursors, sorted
 * loads, a million keys round trip, and running out of memory (an insert,
 * or an update that gives a key an expiry, then fails with -1 and changes
 * nothing; tested by capping RLIMIT_AS, so only without sanitizers and
 * valgrind).
 *
 * CDB_TEST_SCALE in the environment multiplies the workload sizes (default
 * 1; the valgrind run uses a fraction, e.g. CDB_TEST_SCALE=0.1).
 */
#include "check.h"
#include "keydir.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* ---- A deterministic random generator (xorshift64*) -------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545f4914f6cdd1du;
}

static size_t rng_below(size_t n) { return (size_t)(rng() % n); }

static double scale = 1.0;

static size_t scaled(size_t n) {
  size_t s = (size_t)((double)n * scale);
  return s < 1 ? 1 : s;
}

/* ---- The model: a sorted pool of distinct keys, each present or not ----- */

enum { KEY_MAX = 65536 };

typedef struct pool_key {
  unsigned char *bytes;
  size_t len;
} pool_key;

typedef struct model {
  pool_key *keys; /* sorted, distinct: every key the workload can use */
  size_t nkeys;
  unsigned char *present; /* present[i]: keys[i] is in the keydir */
  cdb_loc *locs;          /* and then at locs[i] */
  size_t n;               /* keys present */
  size_t *live;           /* indices of the present keys, in order ... */
  size_t nlive;           /* ... as of the last model_snapshot() */
  size_t maxlen;          /* the longest key */
  unsigned char *buf;     /* maxlen + 1 bytes of scratch */
} model;

static int key_cmp(const unsigned char *a, size_t alen, const unsigned char *b,
                   size_t blen) {
  size_t common = alen < blen ? alen : blen;
  int c = common ? memcmp(a, b, common) : 0;
  if (c)
    return c;
  return (alen > blen) - (alen < blen);
}

static int pool_key_cmp(const void *a, const void *b) {
  const pool_key *x = a, *y = b;
  return key_cmp(x->bytes, x->len, y->bytes, y->len);
}

/* Key lengths to draw from: NULL means any of 0..maxlen. */
typedef struct key_shape {
  const size_t *lengths;
  size_t nlengths;
} key_shape;

/* A random key of 0..maxlen bytes (or of one of shape->lengths) drawn from
 * `alphabet`.  With lengths, half the keys are 'k's with a short random
 * tail, so that long keys share long prefixes and are prefixes of others. */
static size_t random_key(unsigned char *key, size_t maxlen,
                         const unsigned char *alphabet, size_t asize,
                         const key_shape *shape) {
  if (!shape) {
    size_t klen = rng_below(maxlen + 1);
    for (size_t i = 0; i < klen; i++)
      key[i] = alphabet[rng_below(asize)];
    return klen;
  }
  size_t klen = shape->lengths[rng_below(shape->nlengths)];
  size_t random_from = rng_below(2) ? 0 : klen - (klen < 3 ? klen : 3);
  for (size_t i = 0; i < klen; i++)
    key[i] = i < random_from ? 'k' : alphabet[rng_below(asize)];
  return klen;
}

/* A pool of up to `draws` distinct random keys, none present. */
static void model_init_shaped(model *m, size_t draws, size_t maxlen,
                              const unsigned char *alphabet, size_t asize,
                              const key_shape *shape) {
  unsigned char *key = malloc(maxlen + 1);
  REQUIRE(key);
  m->keys = malloc(draws * sizeof m->keys[0]);
  REQUIRE(m->keys);
  for (size_t i = 0; i < draws; i++) {
    size_t len = random_key(key, maxlen, alphabet, asize, shape);
    m->keys[i].bytes = malloc(len ? len : 1);
    REQUIRE(m->keys[i].bytes);
    if (len)
      memcpy(m->keys[i].bytes, key, len);
    m->keys[i].len = len;
  }
  qsort(m->keys, draws, sizeof m->keys[0], pool_key_cmp);
  m->nkeys = 0;
  for (size_t i = 0; i < draws; i++) {
    if (m->nkeys > 0 && pool_key_cmp(&m->keys[m->nkeys - 1], &m->keys[i]) == 0)
      free(m->keys[i].bytes);
    else
      m->keys[m->nkeys++] = m->keys[i];
  }
  m->present = calloc(m->nkeys, 1);
  m->locs = calloc(m->nkeys, sizeof m->locs[0]);
  m->live = malloc(m->nkeys * sizeof m->live[0]);
  REQUIRE(m->present && m->locs && m->live);
  m->n = m->nlive = 0;
  m->maxlen = maxlen;
  m->buf = key; /* room for a key and one byte more, for check_seeks */
}

static void model_init(model *m, size_t draws, size_t maxlen,
                       const unsigned char *alphabet, size_t asize) {
  model_init_shaped(m, draws, maxlen, alphabet, asize, NULL);
}

static void model_free(model *m) {
  for (size_t i = 0; i < m->nkeys; i++)
    free(m->keys[i].bytes);
  free(m->keys);
  free(m->present);
  free(m->locs);
  free(m->live);
  free(m->buf);
}

static void model_snapshot(model *m) {
  m->nlive = 0;
  for (size_t i = 0; i < m->nkeys; i++)
    if (m->present[i])
      m->live[m->nlive++] = i;
}

/* The first pool index whose key is >= key. */
static size_t pool_lower_bound(const model *m, const unsigned char *key,
                               size_t klen) {
  size_t lo = 0, hi = m->nkeys;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (key_cmp(m->keys[mid].bytes, m->keys[mid].len, key, klen) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* The first index into m->live whose key is >= key. */
static size_t live_lower_bound(const model *m, const unsigned char *key,
                               size_t klen) {
  size_t p = pool_lower_bound(m, key, klen);
  size_t lo = 0, hi = m->nlive;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (m->live[mid] < p)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* ---- Helpers ------------------------------------------------------------ */

/* A location made from seed; one in four has no expiry, so updates keep
 * adding and taking away the 8 bytes of an entry's expiry. */
static cdb_loc loc_make(uint64_t seed) {
  cdb_loc loc;
  loc.slot = (uint32_t)seed;
  loc.offset = (uint32_t)(seed >> 8);
  loc.size = (uint32_t)(seed >> 16);
  loc.expiry = seed % 4 == 1 ? 0 : seed * 31;
  loc.vtype = (uint8_t)(seed >> 40);
  return loc;
}

static int loc_equal(const cdb_loc *a, const cdb_loc *b) {
  return a->slot == b->slot && a->offset == b->offset && a->size == b->size &&
         a->vtype == b->vtype && a->expiry == b->expiry;
}

/* An entry as the keydir gives it out. */
typedef struct got {
  const unsigned char *key;
  size_t klen;
  cdb_loc loc;
} got;

static int cursor_got(const cdb_keydir *kd, const cdb_kd_cursor *cur, got *g) {
  return cdb_kd_cursor_get(kd, cur, &g->key, &g->klen, &g->loc);
}

/* Whether g is pool key i with its model location. */
static int got_is(const got *g, const model *m, size_t i) {
  const pool_key *k = &m->keys[i];
  return key_cmp(g->key, g->klen, k->bytes, k->len) == 0 &&
         loc_equal(&g->loc, &m->locs[i]);
}

/* Whether the keydir has key i of the pool at its model location. */
static int finds(const cdb_keydir *kd, const model *m, size_t i) {
  const pool_key *k = &m->keys[i];
  cdb_loc loc;
  return cdb_kd_find(kd, k->bytes, k->len, &loc) &&
         loc_equal(&loc, &m->locs[i]);
}

/* Walks the whole keydir with a cursor and compares it with the model. */
static void check_walk(const cdb_keydir *kd, model *m) {
  model_snapshot(m);
  cdb_kd_cursor cur;
  cdb_kd_seek(kd, NULL, 0, &cur);
  size_t j = 0;
  int same = 1;
  for (got g; cursor_got(kd, &cur, &g); cdb_kd_cursor_next(kd, &cur)) {
    if (j >= m->nlive || !got_is(&g, m, m->live[j])) {
      same = 0;
      break;
    }
    j++;
  }
  CHECK(same);
  CHECK_EQ(j, m->n);
  CHECK_EQ(cdb_kd_count(kd), m->n);
}

/* Seeks to key and checks a few steps against the model (after a
 * model_snapshot). */
static void check_seek(const cdb_keydir *kd, const model *m,
                       const unsigned char *key, size_t klen) {
  cdb_kd_cursor cur;
  cdb_kd_seek(kd, key, klen, &cur);
  size_t j = live_lower_bound(m, key, klen);
  int same = 1;
  for (int step = 0; step < 3; step++, j++) {
    got g;
    int have = cursor_got(kd, &cur, &g);
    if (j >= m->nlive ? have : !have || !got_is(&g, m, m->live[j]))
      same = 0;
    cdb_kd_cursor_next(kd, &cur);
  }
  CHECK(same);
}

/* Seeks to keys present, to keys just after them (a zero byte appended),
 * to pool keys that may be absent, before the first and after the last. */
static void check_seeks(const cdb_keydir *kd, model *m) {
  unsigned char *buf = m->buf;
  model_snapshot(m);
  for (size_t j = 0; j < m->nlive; j += 1 + rng_below(16)) {
    const pool_key *k = &m->keys[m->live[j]];
    check_seek(kd, m, k->bytes, k->len);
    memcpy(buf, k->bytes, k->len);
    buf[k->len] = 0;
    check_seek(kd, m, buf, k->len + 1);
  }
  for (int i = 0; i < 200; i++) {
    const pool_key *k = &m->keys[rng_below(m->nkeys)];
    check_seek(kd, m, k->bytes, k->len);
  }
  check_seek(kd, m, (const unsigned char *)"", 0);
  check_seek(kd, m, NULL, 0);
  size_t high = m->maxlen < 64 ? m->maxlen + 1 : 64;
  memset(buf, 0xff, high);
  check_seek(kd, m, buf, high);
}

/* ---- The random workload ------------------------------------------------ */

/* One set of pool key i on both; checks the return code, *old, the version
 * and that an update leaves a cursor on the key valid, reading the new
 * location. */
static void step_set(cdb_keydir *kd, model *m, size_t i, uint64_t seed) {
  const pool_key *k = &m->keys[i];
  cdb_loc loc = loc_make(seed), old;
  memset(&old, 0, sizeof old);
  uint64_t version = cdb_kd_version(kd);
  int before = cdb_kd_find(kd, k->bytes, k->len, NULL);
  cdb_kd_cursor cur;
  cdb_kd_seek(kd, k->bytes, k->len, &cur);
  int rc = cdb_kd_set(kd, k->bytes, k->len, &loc, &old);
  if (m->present[i]) {
    CHECK_EQ(rc, 0);
    CHECK(loc_equal(&old, &m->locs[i]));
    CHECK_EQ(cdb_kd_version(kd), version);
    CHECK(before);
  } else {
    CHECK_EQ(rc, 1);
    CHECK(!before);
    CHECK(cdb_kd_version(kd) != version);
    m->present[i] = 1;
    m->n++;
  }
  m->locs[i] = loc;
  CHECK(finds(kd, m, i));
  got g;
  if (rc == 0)
    CHECK(cursor_got(kd, &cur, &g) && got_is(&g, m, i));
  else
    CHECK(!cursor_got(kd, &cur, &g)); /* stale after an insert */
}

static void step_del(cdb_keydir *kd, model *m, size_t i) {
  const pool_key *k = &m->keys[i];
  cdb_loc old;
  uint64_t version = cdb_kd_version(kd);
  int rc = cdb_kd_del(kd, k->bytes, k->len, &old);
  if (m->present[i]) {
    CHECK_EQ(rc, 1);
    CHECK(loc_equal(&old, &m->locs[i]));
    CHECK(cdb_kd_version(kd) != version);
    m->present[i] = 0;
    m->n--;
  } else {
    CHECK_EQ(rc, 0);
    CHECK_EQ(cdb_kd_version(kd), version);
  }
  CHECK(!cdb_kd_find(kd, k->bytes, k->len, NULL));
}

/* `ops` random sets (set_percent of them) and deletes of pool keys, with
 * full checks now and then. */
static void run_workload(cdb_keydir *kd, model *m, size_t ops,
                         int set_percent) {
  size_t check_every = ops / 4 + 1;
  for (size_t op = 0; op < ops; op++) {
    size_t i = rng_below(m->nkeys);
    if ((int)rng_below(100) < set_percent)
      step_set(kd, m, i, rng());
    else
      step_del(kd, m, i);
    CHECK_EQ(cdb_kd_count(kd), m->n);
    if (op % check_every == 0) {
      check_walk(kd, m);
      check_seeks(kd, m);
    }
  }
  check_walk(kd, m);
  check_seeks(kd, m);
}

/* Deletes every key: from the first, from the last or in random order. */
static void delete_everything(cdb_keydir *kd, model *m, int how) {
  model_snapshot(m);
  size_t total = m->nlive;
  if (how == 2)
    for (size_t j = total; j > 1; j--) { /* shuffle */
      size_t r = rng_below(j), t = m->live[j - 1];
      m->live[j - 1] = m->live[r];
      m->live[r] = t;
    }
  size_t *order = malloc((total ? total : 1) * sizeof order[0]);
  REQUIRE(order);
  for (size_t j = 0; j < total; j++)
    order[j] = m->live[how == 1 ? total - 1 - j : j];
  for (size_t j = 0; j < total; j++) {
    step_del(kd, m, order[j]);
    if (j % 4999 == 0)
      check_walk(kd, m);
  }
  free(order);
  CHECK_EQ(m->n, 0);
  check_walk(kd, m);
  check_seeks(kd, m);
}

static const unsigned char tiny_alphabet[] = {0x00, 0x01, 'a', 0xff};
static const unsigned char wide_alphabet[] = {0x00, 0x01, 0x02, 'a', 'b',
                                              'c',  0x7f, 0xfe, 0xff};

/* Few distinct short keys: many updates, prefixes, zero bytes, "". */
static void test_dense_workload(void) {
  cdb_keydir *kd = cdb_kd_new();
  REQUIRE(kd);
  size_t empty_bytes = cdb_kd_bytes(kd);
  model m;
  model_init(&m, 20000, 6, tiny_alphabet, 4);
  run_workload(kd, &m, scaled(40000), 60);
  for (int how = 0; how < 3; how++) {
    delete_everything(kd, &m, how);
    CHECK_EQ(cdb_kd_bytes(kd), empty_bytes);
    run_workload(kd, &m, scaled(15000), 70);
  }
  model_free(&m);
  cdb_kd_free(kd);
}

/* Many distinct keys: grow to a tree of three levels, shrink, churn,
 * delete everything three ways and grow again. */
static void test_wide_workload(void) {
  cdb_keydir *kd = cdb_kd_new();
  REQUIRE(kd);
  size_t empty_bytes = cdb_kd_bytes(kd);
  model m;
  model_init(&m, scaled(250000), 12, wide_alphabet, 9);
  run_workload(kd, &m, scaled(160000), 85);
  CHECK(m.n > scaled(60000));
  run_workload(kd, &m, scaled(100000), 20); /* thin out */
  run_workload(kd, &m, scaled(60000), 50);
  for (int how = 0; how < 3; how++) {
    delete_everything(kd, &m, how);
    CHECK_EQ(cdb_kd_count(kd), 0);
    CHECK_EQ(cdb_kd_bytes(kd), empty_bytes); /* every node went back */
    run_workload(kd, &m, scaled(50000), 85);
  }
  model_free(&m);
  cdb_kd_free(kd);
}

/* Sets every absent pool key, in ascending or descending order (the
 * keydir's append path and its edge splits), then checks everything. */
static void load_in_order(cdb_keydir *kd, model *m, int descending) {
  for (size_t j = 0; j < m->nkeys; j++) {
    size_t i = descending ? m->nkeys - 1 - j : j;
    if (!m->present[i])
      step_set(kd, m, i, rng());
  }
  check_walk(kd, m);
  check_seeks(kd, m);
}

/* Keys from empty to 65 KiB (the longest canonical key), many of them
 * prefixes of others; locations with and without expiry: loaded in
 * ascending, descending and random order, churned and emptied, and the
 * memory all given back each time. */
static void test_mixed_lengths(void) {
  static const size_t lengths[] = {0,   1,   2,   3,    16,   17,  17,
                                   17,  18,  64,  300,  300,  511, 512,
                                   513, 600, 600, 4096, 65546};
  key_shape shape = {lengths, sizeof lengths / sizeof lengths[0]};
  cdb_keydir *kd = cdb_kd_new();
  REQUIRE(kd);
  size_t empty_bytes = cdb_kd_bytes(kd);
  model m;
  model_init_shaped(&m, scaled(5000), 65546, wide_alphabet, 9, &shape);
  for (int how = 0; how < 3; how++) {
    if (how < 2)
      load_in_order(kd, &m, how == 1);
    else
      run_workload(kd, &m, scaled(15000), 90);
    run_workload(kd, &m, scaled(5000), 50);
    delete_everything(kd, &m, how);
    CHECK_EQ(cdb_kd_bytes(kd), empty_bytes);
  }
  model_free(&m);
  cdb_kd_free(kd);
}

/* Many distinct short keys loaded in order, a tree of several levels. */
static void test_ordered_loads(void) {
  cdb_keydir *kd = cdb_kd_new();
  REQUIRE(kd);
  size_t empty_bytes = cdb_kd_bytes(kd);
  model m;
  model_init(&m, scaled(120000), 10, wide_alphabet, 9);
  for (int how = 0; how < 3; how++) {
    load_in_order(kd, &m, how == 1);
    run_workload(kd, &m, scaled(20000), 40);
    delete_everything(kd, &m, how);
    CHECK_EQ(cdb_kd_bytes(kd), empty_bytes);
  }
  model_free(&m);
  cdb_kd_free(kd);
}

/* ---- Out of memory ------------------------------------------------------ */

/* Whether malloc can be starved by lowering RLIMIT_AS: not under
 * AddressSanitizer (it reserves terabytes up front) nor valgrind (it has its
 * own heap). */
static int heap_can_be_starved(void) {
#if defined(__SANITIZE_ADDRESS__)
  return 0;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return 0;
#endif
#endif
  const char *preload = getenv("LD_PRELOAD");
  return !(preload && strstr(preload, "vgpreload"));
}

/* The process's address space size, from /proc/self/statm. */
static size_t address_space_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long pages = 0;
  if (f) {
    if (fscanf(f, "%lu", &pages) != 1)
      pages = 0;
    fclose(f);
  }
  return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

/* Allocates blocks of `size` bytes until malloc fails, chained through
 * their first bytes onto `list`. */
static void *ballast_fill(void *list, size_t size) {
  for (void **block; (block = malloc(size)) != NULL; list = block)
    *block = list;
  return list;
}

static void ballast_free(void *list) {
  while (list) {
    void *next = *(void **)list;
    free(list);
    list = next;
  }
}

/* A set that may fail for want of memory: then nothing may have changed.
 * An update needs memory only when it gives the key an expiry. */
static int step_set_or_fail(cdb_keydir *kd, model *m, size_t i, uint64_t seed) {
  const pool_key *k = &m->keys[i];
  cdb_loc loc = loc_make(seed);
  uint64_t version = cdb_kd_version(kd);
  size_t count = cdb_kd_count(kd);
  int rc = cdb_kd_set(kd, k->bytes, k->len, &loc, NULL);
  if (rc == -1) {
    CHECK(!m->present[i] || (m->locs[i].expiry == 0 && loc.expiry != 0));
    CHECK_EQ(cdb_kd_version(kd), version);
    CHECK_EQ(cdb_kd_count(kd), count);
    if (m->present[i])
      CHECK(finds(kd, m, i));
    else
      CHECK(!cdb_kd_find(kd, k->bytes, k->len, NULL));
    return 1;
  }
  if (m->present[i]) {
    CHECK_EQ(rc, 0);
    CHECK_EQ(cdb_kd_version(kd), version);
    m->locs[i] = loc;
    return 0;
  }
  CHECK_EQ(rc, 1);
  m->present[i] = 1;
  m->locs[i] = loc;
  m->n++;
  return 0;
}

/* With the address space capped just above what is in use, a mixed
 * workload keeps running into a full heap: small and large allocations
 * fail in turn (entries, leaves, separators, inner nodes), and after every
 * failure the keydir must still match the model.  The model and the checks
 * allocate nothing once set up. */
static void test_out_of_memory(void) {
  if (!heap_can_be_starved()) {
    printf("test_out_of_memory: skipped (sanitizer or valgrind)\n");
    return;
  }
  cdb_keydir *kd = cdb_kd_new();
  REQUIRE(kd);
  model m;
  model_init(&m, 200000, 12, wide_alphabet, 9);
  run_workload(kd, &m, 60000, 90);
  struct rlimit saved, tight;
  REQUIRE(getrlimit(RLIMIT_AS, &saved) == 0);
  tight = saved;
  tight.rlim_cur = address_space_bytes() + 256 * 1024;
  REQUIRE(setrlimit(RLIMIT_AS, &tight) == 0);
  void *ballast = NULL; /* take up what free heap is left */
  for (size_t size = 65536; size >= 16; size /= 4)
    ballast = ballast_fill(ballast, size);

  size_t failures = 0;
  for (size_t op = 0; op < 200000; op++) {
    size_t i = rng_below(m.nkeys);
    if (rng_below(100) < 70)
      failures += (size_t)step_set_or_fail(kd, &m, i, rng());
    else
      step_del(kd, &m, i);
    if (op % 20000 == 0)
      check_walk(kd, &m);
  }
  check_walk(kd, &m);
  check_seeks(kd, &m);
  ballast_free(ballast);
  REQUIRE(setrlimit(RLIMIT_AS, &saved) == 0);
  CHECK(failures > 0);
  printf("test_out_of_memory: %zu sets failed for want of memory\n", failures);
  run_workload(kd, &m, 20000, 50); /* and it goes on working */
  model_free(&m);
  cdb_kd_free(kd);
}

/* ---- Focused cases ------------------------------------------------------ */

static void test_empty(void) {
  cdb_keydir *kd = cdb_kd_new();
  REQUIRE(kd);
  CHECK_EQ(cdb_kd_count(kd), 0);
  CHECK(!cdb_kd_find(kd, "", 0, NULL));
  CHECK(!cdb_kd_find(kd, NULL, 0, NULL));
  CHECK_EQ(cdb_kd_del(kd, "x", 1, NULL), 0);
  CHECK_EQ(cdb_kd_version(kd), 0);
  cdb_kd_cursor cur;
  got g;
  cdb_kd_seek(kd, NULL, 0, &cur);
  CHECK(!cursor_got(kd, &cur, &g));
  cdb_kd_cursor_next(kd, &cur); /* harmless at the end */
  CHECK(!cursor_got(kd, &cur, &g));
  cdb_kd_seek(kd, "k", 1, &cur);
  CHECK(!cursor_got(kd, &cur, &g));
  CHECK(cdb_kd_bytes(kd) > 0);
  cdb_kd_free(kd);
  cdb_kd_free(NULL);
}

/* The order: memcmp, then the shorter key first; "" smallest; zero bytes
 * are ordinary bytes. */
static void test_order_and_odd_keys(void) {
  static const struct {
    const char *bytes;
    size_t len;
  } sorted[] = {{"", 0},        {"\0", 1}, {"\0\0", 2}, {"\0\1", 2},
                {"\1", 1},      {"a", 1},  {"a\0", 2},  {"a\0\0", 3},
                {"a\0b", 3},    {"ab", 2}, {"abc", 3},  {"abc\0", 4},
                {"abd", 3},     {"b", 1},  {"\xff", 1}, {"\xff\0", 2},
                {"\xff\xff", 2}};
  enum { N = sizeof sorted / sizeof sorted[0] };
  cdb_keydir *kd = cdb_kd_new();
  REQUIRE(kd);
  for (int pass = 0; pass < 2; pass++) /* insert in reverse, then forwards */
    for (int j = 0; j < N; j++) {
      int i = pass == 0 ? N - 1 - j : j;
      cdb_loc loc = loc_make((uint64_t)i);
      CHECK_EQ(cdb_kd_set(kd, sorted[i].bytes, sorted[i].len, &loc, NULL),
               pass == 0 ? 1 : 0);
    }
  CHECK_EQ(cdb_kd_count(kd), N);
  cdb_kd_cursor cur;
  got g;
  cdb_kd_seek(kd, NULL, 0, &cur);
  for (int i = 0; i < N; i++) {
    REQUIRE(cursor_got(kd, &cur, &g));
    CHECK_EQ(g.klen, sorted[i].len);
    CHECK(g.klen == 0 || memcmp(g.key, sorted[i].bytes, sorted[i].len) == 0);
    CHECK_EQ(g.loc.slot, i);
    cdb_kd_cursor_next(kd, &cur);
  }
  CHECK(!cursor_got(kd, &cur, &g));

  /* Seek to an absent key between "a\0\0" and "a\0b". */
  cdb_kd_seek(kd, "a\0\1", 3, &cur);
  CHECK(cursor_got(kd, &cur, &g) && g.klen == 3 &&
        memcmp(g.key, "a\0b", 3) == 0);
  /* Past the last. */
  cdb_kd_seek(kd, "\xff\xff\0", 3, &cur);
  CHECK(!cursor_got(kd, &cur, &g));
  /* The empty key is found and removed like any other. */
  CHECK(cdb_kd_find(kd, "", 0, NULL));
  CHECK_EQ(cdb_kd_del(kd, NULL, 0, NULL), 1);
  CHECK(!cdb_kd_find(kd, "", 0, NULL));
  cdb_kd_free(kd);
}

/* Keys of 64 KiB that differ only near their end, each with its prefix of
 * one byte less as another key. */
static void long_key(unsigned char *key, int pair) {
  memset(key, 'k', 65536);
  key[65536 - 3] = (unsigned char)(pair / 256);
  key[65536 - 2] = (unsigned char)(pair % 256);
}

static void test_long_keys(void) {
  enum { LEN = 65536, PAIRS = 150 };
  unsigned char *key = malloc(LEN);
  REQUIRE(key);
  cdb_keydir *kd = cdb_kd_new();
  REQUIRE(kd);
  size_t empty_bytes = cdb_kd_bytes(kd);
  for (int i = 0; i < 2 * PAIRS; i++) {
    cdb_loc loc = loc_make((uint64_t)i);
    long_key(key, (i * 37) % PAIRS);
    CHECK_EQ(cdb_kd_set(kd, key, LEN - (size_t)(i / PAIRS), &loc, NULL), 1);
  }
  CHECK_EQ(cdb_kd_count(kd), 2 * PAIRS);
  CHECK(cdb_kd_bytes(kd) > (size_t)2 * PAIRS * (LEN - 1));
  /* The walk: strictly increasing, each prefix right before its key. */
  cdb_kd_cursor cur;
  cdb_kd_seek(kd, NULL, 0, &cur);
  got prev = {NULL, 0, {0}};
  int n = 0, ordered = 1;
  for (got g; cursor_got(kd, &cur, &g); cdb_kd_cursor_next(kd, &cur), n++) {
    if (n > 0 && key_cmp(prev.key, prev.klen, g.key, g.klen) >= 0)
      ordered = 0;
    if (g.klen != (n % 2 ? LEN : LEN - 1))
      ordered = 0;
    prev = g; /* no change of the keydir during the walk: still good */
  }
  CHECK(ordered);
  CHECK_EQ(n, 2 * PAIRS);
  for (int pair = 0; pair < PAIRS; pair++) {
    long_key(key, pair);
    CHECK_EQ(cdb_kd_del(kd, key, LEN, NULL), 1);
    CHECK(!cdb_kd_find(kd, key, LEN, NULL));
    CHECK(cdb_kd_find(kd, key, LEN - 1, NULL));
  }
  CHECK_EQ(cdb_kd_count(kd), PAIRS);
  for (int pair = 0; pair < PAIRS; pair++) {
    long_key(key, pair);
    CHECK_EQ(cdb_kd_del(kd, key, LEN - 1, NULL), 1);
  }
  CHECK_EQ(cdb_kd_count(kd), 0);
  CHECK_EQ(cdb_kd_bytes(kd), empty_bytes); /* the long keys' blocks too */
  cdb_kd_free(kd);
  free(key);
}

/* An update: same version, cursors stay valid and read the new location,
 * also when the update adds or drops the expiry (the entry changes size and
 * the entries after it move).  Insert and delete: a new version, and old
 * cursors read nothing, never freed memory. */
static void test_versions_and_cursors(void) {
  cdb_keydir *kd = cdb_kd_new();
  REQUIRE(kd);
  unsigned char key[8];
  for (uint32_t i = 0; i < 5000; i++) {
    memcpy(key, &i, 4);
    cdb_loc loc = loc_make(i);
    CHECK_EQ(cdb_kd_set(kd, key, 4, &loc, NULL), 1);
  }
  uint32_t probe = 1234;
  memcpy(key, &probe, 4);
  cdb_kd_cursor cur, before;
  got g;
  cdb_kd_seek(kd, key, 4, &cur);
  CHECK(cursor_got(kd, &cur, &g) && g.klen == 4 && memcmp(g.key, key, 4) == 0);
  before = cur; /* a second cursor on the probe, to step past it later */

  uint64_t v = cdb_kd_version(kd);
  cdb_loc loc = loc_make(99), old, now;
  CHECK_EQ(cdb_kd_set(kd, key, 4, &loc, &old), 0);
  CHECK(loc_equal(
      &old,
      &(cdb_loc){.slot = 1234, .offset = 4, .size = 0, .expiry = 1234 * 31}));
  CHECK_EQ(cdb_kd_version(kd), v);
  CHECK(cdb_kd_find(kd, key, 4, &now) && loc_equal(&now, &loc));
  CHECK(cursor_got(kd, &cur, &g) && loc_equal(&g.loc, &loc)); /* still valid */

  /* Without an expiry the entry shrinks, with one it grows back. */
  cdb_loc plain = loc, timed = loc;
  plain.expiry = 0;
  timed.expiry = UINT64_MAX;
  for (int round = 0; round < 3; round++) {
    CHECK_EQ(cdb_kd_set(kd, key, 4, round % 2 ? &timed : &plain, NULL), 0);
    CHECK_EQ(cdb_kd_version(kd), v);
    CHECK(cursor_got(kd, &cur, &g) &&
          loc_equal(&g.loc, round % 2 ? &timed : &plain));
  }
  /* The walk from here still sees the following keys intact. */
  cdb_kd_cursor_next(kd, &before);
  CHECK(cursor_got(kd, &before, &g));
  uint32_t next;
  memcpy(&next, g.key, 4);
  cdb_loc want = loc_make(next);
  CHECK(g.klen == 4 && loc_equal(&g.loc, &want));

  /* A failed delete changes nothing. */
  CHECK_EQ(cdb_kd_del(kd, "nope", 4, NULL), 0);
  CHECK_EQ(cdb_kd_version(kd), v);

  /* Deleting a great many keys frees nodes; the stale cursor says 0. */
  for (uint32_t i = 0; i < 5000; i++) {
    memcpy(key, &i, 4);
    if (i != probe)
      CHECK_EQ(cdb_kd_del(kd, key, 4, NULL), 1);
  }
  CHECK(cdb_kd_version(kd) != v);
  CHECK(!cursor_got(kd, &cur, &g));
  cdb_kd_cursor_next(kd, &cur);
  CHECK(!cursor_got(kd, &cur, &g));

  /* Insert moves the version too. */
  v = cdb_kd_version(kd);
  CHECK_EQ(cdb_kd_set(kd, "new", 3, &loc, NULL), 1);
  CHECK(cdb_kd_version(kd) != v);
  cdb_kd_free(kd);
}

/* Keys in ascending and descending order (the edge splits), then a
 * million keys of 16 bytes round trip. */
static void fill_sequential(cdb_keydir *kd, size_t n, int descending) {
  for (size_t i = 0; i < n; i++) {
    unsigned char key[8];
    uint64_t k = descending ? n - 1 - i : i;
    for (int b = 0; b < 8; b++)
      key[b] = (unsigned char)(k >> (56 - 8 * b));
    cdb_loc loc = loc_make(k);
    CHECK_EQ(cdb_kd_set(kd, key, 8, &loc, NULL), 1);
  }
}

static void check_sequential(const cdb_keydir *kd, size_t n) {
  cdb_kd_cursor cur;
  cdb_kd_seek(kd, NULL, 0, &cur);
  size_t i = 0;
  int same = 1;
  for (got g; cursor_got(kd, &cur, &g); cdb_kd_cursor_next(kd, &cur), i++)
    if (g.loc.slot != (uint32_t)i || g.klen != 8)
      same = 0;
  CHECK(same);
  CHECK_EQ(i, n);
}

static void test_sequential(void) {
  size_t n = scaled(100000);
  for (int descending = 0; descending < 2; descending++) {
    cdb_keydir *kd = cdb_kd_new();
    REQUIRE(kd);
    fill_sequential(kd, n, descending);
    check_sequential(kd, n);
    /* Sorted loads fill leaves: well under 2 pointers' worth per key. */
    size_t per_key = cdb_kd_bytes(kd) / n;
    CHECK(per_key < 48 + 16);
    cdb_kd_free(kd);
  }
}

static void key16(unsigned char *key, uint64_t i) {
  uint64_t a = i * 0x9e3779b97f4a7c15u, b = ~i * 0xc2b2ae3d27d4eb4fu;
  memcpy(key, &a, 8);
  memcpy(key + 8, &b, 8);
}

static void test_million_round_trip(void) {
  size_t n = scaled(1000000);
  cdb_keydir *kd = cdb_kd_new();
  REQUIRE(kd);
  unsigned char key[16];
  int ok = 1;
  for (size_t i = 0; i < n; i++) {
    key16(key, i);
    cdb_loc loc = loc_make(i);
    ok &= cdb_kd_set(kd, key, 16, &loc, NULL) == 1;
  }
  CHECK(ok);
  CHECK_EQ(cdb_kd_count(kd), n);
  for (size_t i = 0; i < n; i++) {
    key16(key, i);
    cdb_loc loc, want = loc_make(i);
    ok &= cdb_kd_find(kd, key, 16, &loc) && loc_equal(&loc, &want);
  }
  CHECK(ok);
  /* Ordered walk sees every key once, increasing. */
  cdb_kd_cursor cur;
  cdb_kd_seek(kd, NULL, 0, &cur);
  size_t seen = 0;
  got prev = {NULL, 0, {0}};
  for (got g; cursor_got(kd, &cur, &g); cdb_kd_cursor_next(kd, &cur), seen++) {
    ok &= seen == 0 || key_cmp(prev.key, prev.klen, g.key, g.klen) < 0;
    prev = g;
  }
  CHECK(ok);
  CHECK_EQ(seen, n);
  for (size_t i = 0; i < n; i += 2) {
    key16(key, i);
    ok &= cdb_kd_del(kd, key, 16, NULL) == 1;
  }
  CHECK(ok);
  CHECK_EQ(cdb_kd_count(kd), n - (n + 1) / 2);
  for (size_t i = 0; i < n; i += 1 + i % 7) { /* a sample is enough */
    key16(key, i);
    ok &= cdb_kd_find(kd, key, 16, NULL) == (i % 2 == 1);
  }
  CHECK(ok);
  cdb_kd_free(kd);
}

int main(void) {
  const char *s = getenv("CDB_TEST_SCALE");
  if (s && atof(s) > 0)
    scale = atof(s);
  test_empty();
  test_order_and_odd_keys();
  test_long_keys();
  test_versions_and_cursors();
  test_sequential();
  test_dense_workload();
  test_wide_workload();
  test_mixed_lengths();
  test_ordered_loads();
  test_million_round_trip();
  test_out_of_memory();
  return check_report();
}

/*
 * test_iter.c -- ordered iteration (caskdb_iter_*).
 *
 *  - Order: integer keys numerically (INT64_MIN .. INT64_MAX, negatives
 *    included) before every byte key; byte keys bytewise, embedded zeros
 *    and prefixes included (a shorter prefix first); the same after reopen.
 *  - Ranges: from inclusive, to exclusive, either NULL, across the two key
 *    kinds, empty ranges; prefixes (integer keys never match, an empty
 *    prefix is every byte key), prefixes combined with from/to.
 *  - Seek, forwards, backwards, after the end, within a range.
 *  - keys_only, and what meta gives back.
 *  - Expired keys are skipped (the clock is injected).
 *  - Changes during iteration, against a model: thousands of keys, random
 *    puts and deletes before and after the cursor with a fixed seed; each
 *    step gives exactly the smallest live key after the last one, so keys
 *    come strictly increasing, every key live throughout comes exactly
 *    once, and the iteration ends.
 *  - Closing the handle under open iterators: they answer CASKDB_EINVAL and
 *    caskdb_iter_close still frees them (ASan/valgrind check the leak).
 */
#include "check.h"
#include "testutil.h"

#include <inttypes.h>

static char tmpdir[256];

static const char *db_path(const char *name) {
  static char path[512];
  return tu_join(path, sizeof path, tmpdir, name);
}

/* ---- a fixed set of keys, in the order the iterator must give them ------ */

typedef struct tkey {
  int is_int;
  int64_t num;
  const char *bytes;
  size_t len;
} tkey;

/* clang-format off */
#define I(n) {1, (n), NULL, 0}
#define B(s) {0, 0, (s), sizeof(s) - 1}

static const tkey ordered[] = {
    I(INT64_MIN), I(INT64_MIN + 1), I(-1000), I(-256), I(-1),
    I(0), I(1), I(255), I(256), I(65536),
    I(INT64_MAX - 1), I(INT64_MAX), B(""), B("\0"), B("\0\0"),
    B("\0\x01"), B("\x01"), B("a"), B("a\0"), B("a\0\0"),
    B("a\0b"), B("a\x01"), B("ab"), B("abc"), B("abd"),
    B("b"), B("\x7f"), B("\x80"), B("\xff"), B("\xff\0"),
    B("\xff\xff")};
/* clang-format on */

#define NORDERED (sizeof ordered / sizeof ordered[0])
#define FIRST_BYTES 12 /* index of the first byte key */

static caskdb_key tk(size_t i) {
  return ordered[i].is_int ? caskdb_key_int(ordered[i].num)
                           : caskdb_key_bytes(ordered[i].bytes, ordered[i].len);
}

/* Which ordered[] key is k?  -1 if none. */
static long find_key(caskdb_key k) {
  size_t i;
  for (i = 0; i < NORDERED; i++) {
    if (ordered[i].is_int != k.is_int)
      continue;
    if (k.is_int
            ? ordered[i].num == k.num
            : ordered[i].len == k.len &&
                  (k.len == 0 || memcmp(ordered[i].bytes, k.data, k.len) == 0))
      return (long)i;
  }
  return -1;
}

/* The value stored under ordered[i]. */
static size_t value_of(size_t i, char *buf, size_t n) {
  return (size_t)snprintf(buf, n, "value-%zu", i);
}

static caskdb *open_ordered(const char *name) {
  caskdb *db = tu_open(db_path(name), NULL);
  size_t i, j;
  char v[32];
  /* Insert in a scrambled order (7 and 31 are coprime). */
  for (j = 0; j < NORDERED; j++) {
    caskdb_meta meta = {0, 0, 0};
    i = (j * 7 + 3) % NORDERED;
    meta.type = (uint8_t)(128 + i); /* application tags: 128..255 */
    meta.flags = (uint32_t)(1000 + i);
    REQUIRE(caskdb_put(db, tk(i), v, value_of(i, v, sizeof v), &meta) ==
            CASKDB_OK);
  }
  return db;
}

/* Iterate `range` and compare with ordered[] indices want[0 .. nwant). */
static int gives(caskdb *db, const caskdb_range *range, const long *want,
                 size_t nwant) {
  caskdb_iter *it;
  caskdb_key key;
  const void *v;
  size_t vlen, n = 0;
  caskdb_meta meta;
  char expect[32];
  int rc, ok = 1;
  REQUIRE(caskdb_iter_open(db, range, &it) == CASKDB_OK);
  while ((rc = caskdb_iter_next(it, &key, &v, &vlen, &meta)) == CASKDB_OK) {
    long i = find_key(key);
    if (n >= nwant || i != want[n]) {
      fprintf(stderr, "  step %zu: got key #%ld, want #%ld\n", n, i,
              n < nwant ? want[n] : -1L);
      ok = 0;
      break;
    }
    if (range == NULL || !range->keys_only) {
      size_t elen = value_of((size_t)i, expect, sizeof expect);
      ok &= vlen == elen && memcmp(v, expect, elen) == 0;
      ok &= meta.type == 128 + i && meta.flags == 1000 + (uint32_t)i;
    } else {
      ok &= v == NULL && vlen == 0;
    }
    n++;
  }
  if (ok && rc != CASKDB_DONE) {
    fprintf(stderr, "  iter_next gave %s\n", caskdb_code_name(rc));
    ok = 0;
  }
  if (ok && n != nwant) {
    fprintf(stderr, "  got %zu keys, want %zu\n", n, nwant);
    ok = 0;
  }
  /* Done stays done. */
  if (ok)
    ok = caskdb_iter_next(it, &key, NULL, NULL, NULL) == CASKDB_DONE;
  caskdb_iter_close(it);
  return ok;
}

/* want = ordered indices lo .. hi-1 */
static int gives_span(caskdb *db, const caskdb_range *range, long lo, long hi) {
  long want[NORDERED];
  long i;
  for (i = lo; i < hi; i++)
    want[i - lo] = i;
  return gives(db, range, want, hi > lo ? (size_t)(hi - lo) : 0);
}

static void order(void) {
  caskdb *db = open_ordered("order");
  caskdb_range keys_only;
  memset(&keys_only, 0, sizeof keys_only);
  keys_only.keys_only = 1;
  CHECK(gives_span(db, NULL, 0, NORDERED));
  CHECK(gives_span(db, &keys_only, 0, NORDERED));
  CHECK_EQ(caskdb_close(db), CASKDB_OK);
  /* The keydir rebuilt from disk gives the same order. */
  db = tu_open(db_path("order"), NULL);
  CHECK(gives_span(db, NULL, 0, NORDERED));
  CHECK_EQ(caskdb_close(db), CASKDB_OK);
}

static caskdb_range span(const caskdb_key *from, const caskdb_key *to) {
  caskdb_range r;
  memset(&r, 0, sizeof r);
  r.from = from;
  r.to = to;
  return r;
}

static caskdb_range with_prefix(const char *p, size_t n) {
  caskdb_range r;
  memset(&r, 0, sizeof r);
  r.prefix = p;
  r.prefix_len = n;
  return r;
}

static void ranges(void) {
  caskdb *db = open_ordered("ranges");
  caskdb_key zero = caskdb_key_int(0), m1 = caskdb_key_int(-1);
  caskdb_key imin = caskdb_key_int(INT64_MIN), imax = caskdb_key_int(INT64_MAX);
  caskdb_key a0b = caskdb_key_bytes("a\0b", 3),
             a0a = caskdb_key_bytes("a\0a", 3);
  caskdb_key ab = caskdb_key_bytes("ab", 2), empty = caskdb_key_bytes("", 0);
  caskdb_key b = caskdb_key_bytes("b", 1),
             big = caskdb_key_bytes("\xff\xff\xff", 3);
  caskdb_range r;

  r = span(NULL, NULL);
  CHECK(gives_span(db, &r, 0, NORDERED));
  /* An integer from, a byte to: across the kinds. */
  r = span(&zero, &a0b);
  CHECK(gives_span(db, &r, 5, 20));
  r = span(NULL, &m1);
  CHECK(gives_span(db, &r, 0, 4));
  r = span(&m1, NULL);
  CHECK(gives_span(db, &r, 4, NORDERED));
  r = span(&ab, NULL);
  CHECK(gives_span(db, &r, 22, NORDERED));
  /* A from that is not a key starts at the next one. */
  r = span(&a0a, &b);
  CHECK(gives_span(db, &r, 20, 25));
  /* The empty byte key: "to" it is every integer, "from" it every byte
   * key. */
  r = span(NULL, &empty);
  CHECK(gives_span(db, &r, 0, FIRST_BYTES));
  r = span(&empty, NULL);
  CHECK(gives_span(db, &r, FIRST_BYTES, NORDERED));
  r = span(&imin, &imax);
  CHECK(gives_span(db, &r, 0, 11));
  r = span(&imax, &empty);
  CHECK(gives_span(db, &r, 11, 12));
  /* Empty ranges. */
  r = span(&ab, &ab);
  CHECK(gives_span(db, &r, 0, 0));
  r = span(&b, &ab);
  CHECK(gives_span(db, &r, 0, 0));
  r = span(NULL, &imin);
  CHECK(gives_span(db, &r, 0, 0));
  r = span(&big, NULL);
  CHECK(gives_span(db, &r, 0, 0));

  /* Prefixes. */
  r = with_prefix("a", 1);
  CHECK(gives_span(db, &r, 17, 25));
  r = with_prefix("a\0", 2);
  CHECK(gives_span(db, &r, 18, 21));
  r = with_prefix("\0", 1);
  CHECK(gives_span(db, &r, 13, 16));
  r = with_prefix("\xff", 1);
  CHECK(gives_span(db, &r, 28, 31));
  r = with_prefix("abc", 3);
  CHECK(gives_span(db, &r, 23, 24));
  r = with_prefix("zzz", 3);
  CHECK(gives_span(db, &r, 0, 0));
  r = with_prefix("abcd", 4);
  CHECK(gives_span(db, &r, 0, 0));
  /* The empty prefix: every byte key, no integer. */
  r = with_prefix("", 0);
  CHECK(gives_span(db, &r, FIRST_BYTES, NORDERED));
  /* A prefix with bounds. */
  r = with_prefix("a", 1);
  r.from = &a0b;
  CHECK(gives_span(db, &r, 20, 25));
  r.from = NULL;
  r.to = &ab;
  CHECK(gives_span(db, &r, 17, 22));
  r.from = &zero; /* below the prefix: starts at it */
  r.to = NULL;
  CHECK(gives_span(db, &r, 17, 25));
  r.from = &b; /* above it */
  CHECK(gives_span(db, &r, 0, 0));
  r = with_prefix("a", 1);
  r.keys_only = 1;
  CHECK(gives_span(db, &r, 17, 25));

  /* Bad ranges. */
  {
    caskdb_iter *it = (caskdb_iter *)&r;
    char *huge = malloc(CASKDB_MAX_KEY_SIZE + 1);
    caskdb_key hk;
    REQUIRE(huge != NULL);
    memset(huge, 'h', CASKDB_MAX_KEY_SIZE + 1);
    hk = caskdb_key_bytes(huge, CASKDB_MAX_KEY_SIZE + 1);
    r = with_prefix(NULL, 3);
    CHECK_EQ(caskdb_iter_open(db, &r, &it), CASKDB_EINVAL);
    CHECK(it == NULL);
    r = with_prefix(huge, CASKDB_MAX_KEY_SIZE + 1);
    CHECK_EQ(caskdb_iter_open(db, &r, &it), CASKDB_ETOOLARGE);
    r = span(&hk, NULL);
    CHECK_EQ(caskdb_iter_open(db, &r, &it), CASKDB_ETOOLARGE);
    r = span(NULL, &hk);
    CHECK_EQ(caskdb_iter_open(db, &r, &it), CASKDB_ETOOLARGE);
    CHECK_EQ(caskdb_iter_open(NULL, NULL, &it), CASKDB_EINVAL);
    CHECK_EQ(caskdb_iter_open(db, NULL, NULL), CASKDB_EINVAL);
    /* The largest key is a fine bound. */
    hk.len = CASKDB_MAX_KEY_SIZE;
    r = span(NULL, &hk);
    CHECK(gives_span(db, &r, 0, 26)); /* 'h' < 0x7f */
    free(huge);
  }
  CHECK_EQ(caskdb_close(db), CASKDB_OK);
}

/* The index of the next key, or -2 for CASKDB_DONE, -3 for an error. */
static long next_index(caskdb_iter *it) {
  caskdb_key key;
  int rc = caskdb_iter_next(it, &key, NULL, NULL, NULL);
  if (rc == CASKDB_DONE)
    return -2;
  if (rc != CASKDB_OK)
    return -3;
  return find_key(key);
}

static void seek(void) {
  caskdb *db = open_ordered("seek");
  caskdb_iter *it;
  caskdb_range r;
  caskdb_key ab = caskdb_key_bytes("ab", 2), b = caskdb_key_bytes("b", 1);
  char *huge = malloc(CASKDB_MAX_KEY_SIZE + 1);
  REQUIRE(huge != NULL);
  memset(huge, 'h', CASKDB_MAX_KEY_SIZE + 1);

  REQUIRE(caskdb_iter_open(db, NULL, &it) == CASKDB_OK);
  CHECK_EQ(caskdb_iter_seek(it, caskdb_key_int(256)), CASKDB_OK);
  CHECK_EQ(next_index(it), 8);
  CHECK_EQ(next_index(it), 9);
  CHECK_EQ(caskdb_iter_seek(it, caskdb_key_int(257)), CASKDB_OK);
  CHECK_EQ(next_index(it), 9);
  CHECK_EQ(caskdb_iter_seek(it, caskdb_key_bytes("a\0a", 3)), CASKDB_OK);
  CHECK_EQ(next_index(it), 20);
  /* Backwards. */
  CHECK_EQ(caskdb_iter_seek(it, caskdb_key_int(INT64_MIN)), CASKDB_OK);
  CHECK_EQ(next_index(it), 0);
  CHECK_EQ(caskdb_iter_seek(it, caskdb_key_int(-2)), CASKDB_OK);
  CHECK_EQ(next_index(it), 4);
  CHECK_EQ(caskdb_iter_seek(it, caskdb_key_bytes("", 0)), CASKDB_OK);
  CHECK_EQ(next_index(it), FIRST_BYTES);
  /* Past the end, and back after the end. */
  CHECK_EQ(caskdb_iter_seek(it, caskdb_key_bytes("\xff\xff\x00", 3)),
           CASKDB_OK);
  CHECK_EQ(next_index(it), -2);
  CHECK_EQ(next_index(it), -2);
  CHECK_EQ(caskdb_iter_seek(it, caskdb_key_bytes("\xff", 1)), CASKDB_OK);
  CHECK_EQ(next_index(it), 28);
  CHECK_EQ(next_index(it), 29);
  CHECK_EQ(next_index(it), 30);
  CHECK_EQ(next_index(it), -2);
  CHECK_EQ(
      caskdb_iter_seek(it, caskdb_key_bytes(huge, CASKDB_MAX_KEY_SIZE + 1)),
      CASKDB_ETOOLARGE);
  CHECK_EQ(caskdb_iter_seek(NULL, ab), CASKDB_EINVAL);
  caskdb_iter_close(it);

  /* Within a range the seek stays inside it. */
  r = span(&ab, &b);
  REQUIRE(caskdb_iter_open(db, &r, &it) == CASKDB_OK);
  CHECK_EQ(caskdb_iter_seek(it, caskdb_key_bytes("abd", 3)), CASKDB_OK);
  CHECK_EQ(next_index(it), 24);
  CHECK_EQ(next_index(it), -2);
  CHECK_EQ(caskdb_iter_seek(it, b), CASKDB_OK);
  CHECK_EQ(next_index(it), -2);
  /* Before `from`: the first key of the range, not a key below it. */
  CHECK_EQ(caskdb_iter_seek(it, caskdb_key_bytes("a", 1)), CASKDB_OK);
  CHECK_EQ(next_index(it), 22);
  CHECK_EQ(caskdb_iter_seek(it, caskdb_key_int(0)), CASKDB_OK);
  CHECK_EQ(next_index(it), 22);
  caskdb_iter_close(it);

  r = with_prefix("a", 1);
  REQUIRE(caskdb_iter_open(db, &r, &it) == CASKDB_OK);
  CHECK_EQ(caskdb_iter_seek(it, caskdb_key_int(0)), CASKDB_OK);
  CHECK_EQ(next_index(it), 17);
  CHECK_EQ(caskdb_iter_seek(it, caskdb_key_bytes("a\x01", 2)), CASKDB_OK);
  CHECK_EQ(next_index(it), 21);
  CHECK_EQ(caskdb_iter_seek(it, b), CASKDB_OK);
  CHECK_EQ(next_index(it), -2);
  caskdb_iter_close(it);
  free(huge);
  CHECK_EQ(caskdb_close(db), CASKDB_OK);
}

/* ---- keys_only, meta and expiry ------------------------------------------ */

static void keys_only_and_expiry(void) {
  uint64_t now = 1700000000000u;
  caskdb_options o;
  caskdb *db;
  caskdb_iter *it;
  caskdb_range r;
  caskdb_key key, e2 = caskdb_key_bytes("e2", 2);
  caskdb_meta meta;
  const void *v;
  size_t vlen;
  caskdb_meta m1 = {135, 55, 0}, m2 = {136, 66, 0}; /* application tags */
  int rc;
  caskdb_options_init(&o);
  o.clock = tu_clock;
  o.clock_ctx = &now;
  db = tu_open(db_path("expiry"), &o);
  m1.expiry = now + 10;
  m2.expiry = now + 20;
  CHECK_EQ(caskdb_put(db, caskdb_key_int(5), "i5", 2, &m1), CASKDB_OK);
  CHECK_EQ(caskdb_put(db, tu_skey("e1"), "v1", 2, &m1), CASKDB_OK);
  CHECK_EQ(caskdb_put(db, tu_skey("e2"), "v2", 2, &m2), CASKDB_OK);
  CHECK_EQ(caskdb_put(db, tu_skey("e3"), "v3", 2, NULL), CASKDB_OK);
  m2.expiry = now + 30;
  CHECK_EQ(caskdb_put(db, tu_skey("e4"), "v4", 2, &m2), CASKDB_OK);

  /* keys_only: keys and expiry, no value. */
  memset(&r, 0, sizeof r);
  r.keys_only = 1;
  REQUIRE(caskdb_iter_open(db, &r, &it) == CASKDB_OK);
  v = "x";
  vlen = 99;
  CHECK_EQ(caskdb_iter_next(it, &key, &v, &vlen, &meta), CASKDB_OK);
  CHECK(key.is_int && key.num == 5);
  CHECK(v == NULL && vlen == 0);
  CHECK(meta.expiry == now + 10);
  CHECK_EQ(caskdb_iter_next(it, &key, &v, &vlen, &meta), CASKDB_OK);
  CHECK(!key.is_int && key.len == 2 && memcmp(key.data, "e1", 2) == 0);
  CHECK(v == NULL && vlen == 0);
  caskdb_iter_close(it);

  /* A full read gives value and meta. */
  REQUIRE(caskdb_iter_open(db, NULL, &it) == CASKDB_OK);
  CHECK_EQ(caskdb_iter_seek(it, e2), CASKDB_OK);
  CHECK_EQ(caskdb_iter_next(it, &key, &v, &vlen, &meta), CASKDB_OK);
  CHECK(vlen == 2 && memcmp(v, "v2", 2) == 0);
  CHECK(meta.type == 136 && meta.flags == 66 && meta.expiry == now + 20);
  caskdb_iter_close(it);

  /* At now + 10, i5 and e1 are gone (expiry <= now). */
  now += 10;
  REQUIRE(caskdb_iter_open(db, NULL, &it) == CASKDB_OK);
  CHECK_EQ(caskdb_iter_next(it, &key, &v, &vlen, &meta), CASKDB_OK);
  CHECK(!key.is_int && key.len == 2 && memcmp(key.data, "e2", 2) == 0);
  /* The clock moves on during the iteration: e4 expires before it is
   * reached, e3 never does. */
  now += 25;
  CHECK_EQ(caskdb_iter_next(it, &key, &v, &vlen, &meta), CASKDB_OK);
  CHECK(key.len == 2 && memcmp(key.data, "e3", 2) == 0);
  CHECK(meta.expiry == 0 && vlen == 2 && memcmp(v, "v3", 2) == 0);
  CHECK_EQ(caskdb_iter_next(it, &key, &v, &vlen, &meta), CASKDB_DONE);
  caskdb_iter_close(it);

  /* A range starting and ending on expired keys. */
  now -= 25; /* now + 10 again: e2, e3, e4 live */
  {
    caskdb_key e1 = caskdb_key_bytes("e1", 2), e4 = caskdb_key_bytes("e4", 2);
    r = span(&e1, &e4);
    r.keys_only = 1;
    REQUIRE(caskdb_iter_open(db, &r, &it) == CASKDB_OK);
    CHECK_EQ(caskdb_iter_next(it, &key, NULL, NULL, NULL), CASKDB_OK);
    CHECK(key.len == 2 && memcmp(key.data, "e2", 2) == 0);
    CHECK_EQ(caskdb_iter_next(it, &key, NULL, NULL, NULL), CASKDB_OK);
    CHECK(key.len == 2 && memcmp(key.data, "e3", 2) == 0);
    now += 100; /* everything with an expiry is gone */
    CHECK_EQ(caskdb_iter_next(it, &key, NULL, NULL, NULL), CASKDB_DONE);
    caskdb_iter_close(it);
  }
  /* Everything expired but e3. */
  REQUIRE(caskdb_iter_open(db, NULL, &it) == CASKDB_OK);
  CHECK_EQ(caskdb_iter_next(it, &key, &v, &vlen, NULL), CASKDB_OK);
  CHECK(key.len == 2 && memcmp(key.data, "e3", 2) == 0);
  rc = caskdb_iter_next(it, &key, &v, &vlen, NULL);
  CHECK_EQ(rc, CASKDB_DONE);
  caskdb_iter_close(it);
  CHECK_EQ(caskdb_close(db), CASKDB_OK);

  /* After reopen the expired keys stay gone. */
  db = tu_open(db_path("expiry"), &o);
  REQUIRE(caskdb_iter_open(db, NULL, &it) == CASKDB_OK);
  CHECK_EQ(caskdb_iter_next(it, &key, NULL, NULL, NULL), CASKDB_OK);
  CHECK(key.len == 2 && memcmp(key.data, "e3", 2) == 0);
  CHECK_EQ(caskdb_iter_next(it, &key, NULL, NULL, NULL), CASKDB_DONE);
  caskdb_iter_close(it);
  CHECK_EQ(caskdb_close(db), CASKDB_OK);
}

/* ---- changes during iteration, against a model -------------------------- */

/* Key universe: index i < NINT is an integer key (INT64_MIN, ..., INT64_MAX
 * increasing with i); the rest are byte keys "u\0" + six digits, with an
 * embedded zero; so the universe's order is index order. */
#define NKEYS 6000
#define NINT 1500

static caskdb_key model_key(long i, char *buf) {
  if (i < NINT) {
    int64_t n = i == 0          ? INT64_MIN
                : i == NINT - 1 ? INT64_MAX
                                : ((int64_t)i - NINT / 2) * 1000003;
    return caskdb_key_int(n);
  }
  buf[0] = 'u';
  buf[1] = '\0';
  snprintf(buf + 2, 30, "%06d", (int)(i % 1000000));
  return caskdb_key_bytes(buf, 8);
}

static long model_index(caskdb_key k) {
  if (k.is_int) {
    if (k.num == INT64_MIN)
      return 0;
    if (k.num == INT64_MAX)
      return NINT - 1;
    return (long)(k.num / 1000003) + NINT / 2;
  }
  if (k.len != 8 || memcmp(k.data, "u\0", 2) != 0)
    return -1;
  {
    const unsigned char *d = (const unsigned char *)k.data + 2;
    long n = 0;
    int j;
    for (j = 0; j < 6; j++) {
      if (d[j] < '0' || d[j] > '9')
        return -1;
      n = n * 10 + (d[j] - '0');
    }
    return n;
  }
}

typedef struct model {
  unsigned char live[NKEYS];
  unsigned ver[NKEYS];
  unsigned char live_at_start[NKEYS];
  unsigned char deleted[NKEYS]; /* deleted at some point during iteration */
  unsigned seen[NKEYS];
} model;

static size_t model_value(long i, unsigned ver, char *buf, size_t n) {
  /* Lengths vary with the version so updates move records around. */
  return (size_t)snprintf(buf, n, "%ld:%u:%.*s", i, ver, (int)(ver % 40),
                          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
}

static void model_put(caskdb *db, model *m, long i) {
  char kb[32], v[80];
  m->ver[i]++;
  m->live[i] = 1;
  REQUIRE(caskdb_put(db, model_key(i, kb), v,
                     model_value(i, m->ver[i], v, sizeof v),
                     NULL) == CASKDB_OK);
}

static void model_del(caskdb *db, model *m, long i) {
  char kb[32];
  int rc = caskdb_delete(db, model_key(i, kb));
  REQUIRE(rc == (m->live[i] ? CASKDB_OK : CASKDB_ENOTFOUND));
  m->live[i] = 0;
  m->deleted[i] = 1;
}

/* The smallest live index in [from, hi), or -1. */
static long model_next(const model *m, long from, long hi) {
  long i;
  for (i = from; i < hi; i++)
    if (m->live[i])
      return i;
  return -1;
}

/* Iterate [lo, hi) of the universe (as `range` says) while changing the
 * database at random after every step. */
static void churn(const char *name, uint64_t seed, const caskdb_range *range,
                  long lo, long hi) {
  caskdb *db = tu_open(db_path(name), NULL);
  model *m = calloc(1, sizeof *m);
  caskdb_iter *it;
  caskdb_key key;
  const void *v;
  size_t vlen;
  long i, last = lo - 1, steps = 0, bad = 0, puts = 0, dels = 0;
  char expect[80];
  int rc;
  REQUIRE(m != NULL);
  for (i = 0; i < NKEYS; i++)
    if (tu_rand(&seed) % 10 < 6)
      model_put(db, m, i);
  memcpy(m->live_at_start, m->live, sizeof m->live);

  REQUIRE(caskdb_iter_open(db, range, &it) == CASKDB_OK);
  for (;;) {
    long want = model_next(m, last + 1, hi), got, k, nops;
    rc = caskdb_iter_next(it, &key, &v, &vlen, NULL);
    if (rc == CASKDB_DONE) {
      if (want != -1) {
        fprintf(stderr, "%s: done early, %ld still to come\n", name, want);
        bad++;
      }
      break;
    }
    if (rc != CASKDB_OK) {
      fprintf(stderr, "%s: iter_next gave %s\n", name, caskdb_code_name(rc));
      bad++;
      break;
    }
    got = model_index(key);
    if (got < 0 || got >= NKEYS) {
      fprintf(stderr, "%s: a key not in the universe\n", name);
      bad++;
      break;
    }
    if (got <= last) {
      fprintf(stderr, "%s: key %ld after %ld: not increasing\n", name, got,
              last);
      bad++;
      break;
    }
    if (got != want) {
      if (bad++ < 5)
        fprintf(stderr, "%s: got key %ld, want %ld\n", name, got, want);
    }
    m->seen[got]++;
    if (range == NULL || !range->keys_only) {
      size_t elen = model_value(got, m->ver[got], expect, sizeof expect);
      if (vlen != elen || memcmp(v, expect, elen) != 0) {
        if (bad++ < 5)
          fprintf(stderr, "%s: key %ld has a stale value\n", name, got);
      }
    }
    last = got;
    if (++steps > NKEYS + 1) {
      fprintf(stderr, "%s: iteration does not end\n", name);
      bad++;
      break;
    }
    /* Change things: before, at and after the cursor. */
    nops = (long)(tu_rand(&seed) % 4);
    for (k = 0; k < nops; k++) {
      long target = (long)(tu_rand(&seed) % NKEYS), nx;
      switch (tu_rand(&seed) % 6) {
      case 0: /* a put anywhere: a new key or an update */
      case 1:
        model_put(db, m, target);
        puts++;
        break;
      case 2: /* a delete anywhere */
        model_del(db, m, target);
        dels++;
        break;
      case 3: /* the key just given */
        if (m->live[last])
          model_del(db, m, last), dels++;
        else
          model_put(db, m, last), puts++;
        break;
      case 4: /* a new key right after the cursor */
        if (last + 1 < NKEYS) {
          model_put(db, m,
                    last + 1 + (long)(tu_rand(&seed) % 3) % (NKEYS - last - 1));
          puts++;
        }
        break;
      default: /* the key that would come next */
        nx = model_next(m, last + 1, NKEYS);
        if (nx >= 0)
          model_del(db, m, nx), dels++;
        break;
      }
    }
  }
  caskdb_iter_close(it);

  for (i = lo; i < hi; i++) {
    if (m->seen[i] > 1) {
      if (bad++ < 10)
        fprintf(stderr, "%s: key %ld given %u times\n", name, i, m->seen[i]);
    }
    if (m->live_at_start[i] && !m->deleted[i] && m->seen[i] != 1) {
      if (bad++ < 10)
        fprintf(stderr, "%s: key %ld, live throughout, given %u times\n", name,
                i, m->seen[i]);
    }
  }
  for (i = 0; i < NKEYS; i++)
    if ((i < lo || i >= hi) && m->seen[i] != 0)
      bad++;
  printf("%s: %ld steps, %ld puts, %ld deletes during the iteration\n", name,
         steps, puts, dels);
  CHECK_EQ(bad, 0);
  CHECK(steps > (hi - lo) / 10);
  CHECK(puts > 100 && dels > 100);
  {
    long live = 0;
    for (i = 0; i < NKEYS; i++)
      live += m->live[i];
    CHECK_EQ(caskdb_count(db), live);
  }
  free(m);
  CHECK_EQ(caskdb_close(db), CASKDB_OK);
}

static void modify_during_iteration(void) {
  char kb1[32], kb2[32];
  caskdb_key from = model_key(700, kb1), to = model_key(4500, kb2);
  caskdb_range r;
  churn("churn-all", 0x5eed1234abcdULL, NULL, 0, NKEYS);
  memset(&r, 0, sizeof r);
  r.keys_only = 1;
  churn("churn-keys-only", 0x0badcafe1ULL, &r, 0, NKEYS);
  r = span(&from, &to);
  churn("churn-range", 0x123456789ULL, &r, 700, 4500);
  /* "u\0" "003": the byte keys 3000 .. 3999. */
  r = with_prefix("u\0"
                  "003",
                  5);
  churn("churn-prefix", 0x42ULL, &r, 3000, 4000);
}

/* ---- the handle closed under its iterators ------------------------------- */

static void close_under_iterators(void) {
  caskdb *db = open_ordered("close");
  caskdb_iter *it1, *it2, *it3, *it4;
  caskdb_key key;
  REQUIRE(caskdb_iter_open(db, NULL, &it1) == CASKDB_OK);
  REQUIRE(caskdb_iter_open(db, NULL, &it2) == CASKDB_OK);
  REQUIRE(caskdb_iter_open(db, NULL, &it3) == CASKDB_OK);
  REQUIRE(caskdb_iter_open(db, NULL, &it4) == CASKDB_OK);
  CHECK_EQ(next_index(it1), 0);
  CHECK_EQ(next_index(it3), 0);
  CHECK_EQ(next_index(it3), 1);
  /* Closing iterators from the middle and the ends of the list. */
  caskdb_iter_close(it2);
  caskdb_iter_close(it4);
  CHECK_EQ(next_index(it1), 1);
  CHECK_EQ(caskdb_close(db), CASKDB_OK);
  CHECK_EQ(caskdb_iter_next(it1, &key, NULL, NULL, NULL), CASKDB_EINVAL);
  CHECK_EQ(caskdb_iter_next(it3, &key, NULL, NULL, NULL), CASKDB_EINVAL);
  CHECK_EQ(caskdb_iter_seek(it1, caskdb_key_int(0)), CASKDB_EINVAL);
  CHECK_EQ(caskdb_iter_next(it1, &key, NULL, NULL, NULL), CASKDB_EINVAL);
  caskdb_iter_close(it1);
  caskdb_iter_close(it3);
  caskdb_iter_close(NULL);
  CHECK_EQ(caskdb_iter_next(NULL, &key, NULL, NULL, NULL), CASKDB_EINVAL);

  /* An iterator that was never used, and one that had finished. */
  db = tu_open(db_path("close"), NULL);
  REQUIRE(caskdb_iter_open(db, NULL, &it1) == CASKDB_OK);
  REQUIRE(caskdb_iter_open(db, NULL, &it2) == CASKDB_OK);
  while (next_index(it2) >= 0)
    ;
  CHECK_EQ(caskdb_close(db), CASKDB_OK);
  CHECK_EQ(caskdb_iter_next(it1, &key, NULL, NULL, NULL), CASKDB_EINVAL);
  CHECK_EQ(caskdb_iter_next(it2, &key, NULL, NULL, NULL), CASKDB_EINVAL);
  caskdb_iter_close(it2);
  caskdb_iter_close(it1);
}

static void empty_database(void) {
  caskdb *db = tu_open(db_path("empty"), NULL);
  caskdb_iter *it;
  caskdb_key key;
  REQUIRE(caskdb_iter_open(db, NULL, &it) == CASKDB_OK);
  CHECK_EQ(caskdb_iter_next(it, &key, NULL, NULL, NULL), CASKDB_DONE);
  CHECK_EQ(caskdb_iter_next(it, &key, NULL, NULL, NULL), CASKDB_DONE);
  /* A key added later is found after a seek. */
  CHECK_EQ(caskdb_put(db, tu_skey("late"), "1", 1, NULL), CASKDB_OK);
  CHECK_EQ(caskdb_iter_seek(it, caskdb_key_int(INT64_MIN)), CASKDB_OK);
  CHECK_EQ(caskdb_iter_next(it, &key, NULL, NULL, NULL), CASKDB_OK);
  CHECK(key.len == 4 && memcmp(key.data, "late", 4) == 0);
  CHECK_EQ(caskdb_iter_next(it, &key, NULL, NULL, NULL), CASKDB_DONE);
  caskdb_iter_close(it);
  CHECK_EQ(caskdb_close(db), CASKDB_OK);
}

int main(void) {
  tu_make_tmpdir(tmpdir, sizeof tmpdir, "iter");
  order();
  ranges();
  seek();
  keys_only_and_expiry();
  modify_during_iteration();
  close_under_iterators();
  empty_database();
  tu_remove_tree(tmpdir);
  return check_report();
}

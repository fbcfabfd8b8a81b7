/*
 * test_cache.c -- the value cache on its own (cache.c): eviction orders of
 * LRU and SIEVE on small traces worked out by hand, a scan that LRU loses
 * the hot records to and SIEVE does not, the budget under a long random
 * trace, oversized records refused, entries dropped by file, and moved.
 */
#include "cache.h"
#include "caskdb.h"
#include "check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEN 100 /* the record length of the hand-made traces */

/* The bucket array of a new cache: 16 pointers and a malloc header.  Kept
 * in step with table_bytes() in cache.c. */
#define FIRST_TABLE (16 * sizeof(void *) + 16)

/* The bytes of record (file, off) of length len: a pattern of both. */
static void fill(unsigned char *buf, uint64_t file, uint32_t off,
                 uint32_t len) {
  uint32_t i;
  for (i = 0; i < len; i++)
    buf[i] = (unsigned char)(file * 31 + off * 7 + i);
}

/* A cache that holds exactly `n` records of LEN bytes (n <= 32, so the
 * table stays at its first size). */
static cdb_cache *cache_for(int n, int policy) {
  cdb_cache *c = cdb_cache_new(
      FIRST_TABLE + (uint64_t)n * cdb_cache_entry_charge(LEN), policy);
  REQUIRE(c != NULL);
  return c;
}

static int put(cdb_cache *c, uint32_t key) {
  unsigned char buf[LEN];
  fill(buf, 1, key, LEN);
  return cdb_cache_put(c, 1, key, buf, LEN);
}

/* Whether record `key` of file 1 is cached, with the right bytes.  A hit
 * counts as a use (moves it in LRU, marks it in SIEVE). */
static int has(cdb_cache *c, uint32_t key) {
  unsigned char want[LEN];
  uint32_t len = 0;
  const unsigned char *p = cdb_cache_get(c, 1, key, &len);
  if (p == NULL)
    return 0;
  fill(want, 1, key, LEN);
  CHECK_EQ(len, LEN);
  CHECK(memcmp(p, want, LEN) == 0);
  CHECK_EQ(p[LEN], 0);
  return 1;
}

static cdb_cache_stats stats(const cdb_cache *c) {
  cdb_cache_stats st;
  cdb_cache_get_stats(c, &st);
  return st;
}

/* 8 records fill the cache; a hit on 1, then 9 comes in.  LRU evicts 2
 * (1 was moved to the head); SIEVE's hand starts at the tail, finds 1
 * visited, clears it, and evicts 2 as well.  Then 10 and 11 come in: LRU
 * evicts 3 and 4 from its tail; SIEVE's hand went on from 2 to 3 and
 * evicts 3, then 4.  1 is still there in both. */
static void test_basic_order(int policy) {
  cdb_cache *c = cache_for(8, policy);
  uint32_t k;
  for (k = 1; k <= 8; k++)
    CHECK_EQ(put(c, k), 1);
  CHECK_EQ(stats(c).entries, 8);
  CHECK(has(c, 1));
  CHECK_EQ(put(c, 9), 1);
  CHECK_EQ(stats(c).entries, 8);
  CHECK_EQ(stats(c).evictions, 1);
  CHECK(!has(c, 2));
  CHECK_EQ(put(c, 10), 1);
  CHECK_EQ(put(c, 11), 1);
  for (k = 3; k <= 4; k++)
    CHECK(!has(c, k));
  for (k = 5; k <= 11; k++)
    CHECK(has(c, k));
  CHECK(has(c, 1));
  cdb_cache_free(c);
}

/* The difference: SIEVE's hand clears a visited bit and moves on, so an
 * entry used once per lap of the hand stays; LRU keeps recency only.
 *
 * 8 records; 1 and 2 are hot (hit once each); then a scan of 7 new records
 * (9..15), each used once.  LRU: the queue is 2 1 8 7 6 5 4 3 (head first)
 * and the 7 inserts evict 3 4 5 6 7 8 and then 1: 2 and 9..15 remain.
 * SIEVE: the queue is 8 7 6 5 4 3 2 1 (insertion order); the hand clears
 * 1 and 2 and evicts 3 4 5 6 7 8, one per insert; for the seventh it has
 * reached 9, the first scanned record, unvisited, and evicts it.  1, 2 and
 * 10..15 remain: the hot records survived the scan. */
static void test_scan(void) {
  cdb_cache *lru = cache_for(8, CASKDB_CACHE_LRU);
  cdb_cache *sieve = cache_for(8, CASKDB_CACHE_SIEVE);
  uint32_t k;
  for (k = 1; k <= 8; k++) {
    CHECK_EQ(put(lru, k), 1);
    CHECK_EQ(put(sieve, k), 1);
  }
  CHECK(has(lru, 1) && has(lru, 2));
  CHECK(has(sieve, 1) && has(sieve, 2));
  for (k = 9; k <= 15; k++) {
    CHECK_EQ(put(lru, k), 1);
    CHECK_EQ(put(sieve, k), 1);
  }
  CHECK_EQ(stats(lru).evictions, 7);
  CHECK_EQ(stats(sieve).evictions, 7);
  /* LRU: 2, 9..15 */
  CHECK(!has(lru, 1));
  CHECK(has(lru, 2));
  for (k = 3; k <= 8; k++)
    CHECK(!has(lru, k));
  for (k = 9; k <= 15; k++)
    CHECK(has(lru, k));
  /* SIEVE: 1, 2, 10..15 */
  CHECK(has(sieve, 1));
  CHECK(has(sieve, 2));
  for (k = 3; k <= 9; k++)
    CHECK(!has(sieve, k));
  for (k = 10; k <= 15; k++)
    CHECK(has(sieve, k));
  CHECK_EQ(stats(sieve).entries, 8);
  cdb_cache_free(lru);
  cdb_cache_free(sieve);
}

/* SIEVE when every entry is visited: the hand clears them all in one lap
 * and evicts the one it started from (the tail). */
static void test_sieve_all_visited(void) {
  cdb_cache *c = cache_for(8, CASKDB_CACHE_SIEVE);
  uint32_t k;
  for (k = 1; k <= 8; k++)
    CHECK_EQ(put(c, k), 1);
  for (k = 1; k <= 8; k++)
    CHECK(has(c, k));
  CHECK_EQ(put(c, 9), 1);
  CHECK(!has(c, 1));
  /* The hand now points at 2, unvisited (cleared): 10 evicts it even
   * though 3..8 were not used since either. */
  CHECK_EQ(put(c, 10), 1);
  CHECK(!has(c, 2));
  for (k = 3; k <= 10; k++)
    CHECK(has(c, k));
  cdb_cache_free(c);
}

/* Dropping the entry under SIEVE's hand moves the hand on (towards the
 * head): the next eviction starts from there. */
static void test_sieve_drop_hand(void) {
  cdb_cache *c = cache_for(8, CASKDB_CACHE_SIEVE);
  uint32_t k;
  for (k = 1; k <= 8; k++)
    CHECK_EQ(put(c, k), 1);
  CHECK(has(c, 1));
  CHECK(has(c, 3));
  CHECK_EQ(put(c, 9), 1); /* clears 1, evicts 2; the hand is at 3 */
  CHECK(!has(c, 2));
  cdb_cache_drop(c, 1, 3); /* the hand moves to 4 */
  CHECK_EQ(stats(c).entries, 7);
  CHECK_EQ(put(c, 10), 1); /* room for it: no eviction */
  CHECK_EQ(stats(c).evictions, 1);
  CHECK_EQ(put(c, 11), 1); /* evicts 4, where the hand is */
  CHECK(!has(c, 4));
  CHECK(has(c, 1) && has(c, 5) && has(c, 9) && has(c, 10) && has(c, 11));
  cdb_cache_free(c);
}

static void test_refusals(void) {
  uint64_t budget = 64 * 1024;
  cdb_cache *c = cdb_cache_new(budget, CASKDB_CACHE_SIEVE);
  unsigned char *big = calloc(1, 16 * 1024);
  uint32_t len;
  REQUIRE(c != NULL && big != NULL);
  /* The largest length whose entry fits in an eighth of the budget. */
  len = 8 * 1024;
  while (cdb_cache_entry_charge(len) > budget / 8)
    len--;
  CHECK_EQ(cdb_cache_put(c, 1, 0, big, len + 1), 0);
  CHECK_EQ(stats(c).entries, 0);
  CHECK(cdb_cache_get(c, 1, 0, &len) == NULL);
  CHECK_EQ(cdb_cache_put(c, 1, 0, big, len), 1);
  CHECK_EQ(cdb_cache_put(c, 1, 0, big, len), 0); /* already there */
  CHECK_EQ(stats(c).entries, 1);
  CHECK(stats(c).bytes <= budget);
  free(big);
  cdb_cache_free(c);

  /* A budget too small for any record caches nothing. */
  c = cdb_cache_new(100, CASKDB_CACHE_LRU);
  REQUIRE(c != NULL);
  CHECK_EQ(cdb_cache_put(c, 1, 0, (const unsigned char *)"x", 1), 0);
  CHECK_EQ(stats(c).bytes, 0);
  cdb_cache_free(c);
}

static void test_drop_file(void) {
  cdb_cache *c = cdb_cache_new(1 << 20, CASKDB_CACHE_LRU);
  unsigned char buf[LEN];
  uint32_t off, len;
  uint64_t file;
  REQUIRE(c != NULL);
  for (file = 1; file <= 3; file++)
    for (off = 0; off < 50; off++) {
      fill(buf, file, off * 1000, LEN);
      CHECK_EQ(cdb_cache_put(c, file, off * 1000, buf, LEN), 1);
    }
  CHECK_EQ(stats(c).entries, 150);
  cdb_cache_drop_file(c, 2, 0);
  cdb_cache_drop_file(c, 3, 25000); /* a cut at offset 25000 */
  CHECK_EQ(stats(c).entries, 75);
  for (off = 0; off < 50; off++) {
    CHECK(cdb_cache_get(c, 1, off * 1000, &len) != NULL);
    CHECK(cdb_cache_get(c, 2, off * 1000, &len) == NULL);
    CHECK((cdb_cache_get(c, 3, off * 1000, &len) != NULL) == (off < 25));
  }
  cdb_cache_drop_file(c, 1, 0);
  cdb_cache_drop_file(c, 3, 0);
  CHECK_EQ(stats(c).entries, 0);
  /* What is left is the table alone. */
  CHECK(stats(c).bytes > 0 && stats(c).bytes < 4096);
  cdb_cache_free(c);
}

static void test_move(void) {
  cdb_cache *c = cache_for(8, CASKDB_CACHE_SIEVE);
  unsigned char *p;
  uint32_t len;
  CHECK_EQ(put(c, 1), 1);
  CHECK_EQ(put(c, 2), 1);
  CHECK(cdb_cache_move(c, 1, 7, 2, 0) == NULL); /* nothing there */
  p = cdb_cache_move(c, 1, 1, 5, 4096);
  REQUIRE(p != NULL);
  p[0] = 0xAB; /* the caller may rewrite the bytes (a merge: the header) */
  CHECK(cdb_cache_get(c, 1, 1, &len) == NULL);
  p = (unsigned char *)cdb_cache_get(c, 5, 4096, &len);
  REQUIRE(p != NULL);
  CHECK_EQ(len, LEN);
  CHECK_EQ(p[0], 0xAB);
  CHECK_EQ(stats(c).entries, 2);
  cdb_cache_free(c);
}

/* A long random trace over many files and lengths: the budget holds after
 * every call, every hit gives the bytes that were put, and an entry
 * dropped (alone or with its file) never answers again. */
static void test_random(int policy) {
  enum { FILES = 8, OFFS = 400 };
  static unsigned char state[FILES][OFFS]; /* 0 unknown, 1 dropped */
  static uint32_t lens[FILES][OFFS];
  unsigned char *buf = malloc(4096), *want = malloc(4096);
  uint64_t budget = 256 * 1024;
  cdb_cache *c = cdb_cache_new(budget, policy);
  uint64_t seed = 42, hits = 0;
  int i;
  REQUIRE(c != NULL && buf != NULL && want != NULL);
  memset(state, 0, sizeof state);
  for (i = 0; i < 200000; i++) {
    uint32_t f, o, len;
    const unsigned char *p;
    int op;
    seed = seed * 6364136223846793005u + 1442695040888963407u;
    f = (uint32_t)(seed >> 33) % FILES;
    o = (uint32_t)(seed >> 20) % OFFS;
    op = (int)((seed >> 45) % 100);
    if (lens[f][o] == 0) /* each place keeps one length, as on disk */
      lens[f][o] = 36 + (uint32_t)((seed >> 10) % 4000);
    len = lens[f][o];
    if (op < 60) {
      uint32_t got;
      p = cdb_cache_get(c, f, o * 8192, &got);
      if (p != NULL) {
        hits++;
        CHECK_EQ(state[f][o], 0);
        CHECK_EQ(got, len);
        fill(want, f, o, len);
        CHECK(memcmp(p, want, len) == 0);
      } else {
        fill(buf, f, o, len);
        if (cdb_cache_put(c, f, o * 8192, buf, len) == 1)
          state[f][o] = 0;
      }
    } else if (op < 97) {
      cdb_cache_drop(c, f, o * 8192);
      state[f][o] = 1;
    } else if (op < 99) {
      uint32_t from = (uint32_t)(seed >> 5) % OFFS, k;
      cdb_cache_drop_file(c, f, from * 8192);
      for (k = from; k < OFFS; k++)
        state[f][k] = 1;
    } else {
      cdb_cache_drop_file(c, f, 0);
      memset(state[f], 1, OFFS);
    }
    CHECK(stats(c).bytes <= budget);
  }
  CHECK(hits > 1000);
  CHECK(stats(c).evictions > 1000);
  free(buf);
  free(want);
  cdb_cache_free(c);
}

/* The hash table grows past its first size and every entry is still found;
 * the budget holds with the bigger table counted. */
static void test_growth(void) {
  uint64_t budget = 2 * 1024 * 1024;
  cdb_cache *c = cdb_cache_new(budget, CASKDB_CACHE_LRU);
  unsigned char buf[40];
  uint32_t k, len, n;
  REQUIRE(c != NULL);
  for (k = 0; k < 100000; k++) {
    fill(buf, 9, k, sizeof buf);
    cdb_cache_put(c, 9, k, buf, sizeof buf);
    CHECK(stats(c).bytes <= budget);
  }
  n = (uint32_t)stats(c).entries;
  CHECK(n > 10000);
  /* LRU: the newest n are there, the rest gone. */
  for (k = 0; k < 100000; k++)
    CHECK((cdb_cache_get(c, 9, k, &len) != NULL) == (k >= 100000 - n));
  cdb_cache_free(c);
}

int main(void) {
  test_basic_order(CASKDB_CACHE_LRU);
  test_basic_order(CASKDB_CACHE_SIEVE);
  test_scan();
  test_sieve_all_visited();
  test_sieve_drop_hand();
  test_refusals();
  test_drop_file();
  test_move();
  test_random(CASKDB_CACHE_LRU);
  test_random(CASKDB_CACHE_SIEVE);
  test_growth();
  return check_report();
}

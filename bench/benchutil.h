/*
 * benchutil.h -- what the single-engine benchmarks (bigdata.c, startup.c)
 * share: a clock, a random generator, and keys and values that can be
 * checked when read back.
 */
#ifndef CASKDB_BENCHUTIL_H
#define CASKDB_BENCHUTIL_H

#include "caskdb.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static inline double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Key i: 2i as 16 zero-padded digits (db_bench's format). */
static inline caskdb_key key_of(uint64_t i, char buf[17]) {
  snprintf(buf, 17, "%016" PRIu64, 2 * i);
  return caskdb_key_bytes(buf, 16);
}

/* The value of key i: its bytes depend on i, so a read can be checked. */
static inline void value_of(uint64_t i, unsigned char *v, size_t n) {
  uint64_t s = i * 0x2545f4914f6cdd1dull + 1;
  size_t k;
  for (k = 0; k + 8 <= n; k += 8) {
    uint64_t x = splitmix(&s);
    memcpy(v + k, &x, 8);
  }
  for (; k < n; k++)
    v[k] = (unsigned char)i;
}

/* The i-th of n keys in a scrambled order that visits each once:
 * i -> (i * a) mod n, with a odd and prime to n (scramble_step). */
static inline uint64_t scramble_step(uint64_t n) {
  uint64_t a = 2654435761ull % n;
  while (a < 2 || n % a == 0 || a % 2 == 0)
    a++;
  return a;
}

static inline uint64_t scrambled(uint64_t i, uint64_t a, uint64_t n) {
  return (uint64_t)(((unsigned __int128)i * a) % n);
}

#endif /* CASKDB_BENCHUTIL_H */

/*
 * keydir_mem.c -- what the keydir costs: bytes per key and operations per
 * second, for N random keys of L bytes (default 1000000 keys of 16 bytes),
 * inserted in random order or, with "sorted", in ascending order (as an
 * open that reads sorted hint files feeds them).
 *
 *   cc -std=c11 -O2 -D_GNU_SOURCE -Icore/src core/src/keydir.c \
 *      bench/keydir_mem.c -o /tmp/keydir_mem && /tmp/keydir_mem [N [L
 * [sorted]]]
 *
 * Bytes per key are given twice: as the keydir counts them (cdb_kd_bytes,
 * the allocator's overhead estimated) and as the process's resident memory
 * grew while the keys went in (what the machine really paid).  Keys are
 * random bytes, so lookups hit the tree in random order.
 */
#include "keydir.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Resident set size in bytes, from /proc/self/statm. */
static size_t rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long pages = 0, resident = 0;
  if (f) {
    if (fscanf(f, "%lu %lu", &pages, &resident) != 2)
      resident = 0;
    fclose(f);
  }
  return (size_t)resident * 4096;
}

static uint64_t splitmix(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

/* Key i: len bytes, a pure function of i. */
static void make_key(unsigned char *key, size_t len, uint64_t i) {
  uint64_t state = i * 0x2545f4914f6cdd1du + 1;
  for (size_t at = 0; at < len; at += 8) {
    uint64_t r = splitmix(&state);
    size_t n = len - at < 8 ? len - at : 8;
    memcpy(key + at, &r, n);
  }
}

static size_t sort_len; /* for qsort's comparison */

static int key_cmp(const void *a, const void *b) {
  return memcmp(a, b, sort_len);
}

int main(int argc, char **argv) {
  size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
  size_t len = argc > 2 ? strtoul(argv[2], NULL, 10) : 16;
  int sorted = argc > 3 && strcmp(argv[3], "sorted") == 0;
  unsigned char *keys = malloc(n * len);
  uint32_t *order = malloc(n * sizeof order[0]);
  if (!keys || !order || len == 0)
    return 1;
  for (size_t i = 0; i < n; i++) {
    make_key(keys + i * len, len, i);
    order[i] = (uint32_t)i;
  }
  uint64_t state = 42;
  for (size_t i = n; i > 1; i--) { /* a random order for the lookups */
    size_t j = splitmix(&state) % i;
    uint32_t t = order[i - 1];
    order[i - 1] = order[j];
    order[j] = t;
  }

  if (sorted) { /* key i is then the i-th smallest */
    sort_len = len;
    qsort(keys, n, len, key_cmp);
  }

  size_t rss_before = rss_bytes();
  cdb_keydir *kd = cdb_kd_new();
  if (!kd)
    return 1;
  double t0 = now();
  for (size_t i = 0; i < n; i++) {
    cdb_loc loc = {(uint32_t)i, (uint32_t)i, 100, 0, 0};
    if (cdb_kd_set(kd, keys + i * len, len, &loc, NULL) != 1)
      return 1;
  }
  double t_insert = now() - t0;
  size_t rss_after = rss_bytes();

  t0 = now();
  size_t found = 0;
  for (size_t i = 0; i < n; i++) {
    cdb_loc loc;
    found += cdb_kd_find(kd, keys + (size_t)order[i] * len, len, &loc) &&
             loc.slot == order[i];
  }
  double t_find = now() - t0;

  t0 = now();
  cdb_kd_cursor cur;
  size_t walked = 0;
  cdb_kd_seek(kd, NULL, 0, &cur);
  while (cdb_kd_cursor_get(kd, &cur, NULL, NULL, NULL)) {
    walked++;
    cdb_kd_cursor_next(kd, &cur);
  }
  double t_walk = now() - t0;

  printf("keys %zu of %zu bytes (%s), found %zu, walked %zu\n", n, len,
         sorted ? "sorted" : "random order", found, walked);
  printf("cdb_kd_bytes: %.1f bytes/key (key + %.1f)\n",
         (double)cdb_kd_bytes(kd) / (double)n,
         (double)cdb_kd_bytes(kd) / (double)n - (double)len);
  printf("rss growth:   %.1f bytes/key (key + %.1f)\n",
         (double)(rss_after - rss_before) / (double)n,
         (double)(rss_after - rss_before) / (double)n - (double)len);
  printf("inserts: %.2f M/s   lookups: %.2f M/s   walk: %.1f M keys/s\n",
         (double)n / t_insert / 1e6, (double)n / t_find / 1e6,
         (double)n / t_walk / 1e6);

  t0 = now();
  for (size_t i = 0; i < n; i++)
    cdb_kd_del(kd, keys + (size_t)order[i] * len, len, NULL);
  printf("deletes: %.2f M/s, left %zu keys, %zu bytes\n",
         (double)n / (now() - t0) / 1e6, cdb_kd_count(kd), cdb_kd_bytes(kd));
  cdb_kd_free(kd);
  free(keys);
  free(order);
  return found == n && walked == n ? 0 : 1;
}

/*
 * bigdata.c -- CaskDB with more data than the machine has RAM: reads that
 * the page cache cannot hold, served from disk.
 *
 *   build-bench/bench/bigdata DIR [N [VALUE_BYTES [READS]]]
 *
 * Defaults: N = 9,000,000 keys of 16 bytes, 4096-byte values (about 37 GB
 * of data files, 1.5 times a 24 GiB machine), READS = 200,000.  Phases,
 * each timed:
 *
 *   fill    N puts in a scrambled key order, sync "none" (one sync at the
 *           end), so the files are written as fast as the disk takes them;
 *   reopen  close, then open (rotation hints, newest file read whole);
 *   read    READS gets of uniformly random keys, each value checked; the
 *           page cache then holds at most RAM / data of the values, so most
 *           gets fault their page in from disk.
 *
 * For the read phase it prints ops/s, p50/p99/p99.9 latency, the major page
 * faults per get (a fault is a read from disk; values are read through the
 * mapping) and the bytes the process read from the device
 * (/proc/self/io read_bytes).  As root it first drops the page cache, so the
 * reads start cold.  DIR must be on a disk with room for the data (it is
 * left there; remove it after).  Not part of `make bench`: it writes tens
 * of gigabytes.
 */
#include "benchutil.h"
#include "caskdb.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static uint64_t io_read_bytes(void) {
  FILE *f = fopen("/proc/self/io", "r");
  char line[128];
  uint64_t n = 0;
  if (f == NULL)
    return 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "read_bytes: %" SCNu64, &n) == 1)
      break;
  fclose(f);
  return n;
}

static long major_faults(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_majflt;
}

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void die(const char *what, int rc, caskdb *db) {
  fprintf(stderr, "bigdata: %s: %s (%s)\n", what, caskdb_strerror(rc),
          db ? caskdb_errmsg(db) : "");
  exit(1);
}

static caskdb *open_db(const char *dir) {
  caskdb_options o;
  caskdb *db;
  char err[256];
  int rc;
  caskdb_options_init(&o);
  o.max_file_size = 1024ull * 1024 * 1024;
  rc = caskdb_open(dir, &o, &db, err, sizeof err);
  if (rc != CASKDB_OK) {
    fprintf(stderr, "bigdata: open %s: %s\n", dir, err);
    exit(1);
  }
  return db;
}

/* N puts in a scrambled order: i -> (i * a) mod N with a prime to N. */
static void fill(caskdb *db, uint64_t n, size_t vsize) {
  unsigned char *v = malloc(vsize);
  uint64_t a = scramble_step(n), i;
  double t0 = now_s();
  char kb[17];
  for (i = 0; i < n; i++) {
    uint64_t k = scrambled(i, a, n);
    int rc;
    value_of(k, v, vsize);
    rc = caskdb_put(db, key_of(k, kb), v, vsize, NULL);
    if (rc != CASKDB_OK)
      die("put", rc, db);
    if (i % 1000000 == 999999)
      fprintf(stderr, "  %" PRIu64 "M puts, %.0f s\n", (i + 1) / 1000000,
              now_s() - t0);
  }
  if (caskdb_sync(db) != CASKDB_OK)
    die("sync", CASKDB_EIO, db);
  {
    double s = now_s() - t0;
    printf("| fill: %" PRIu64 " puts of %zu bytes | %.1f s | %.0f puts/s | "
           "%.0f MB/s |\n",
           n, vsize, s, (double)n / s,
           (double)n * (double)(vsize + 52) / s / 1e6);
  }
  free(v);
}

static void read_random(caskdb *db, uint64_t n, size_t vsize, long reads) {
  double *lat = malloc((size_t)reads * sizeof *lat);
  unsigned char *want = malloc(vsize);
  uint64_t rng = 42, io0 = io_read_bytes();
  long maj0 = major_faults(), i, bad = 0;
  double t0 = now_s(), total;
  char kb[17];
  for (i = 0; i < reads; i++) {
    uint64_t k = splitmix(&rng) % n;
    const void *v;
    size_t len;
    double t = now_s();
    int rc = caskdb_get(db, key_of(k, kb), &v, &len, NULL);
    lat[i] = now_s() - t;
    value_of(k, want, vsize);
    if (rc != CASKDB_OK || len != vsize || memcmp(v, want, vsize) != 0)
      bad++;
  }
  total = now_s() - t0;
  qsort(lat, (size_t)reads, sizeof *lat, compare_doubles);
  printf("| readrandom: %ld gets | %.1f s | %.0f gets/s | p50 %.1f us, p99 "
         "%.1f us, p99.9 %.1f us |\n",
         reads, total, (double)reads / total, lat[reads / 2] * 1e6,
         lat[reads * 99 / 100] * 1e6, lat[reads * 999 / 1000] * 1e6);
  printf("| from disk | %.2f major faults per get | %.1f KiB read from the "
         "device per get | %ld wrong values |\n",
         (double)(major_faults() - maj0) / (double)reads,
         (double)(io_read_bytes() - io0) / 1024.0 / (double)reads, bad);
  free(lat);
  free(want);
}

int main(int argc, char **argv) {
  const char *dir;
  uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 9000000;
  size_t vsize = argc > 3 ? (size_t)strtoul(argv[3], NULL, 10) : 4096;
  long reads = argc > 4 ? atol(argv[4]) : 200000;
  caskdb_stats st;
  caskdb *db;
  double t;
  if (argc < 2 || n < 2 || vsize < 8 || reads < 1) {
    fprintf(stderr, "usage: %s DIR [N [VALUE_BYTES [READS]]]\n", argv[0]);
    return 2;
  }
  dir = argv[1];
  setvbuf(stdout, NULL, _IOLBF, 0); /* each table row as soon as it is known */
  printf("| phase | time | rate | detail |\n|---|---:|---:|---|\n");
  db = open_db(dir);
  caskdb_get_stats(db, &st);
  if (st.keys == 0)
    fill(db, n, vsize);
  t = now_s();
  caskdb_close(db);
  printf("| close | %.2f s | | |\n", now_s() - t);
  t = now_s();
  db = open_db(dir);
  caskdb_get_stats(db, &st);
  printf("| open | %.2f s | | %" PRIu64 " keys, %" PRIu64
         " data files, %.1f GB on disk, keydir %.0f MB (%.1f B/key) |\n",
         now_s() - t, st.keys, st.data_files, (double)st.disk_bytes / 1e9,
         (double)st.keydir_bytes / 1e6,
         (double)st.keydir_bytes / (double)(st.keys ? st.keys : 1));
  if (geteuid() == 0) {
    FILE *f = fopen("/proc/sys/vm/drop_caches", "w");
    sync();
    if (f) {
      fputs("3\n", f);
      fclose(f);
      printf("| page cache dropped | | | |\n");
    }
  }
  read_random(db, st.keys, vsize, reads);
  caskdb_close(db);
  return 0;
}

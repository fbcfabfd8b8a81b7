/*
 * bench_kv.c -- CaskDB against LMDB, LevelDB, RocksDB and SQLite: the same
 * workloads, the same keys in the same order, in one run, printed as
 * markdown tables with the ratio CaskDB/peer in every cell.
 *
 *   bench_kv [-n N] [-v VALUE_SIZE] [-r OPS] [-D DURABLE_PUTS]
 *            [-e ENGINES] [-d DIR] [-s SEED] [-S STRIDE] [-H]
 *
 * N keys are loaded; OPS (default N, at most N) operations are timed in
 * overwrite, readrandom, readmissing and the mixed workloads.
 *
 * The idea.  The parent draws every key sequence once, from a fixed seed:
 * a permutation of the N keys (fillrandom, deleterandom), N uniform picks
 * (overwrite, readrandom, scan starts, durable puts), N scrambled Zipf(0.99)
 * picks and N percentiles (mixed workloads).  Then it forks one child per
 * engine; the child runs every workload in order on its own directory,
 * writes its figures into a shared mapping and exits, and the directory is
 * removed.  So each engine's peak RSS (getrusage in the child) is its own,
 * and no engine reads another's files from the page cache.
 *
 * Keys are 16 bytes, the index as zero-padded decimal digits (db_bench's
 * format): key i is the number 2i, and the keys of readmissing are the odd
 * numbers between them, so a missing key falls inside the key range, never
 * past its end.  Values are random (incompressible) bytes.
 *
 * Latency: every STRIDE-th operation (default 8) is timed alone with
 * clock_gettime(CLOCK_MONOTONIC); the throughput is the whole loop's count
 * over its wall time.  Sampling keeps the clock's cost (~25 ns a call) out
 * of most operations.
 *
 * The order of the workloads, each on the state the previous one left:
 * fillseq (own empty database, then removed), fillrandom, overwrite, reopen
 * (close + open, timed), readrandom, readmissing, readseq, scan, mixed
 * 90/10, mixed 50/50, deleterandom (N/10 keys), durable puts (reopened in
 * the durable mode, DURABLE_PUTS overwrites).
 */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "adapter.h"

volatile unsigned kv_sink;

/* ---------------------------------------------------------------------------
 * The engines compiled in
 * ------------------------------------------------------------------------- */

typedef struct engine {
  const char *id;       /* for -e */
  const char *name;     /* when missing */
  const kv_adapter *kv; /* NULL: not compiled in */
} engine;

static const engine engines[] = {
    {"caskdb", "CaskDB", &kv_caskdb},
#ifdef KV_HAVE_LMDB
    {"lmdb", "LMDB", &kv_lmdb},
#else
    {"lmdb", "LMDB", NULL},
#endif
#ifdef KV_HAVE_LEVELDB
    {"leveldb", "LevelDB", &kv_leveldb},
#else
    {"leveldb", "LevelDB", NULL},
#endif
#ifdef KV_HAVE_ROCKSDB
    {"rocksdb", "RocksDB", &kv_rocksdb},
#else
    {"rocksdb", "RocksDB", NULL},
#endif
#ifdef KV_HAVE_SQLITE
    {"sqlite", "SQLite", &kv_sqlite},
#else
    {"sqlite", "SQLite", NULL},
#endif
};
#define NENGINES ((int)(sizeof engines / sizeof engines[0]))

/* ---------------------------------------------------------------------------
 * Workloads and their figures
 * ------------------------------------------------------------------------- */

enum {
  WL_FILLSEQ,
  WL_FILLRANDOM,
  WL_OVERWRITE,
  WL_READRANDOM,
  WL_READMISSING,
  WL_READSEQ,
  WL_SCAN,
  WL_MIXED90,
  WL_MIXED50,
  WL_DELETERANDOM,
  WL_DURABLE,
  WL_COUNT
};

static const char *const wl_names[WL_COUNT] = {
    "fillseq",      "fillrandom",          "overwrite",
    "readrandom",   "readmissing",         "readseq",
    "scan 100",     "mixed 90/10 zipf",    "mixed 50/50 zipf",
    "deleterandom", "durable puts (fsync)"};

typedef struct wl_result {
  int ran;
  uint64_t ops;
  double secs;
  double p50_us, p99_us; /* < 0: not measured */
} wl_result;

typedef struct eng_result {
  int done; /* 1: the child ran every workload */
  wl_result wl[WL_COUNT];
  double close_ms, open_ms;     /* the reopen after overwrite */
  uint64_t disk_fill, disk_end; /* bytes: after fillrandom, at reopen */
  long rss_base_kb, rss_peak_kb;
} eng_result;

/* ---------------------------------------------------------------------------
 * Settings and the shared key sequences
 * ------------------------------------------------------------------------- */

static size_t n_keys = 1000000;
static size_t vsize = 100;
static size_t n_durable = 10000;
static size_t n_ops; /* of the read, overwrite and mixed workloads */
static unsigned stride_mask = 7;
static unsigned long long seed = 42;
static char base_dir[4096];

static uint32_t *perm, *uni, *zipf;
static uint8_t *pct;
#define POOL (1u << 20)
static unsigned char *pool; /* POOL + vsize random bytes */

static uint64_t rng_state;

static uint64_t rng(void) { /* splitmix64 */
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static double rng01(void) { return (double)(rng() >> 11) / 9007199254740992.0; }

static uint64_t fnv64(uint64_t x) {
  uint64_t h = 0xcbf29ce484222325ull;
  int i;
  for (i = 0; i < 8; i++) {
    h ^= (x >> (8 * i)) & 0xff;
    h *= 0x100000001b3ull;
  }
  return h;
}

/* Zipf(theta) ranks in [0, n) by the method of Gray et al. ("Quickly
 * generating billion-record synthetic databases"), as YCSB does; each rank
 * is then scrambled by a hash so that the hot keys are spread over the key
 * range instead of being neighbours (YCSB's ScrambledZipfian). */
static void draw_zipf(uint32_t *out, size_t count, size_t n, double theta) {
  double zetan = 0, zeta2 = 1 + pow(0.5, theta), alpha, eta;
  size_t i;
  for (i = 1; i <= n; i++)
    zetan += 1 / pow((double)i, theta);
  alpha = 1 / (1 - theta);
  eta = (1 - pow(2.0 / (double)n, 1 - theta)) / (1 - zeta2 / zetan);
  for (i = 0; i < count; i++) {
    double u = rng01(), uz = u * zetan;
    uint64_t rank;
    if (uz < 1)
      rank = 0;
    else if (uz < zeta2)
      rank = 1;
    else
      rank = (uint64_t)((double)n * pow(eta * u - eta + 1, alpha));
    if (rank >= n)
      rank = n - 1;
    out[i] = (uint32_t)(fnv64(rank) % n);
  }
}

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (p == NULL) {
    fprintf(stderr, "bench_kv: out of memory\n");
    exit(2);
  }
  return p;
}

static void draw_sequences(void) {
  size_t i;
  rng_state = seed;
  perm = xmalloc(n_keys * sizeof *perm);
  uni = xmalloc(n_keys * sizeof *uni);
  zipf = xmalloc(n_keys * sizeof *zipf);
  pct = xmalloc(n_keys);
  pool = xmalloc(POOL + vsize);
  for (i = 0; i < n_keys; i++)
    perm[i] = (uint32_t)i;
  for (i = n_keys - 1; i > 0; i--) { /* Fisher-Yates */
    size_t j = (size_t)(rng() % (i + 1));
    uint32_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  for (i = 0; i < n_keys; i++)
    uni[i] = (uint32_t)(rng() % n_keys);
  for (i = 0; i < n_keys; i++)
    pct[i] = (uint8_t)(rng() % 100);
  for (i = 0; i < POOL + vsize; i++)
    pool[i] = (unsigned char)rng();
  draw_zipf(zipf, n_keys, n_keys, 0.99);
}

/* Key i: the number x as 16 zero-padded decimal digits. */
static void make_key(char *k, uint64_t x) {
  int i;
  for (i = 15; i >= 0; i--) {
    k[i] = (char)('0' + x % 10);
    x /= 10;
  }
}

static const void *value_for(uint64_t i) {
  return pool + ((i * 2654435761u) & (POOL - 1));
}

/* ---------------------------------------------------------------------------
 * Time, latency samples, files
 * ------------------------------------------------------------------------- */

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint32_t *lat;
static size_t nlat, lat_cap;

static void lat_add(uint64_t ns) {
  if (nlat < lat_cap)
    lat[nlat++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* Time one operation when its index falls on the stride. */
#define TIMED(i, stmt)                                                         \
  do {                                                                         \
    if (((i)&stride_mask) == 0) {                                              \
      uint64_t t0_ = now_ns();                                                 \
      stmt;                                                                    \
      lat_add(now_ns() - t0_);                                                 \
    } else {                                                                   \
      stmt;                                                                    \
    }                                                                          \
  } while (0)

static void wl_begin(void) { nlat = 0; }

static void wl_end(wl_result *r, uint64_t ops, uint64_t t0) {
  r->ran = 1;
  r->ops = ops;
  r->secs = (double)(now_ns() - t0) / 1e9;
  if (nlat == 0) {
    r->p50_us = r->p99_us = -1;
    return;
  }
  qsort(lat, nlat, sizeof *lat, cmp_u32);
  r->p50_us = lat[nlat / 2] / 1e3;
  r->p99_us = lat[(size_t)((double)nlat * 0.99)] / 1e3;
}

static uint64_t du_total;

static int du_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw) {
  (void)path;
  (void)ftw;
  if (flag == FTW_F)
    du_total += (uint64_t)st->st_blocks * 512;
  return 0;
}

/* Bytes allocated on disk under dir (as du counts them: sparse holes are
 * free). */
static uint64_t disk_bytes(const char *dir) {
  du_total = 0;
  nftw(dir, du_one, 16, FTW_PHYS);
  return du_total;
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void rm_rf(const char *dir) {
  nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static long maxrss_kb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/* ---------------------------------------------------------------------------
 * One engine, in a child process
 * ------------------------------------------------------------------------- */

#define CHECK(cond, what)                                                      \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "bench_kv: %s: %s failed\n", kv->name, what);            \
      _exit(1);                                                                \
    }                                                                          \
  } while (0)

static void progress(const kv_adapter *kv, int w, const wl_result *r) {
  fprintf(stderr, "  %-8s %-22s %12.0f ops/s  p50 %8.2f us  p99 %8.2f us\n",
          kv->name, wl_names[w], (double)r->ops / r->secs, r->p50_us,
          r->p99_us);
}

static void *open_db(const kv_adapter *kv, const char *dir, int durable) {
  void *h;
  mkdir(dir, 0755);
  h = kv->open(dir, durable, n_keys, vsize);
  CHECK(h != NULL, "open");
  return h;
}

/* Puts of keys 2*seq[i] (seq NULL: i), n of them. */
static void run_puts(const kv_adapter *kv, void *h, const uint32_t *seq,
                     size_t n, wl_result *r) {
  char k[16];
  uint64_t t0;
  size_t i;
  int rc = 0;
  wl_begin();
  t0 = now_ns();
  for (i = 0; i < n; i++) {
    uint64_t x = seq ? seq[i] : i;
    make_key(k, 2 * x);
    TIMED(i, rc |= kv->put(h, k, 16, value_for(i), vsize));
  }
  wl_end(r, n, t0);
  CHECK(rc == 0, "put");
}

/* Gets of keys 2*seq[i] + odd; every one must hit (odd 0) or miss (1). */
static void run_gets(const kv_adapter *kv, void *h, const uint32_t *seq,
                     int odd, wl_result *r) {
  char k[16];
  uint64_t t0;
  size_t i, vl = 0, hits = 0;
  int rc = 0;
  wl_begin();
  t0 = now_ns();
  for (i = 0; i < n_keys; i++) {
    make_key(k, 2 * (uint64_t)seq[i] + (unsigned)odd);
    TIMED(i, rc = kv->get(h, k, 16, &vl));
    CHECK(rc >= 0, "get");
    hits += (size_t)rc;
  }
  wl_end(r, n_keys, t0);
  CHECK(hits == (odd ? 0 : n_keys),
        odd ? "readmissing (a hit)" : "readrandom (a miss)");
  CHECK(odd || vl == vsize, "get (value length)");
}

static void run_mixed(const kv_adapter *kv, void *h, unsigned write_pct,
                      wl_result *r) {
  char k[16];
  uint64_t t0;
  size_t i, vl;
  int rc = 0;
  wl_begin();
  t0 = now_ns();
  for (i = 0; i < n_ops; i++) {
    make_key(k, 2 * (uint64_t)zipf[i]);
    if (pct[i] < write_pct) {
      TIMED(i, rc = kv->put(h, k, 16, value_for(i), vsize));
      CHECK(rc == 0, "put");
    } else {
      TIMED(i, rc = kv->get(h, k, 16, &vl));
      CHECK(rc == 1, "get (mixed: a miss)");
    }
  }
  wl_end(r, n_ops, t0);
}

static void run_engine(const kv_adapter *kv, const char *dir, eng_result *res) {
  char fsdir[4400], k[16];
  size_t i, nscan = n_keys / 100 ? n_keys / 100 : 1, ndel = n_keys / 10;
  uint64_t t0;
  long got = 0;
  void *h;
  int rc = 0;

  res->rss_base_kb = maxrss_kb();
  lat_cap = n_keys / (stride_mask + 1) + 16;
  lat = xmalloc(lat_cap * sizeof *lat);

  snprintf(fsdir, sizeof fsdir, "%s-fillseq", dir);
  h = open_db(kv, fsdir, 0);
  run_puts(kv, h, NULL, n_keys, &res->wl[WL_FILLSEQ]);
  progress(kv, WL_FILLSEQ, &res->wl[WL_FILLSEQ]);
  CHECK(kv->close(h) == 0, "close");
  rm_rf(fsdir);

  h = open_db(kv, dir, 0);
  run_puts(kv, h, perm, n_keys, &res->wl[WL_FILLRANDOM]);
  progress(kv, WL_FILLRANDOM, &res->wl[WL_FILLRANDOM]);
  res->disk_fill = disk_bytes(dir);

  run_puts(kv, h, uni, n_ops, &res->wl[WL_OVERWRITE]);
  progress(kv, WL_OVERWRITE, &res->wl[WL_OVERWRITE]);

  t0 = now_ns();
  CHECK(kv->close(h) == 0, "close");
  res->close_ms = (double)(now_ns() - t0) / 1e6;
  res->disk_end = disk_bytes(dir);
  t0 = now_ns();
  h = open_db(kv, dir, 0);
  res->open_ms = (double)(now_ns() - t0) / 1e6;
  fprintf(stderr, "  %-8s %-22s close %.1f ms, open %.1f ms\n", kv->name,
          "reopen", res->close_ms, res->open_ms);

  run_gets(kv, h, uni, 0, &res->wl[WL_READRANDOM]);
  progress(kv, WL_READRANDOM, &res->wl[WL_READRANDOM]);
  run_gets(kv, h, uni, 1, &res->wl[WL_READMISSING]);
  progress(kv, WL_READMISSING, &res->wl[WL_READMISSING]);

  wl_begin();
  t0 = now_ns();
  got = kv->scan(h, NULL, 0, 0);
  wl_end(&res->wl[WL_READSEQ], (uint64_t)(got > 0 ? got : 0), t0);
  CHECK(got == (long)n_keys, "readseq (count)");
  progress(kv, WL_READSEQ, &res->wl[WL_READSEQ]);

  wl_begin();
  t0 = now_ns();
  for (i = 0; i < nscan; i++) {
    make_key(k, 2 * (uint64_t)uni[i]);
    TIMED(i, got = kv->scan(h, k, 16, 100));
    CHECK(got > 0, "scan");
  }
  wl_end(&res->wl[WL_SCAN], nscan, t0);
  progress(kv, WL_SCAN, &res->wl[WL_SCAN]);

  run_mixed(kv, h, 10, &res->wl[WL_MIXED90]);
  progress(kv, WL_MIXED90, &res->wl[WL_MIXED90]);
  run_mixed(kv, h, 50, &res->wl[WL_MIXED50]);
  progress(kv, WL_MIXED50, &res->wl[WL_MIXED50]);

  wl_begin();
  t0 = now_ns();
  for (i = 0; i < ndel; i++) {
    make_key(k, 2 * (uint64_t)perm[i]);
    TIMED(i, rc |= kv->del(h, k, 16));
  }
  wl_end(&res->wl[WL_DELETERANDOM], ndel, t0);
  CHECK(rc == 0, "delete");
  progress(kv, WL_DELETERANDOM, &res->wl[WL_DELETERANDOM]);
  CHECK(kv->close(h) == 0, "close");

  if (n_durable > 0) {
    h = open_db(kv, dir, 1);
    run_puts(kv, h, uni, n_durable < n_keys ? n_durable : n_keys,
             &res->wl[WL_DURABLE]);
    progress(kv, WL_DURABLE, &res->wl[WL_DURABLE]);
    CHECK(kv->close(h) == 0, "close");
  }
  res->rss_peak_kb = maxrss_kb();
  res->done = 1;
}

/* ---------------------------------------------------------------------------
 * The tables
 * ------------------------------------------------------------------------- */

static void fmt_rate(char *buf, size_t n, double v) {
  if (v >= 1e6)
    snprintf(buf, n, "%.2fM", v / 1e6);
  else if (v >= 1e3)
    snprintf(buf, n, "%.1fk", v / 1e3);
  else
    snprintf(buf, n, "%.0f", v);
}

static void fmt_num(char *buf, size_t n, double v) {
  if (v < 0)
    snprintf(buf, n, "-");
  else if (v < 10)
    snprintf(buf, n, "%.2f", v);
  else if (v < 100)
    snprintf(buf, n, "%.1f", v);
  else
    snprintf(buf, n, "%.0f", v);
}

static void fmt_ratio(char *buf, size_t n, double a, double b) {
  if (a <= 0 || b <= 0)
    snprintf(buf, n, "-");
  else
    snprintf(buf, n, "%.2fx", a / b);
}

static int shown[NENGINES], nshown;

static void table_head(const char *what) {
  int e;
  printf("\n%s\n\n| workload |", what);
  for (e = 0; e < nshown; e++) {
    printf(" %s |", engines[shown[e]].name);
    if (e > 0)
      printf(" CaskDB/%s |", engines[shown[e]].name);
  }
  printf("\n|---|");
  for (e = 0; e < nshown; e++)
    printf(e > 0 ? "---:|---:|" : "---:|");
  printf("\n");
}

/* One row: the value of each engine (get() < 0: not measured) and the
 * ratio of CaskDB's (column 0) to it. */
static void table_row(const char *label, const eng_result *res,
                      double (*get)(const eng_result *, int), int arg,
                      void (*fmt)(char *, size_t, double)) {
  char buf[64];
  double c = 0;
  int e;
  printf("| %s |", label);
  for (e = 0; e < nshown; e++) {
    const eng_result *r = &res[shown[e]];
    double v = r->done ? get(r, arg) : -1;
    if (v < 0)
      snprintf(buf, sizeof buf, "%s", r->done ? "-" : "failed");
    else
      fmt(buf, sizeof buf, v);
    printf(" %s |", buf);
    if (e == 0) {
      c = v;
    } else {
      fmt_ratio(buf, sizeof buf, c, v);
      printf(" %s |", buf);
    }
  }
  printf("\n");
}

static double get_rate(const eng_result *r, int w) {
  return r->wl[w].ran && r->wl[w].secs > 0
             ? (double)r->wl[w].ops / r->wl[w].secs
             : -1;
}
static double get_p50(const eng_result *r, int w) {
  return r->wl[w].ran ? r->wl[w].p50_us : -1;
}
static double get_p99(const eng_result *r, int w) {
  return r->wl[w].ran ? r->wl[w].p99_us : -1;
}
static double get_reopen(const eng_result *r, int w) {
  return w == 0 ? r->close_ms : w == 1 ? r->open_ms : r->close_ms + r->open_ms;
}
static double get_disk(const eng_result *r, int w) {
  return (double)(w ? r->disk_end : r->disk_fill) / 1048576.0;
}
static double get_rss(const eng_result *r, int w) {
  return (double)(w ? r->rss_peak_kb : r->rss_peak_kb - r->rss_base_kb) /
         1024.0;
}

static void print_tables(const eng_result *res) {
  int w;
  table_head("Throughput, operations per second (scan: ranges of 100 keys "
             "per second; readseq: keys per second).  Ratio > 1: CaskDB is "
             "faster.");
  for (w = 0; w < WL_COUNT; w++)
    table_row(wl_names[w], res, get_rate, w, fmt_rate);
  table_head("Latency p50, microseconds (sampled, 1 op in STRIDE).  Ratio "
             "< 1: CaskDB is faster.");
  for (w = 0; w < WL_COUNT; w++)
    if (w != WL_READSEQ)
      table_row(wl_names[w], res, get_p50, w, fmt_num);
  table_head("Latency p99, microseconds.  Ratio < 1: CaskDB is faster.");
  for (w = 0; w < WL_COUNT; w++)
    if (w != WL_READSEQ)
      table_row(wl_names[w], res, get_p99, w, fmt_num);
  table_head("Reopen, disk, memory.  Ratio < 1: CaskDB uses less.");
  table_row("reopen: close, ms", res, get_reopen, 0, fmt_num);
  table_row("reopen: open, ms", res, get_reopen, 1, fmt_num);
  table_row("reopen: close + open, ms", res, get_reopen, 2, fmt_num);
  table_row("disk after fillrandom, MiB", res, get_disk, 0, fmt_num);
  table_row("disk after overwrite, MiB", res, get_disk, 1, fmt_num);
  table_row("peak RSS of the child, MiB", res, get_rss, 1, fmt_num);
  table_row("peak RSS over the harness, MiB", res, get_rss, 0, fmt_num);
}

/* ---------------------------------------------------------------------------
 * Main
 * ------------------------------------------------------------------------- */

static void loadavg(char *buf, size_t n) {
  FILE *f = fopen("/proc/loadavg", "r");
  buf[0] = '\0';
  if (f != NULL) {
    if (fgets(buf, (int)n, f) != NULL)
      buf[strcspn(buf, "\n")] = '\0';
    fclose(f);
  }
}

static void usage(void) {
  fprintf(stderr,
          "usage: bench_kv [-n N] [-v VALUE_SIZE] [-r OPS] [-D DURABLE_PUTS] "
          "[-e caskdb,lmdb,leveldb,rocksdb,sqlite] [-d DIR] [-s SEED] "
          "[-S STRIDE] [-H]\n"
          "  -H  skip the CaskDB-only hint figures\n");
  exit(2);
}

static int wanted(const char *list, const char *id) {
  size_t n = strlen(id);
  const char *p = list;
  if (list == NULL)
    return 1;
  while ((p = strstr(p, id)) != NULL) {
    if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
      return 1;
    p += n;
  }
  return 0;
}

int main(int argc, char **argv) {
  const char *only = NULL, *dir_arg = NULL;
  char load0[128], load1[128], dir[4200];
  struct utsname un;
  eng_result *res;
  int e, c, hints = 1, stride = 8;
  time_t t;

  while ((c = getopt(argc, argv, "n:v:r:D:e:d:s:S:Hh")) != -1) {
    switch (c) {
    case 'n':
      n_keys = strtoull(optarg, NULL, 10);
      break;
    case 'v':
      vsize = strtoull(optarg, NULL, 10);
      break;
    case 'r':
      n_ops = strtoull(optarg, NULL, 10);
      break;
    case 'D':
      n_durable = strtoull(optarg, NULL, 10);
      break;
    case 'e':
      only = optarg;
      break;
    case 'd':
      dir_arg = optarg;
      break;
    case 's':
      seed = strtoull(optarg, NULL, 10);
      break;
    case 'S':
      stride = atoi(optarg);
      break;
    case 'H':
      hints = 0;
      break;
    default:
      usage();
    }
  }
  if (n_keys < 100 || n_keys > UINT32_MAX / 4 || vsize < 1 || stride < 1 ||
      (stride & (stride - 1)) != 0) {
    fprintf(stderr, "bench_kv: need N >= 100, VALUE_SIZE >= 1, STRIDE a "
                    "power of two\n");
    return 2;
  }
  stride_mask = (unsigned)stride - 1;
  if (n_ops == 0 || n_ops > n_keys)
    n_ops = n_keys;

  if (dir_arg != NULL) {
    snprintf(base_dir, sizeof base_dir, "%s", dir_arg);
    mkdir(base_dir, 0755);
  } else {
    snprintf(base_dir, sizeof base_dir, "/tmp/caskdb-bench-XXXXXX");
    if (mkdtemp(base_dir) == NULL) {
      perror("bench_kv: mkdtemp");
      return 1;
    }
  }

  draw_sequences();
  res = mmap(NULL, sizeof *res * NENGINES, PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (res == MAP_FAILED) {
    perror("bench_kv: mmap");
    return 1;
  }
  memset(res, 0, sizeof *res * NENGINES);

  loadavg(load0, sizeof load0);
  t = time(NULL);
  uname(&un);
  printf(
      "## bench_kv: N = %zu keys of 16 bytes, values of %zu random bytes\n\n",
      n_keys, vsize);
  printf("- %s", ctime(&t));
  printf("- kernel %s %s, %ld CPUs online, directory %s\n", un.sysname,
         un.release, sysconf(_SC_NPROCESSORS_ONLN), base_dir);
  printf("- seed %llu, latency sampled on 1 op in %d, ops per overwrite/"
         "read/mixed workload: %zu, durable puts: %zu, deleterandom: %zu "
         "keys, scan: %zu ranges\n",
         seed, stride, n_ops, n_durable, n_keys / 10,
         n_keys / 100 ? n_keys / 100 : 1);
  printf("- load average at start: %s\n", load0);
  for (e = 0; e < NENGINES; e++) {
    if (!wanted(only, engines[e].id))
      continue;
    if (engines[e].kv == NULL) {
      printf("- %s: skipped (its library was not found at build time)\n",
             engines[e].name);
      continue;
    }
    printf("- %s: %s; durable: %s\n", engines[e].name, engines[e].kv->fast,
           engines[e].kv->durable);
  }
  fflush(stdout);

  for (e = 0; e < NENGINES; e++) {
    pid_t pid;
    int status;
    if (!wanted(only, engines[e].id) || engines[e].kv == NULL)
      continue;
    shown[nshown++] = e;
    snprintf(dir, sizeof dir, "%s/%s", base_dir, engines[e].id);
    fprintf(stderr, "bench_kv: %s\n", engines[e].name);
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
      perror("bench_kv: fork");
      return 1;
    }
    if (pid == 0) {
      run_engine(engines[e].kv, dir, &res[e]);
      _exit(0);
    }
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !res[e].done)
      fprintf(stderr, "bench_kv: %s failed\n", engines[e].name);
    rm_rf(dir);
  }
  loadavg(load1, sizeof load1);

  if (nshown > 0 && engines[shown[0]].kv != &kv_caskdb)
    printf("\n(CaskDB was not run: the ratio columns compare with the first "
           "engine shown.)\n");
  print_tables(res);
  printf("\n- load average at end: %s\n", load1);
  fflush(stdout);

  if (hints && wanted(only, "caskdb")) {
    static const size_t hint_vsizes[] = {100, 1024};
    pid_t pid;
    int status;
    snprintf(dir, sizeof dir, "%s/hints", base_dir);
    fflush(NULL);
    pid = fork();
    if (pid == 0)
      _exit(kv_caskdb_hints(dir, n_keys, hint_vsizes, 2, seed) == 0 ? 0 : 1);
    waitpid(pid, &status, 0);
    rm_rf(dir);
    loadavg(load1, sizeof load1);
    printf("\n- load average after the hint figures: %s\n", load1);
  }
  if (dir_arg == NULL)
    rmdir(base_dir);
  return 0;
}

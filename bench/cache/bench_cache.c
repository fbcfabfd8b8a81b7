/*
 * bench_cache.c -- the value cache: hit ratio and reads per second of each
 * policy at several cache sizes, on two traces, with use_mmap off (every
 * miss is a pread), beside the same traces without a cache, read through
 * pread and through the mapping.
 *
 * The database: N keys (16-digit decimal, as bench_kv), values of V random
 * bytes, written once in a temporary directory.  Cache sizes are a
 * percentage of its live bytes (whole records: 36-byte header, key, value).
 *
 * The traces (R reads each, drawn once with a fixed seed):
 *   zipf  -- keys of the first half of the key space drawn by Zipf(0.99),
 *            the hot ranks scrambled over it (YCSB's ScrambledZipfian);
 *   scan  -- the same Zipf reads in blocks of B, each block followed by a
 *            scan: B keys in key order from the second half, which nothing
 *            else reads, each scan going on where the last one stopped (so
 *            a key is scanned once per pass over the half).
 * Half of the reads of `scan` are cold and miss whatever the policy: its
 * table gives the hit ratio over the Zipf reads alone ("hot hits"), which
 * is what the scans threaten.
 *
 * Each run opens the database (an empty cache), replays the first quarter
 * of the trace as warm-up, then times the rest; figures are of the timed
 * part, reads per second of CPU time (see cpu_ns), the best of two
 * runs.  Output: markdown
 * tables, for docs/BENCHMARKS.md.
 */
#include "caskdb.h"

#include <ftw.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static size_t n_keys = 200000, vsize = 1024, n_reads = 400000;
static size_t block = 10000;
static uint64_t seed = 42;
static int reps = 2; /* timed runs of each configuration (see run) */

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

/* Zipf(theta) ranks in [0, n) (Gray et al., as YCSB and bench_kv), each
 * scrambled by a hash over [0, n). */
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
    fprintf(stderr, "bench_cache: out of memory\n");
    exit(2);
  }
  return p;
}

static void make_key(char *k, uint64_t x) {
  int i;
  for (i = 15; i >= 0; i--) {
    k[i] = (char)('0' + x % 10);
    x /= 10;
  }
}

/* CPU time of the process (user + system): the machine is shared (other
 * jobs, fuzzers), and a read from the page cache never waits for a disk,
 * so reads per CPU-second is the figure that holds from run to run. */
static uint64_t cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw) {
  (void)st;
  (void)ftw;
  return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static char dir[256];

static void die(const char *what, int rc) {
  fprintf(stderr, "bench_cache: %s: %s\n", what, caskdb_strerror(rc));
  exit(1);
}

/* ---- the database and the traces ------------------------------------------
 */

static uint64_t live_bytes;

static void build(void) {
  caskdb_options o;
  caskdb *db;
  caskdb_stats st;
  unsigned char *v = xmalloc(vsize);
  char k[16];
  size_t i, j;
  int rc;
  caskdb_options_init(&o);
  rc = caskdb_open(dir, &o, &db, NULL, 0);
  if (rc != CASKDB_OK)
    die("open", rc);
  for (i = 0; i < n_keys; i++) {
    for (j = 0; j < vsize; j++)
      v[j] = (unsigned char)rng();
    make_key(k, i);
    rc = caskdb_put(db, caskdb_key_bytes(k, 16), v, vsize, NULL);
    if (rc != CASKDB_OK)
      die("put", rc);
  }
  caskdb_get_stats(db, &st);
  live_bytes = st.live_bytes;
  caskdb_close(db);
  free(v);
}

typedef struct trace {
  const char *name;
  uint32_t *keys;
  unsigned char *hot; /* 1 for a Zipf read, 0 for a scan read */
} trace;

static void draw_traces(trace *zipf, trace *scan) {
  size_t half = n_keys / 2, i, at = 0, z = 0, cursor = 0;
  zipf->name = "zipf";
  zipf->keys = xmalloc(n_reads * sizeof *zipf->keys);
  zipf->hot = xmalloc(n_reads);
  draw_zipf(zipf->keys, n_reads, half, 0.99);
  memset(zipf->hot, 1, n_reads);
  scan->name = "scan";
  scan->keys = xmalloc(n_reads * sizeof *scan->keys);
  scan->hot = xmalloc(n_reads);
  while (at < n_reads) {
    for (i = 0; i < block && at < n_reads; i++, at++) {
      scan->keys[at] = zipf->keys[z++];
      scan->hot[at] = 1;
    }
    for (i = 0; i < block && at < n_reads; i++, at++) {
      scan->keys[at] = (uint32_t)(half + cursor);
      scan->hot[at] = 0;
      cursor = (cursor + 1) % (n_keys - half);
    }
  }
}

/* ---- one run ---------------------------------------------------------------
 */

typedef struct result {
  double hit_ratio;     /* over the timed reads */
  double hot_hit_ratio; /* over the timed Zipf reads */
  double ops;           /* timed reads per second */
  double cache_mib;     /* cache_bytes at the end */
} result;

/* Replay t once: open the database (an empty cache), replay the first
 * quarter as warm-up, time the rest.  The hits of the Zipf reads alone are
 * taken from the figures at each block boundary (a block is all Zipf or all
 * scan), so the loop itself only reads. */
static result run_once(const trace *t, int use_mmap, uint64_t cache_size,
                       int policy) {
  caskdb_options o;
  caskdb *db;
  caskdb_stats st0, st, last;
  result r;
  size_t warm = n_reads / 4, i, hot = 0, hot_hits = 0, seg = 0;
  uint64_t t0 = 0;
  char k[16];
  int rc;
  caskdb_options_init(&o);
  o.readonly = 1;
  o.use_mmap = use_mmap;
  o.cache_size = cache_size;
  o.cache_policy = policy;
  rc = caskdb_open(dir, &o, &db, NULL, 0);
  if (rc != CASKDB_OK)
    die("open", rc);
  memset(&last, 0, sizeof last);
  st0 = st = last;
  for (i = 0; i <= n_reads; i++) {
    const void *v;
    size_t vlen;
    if (i >= warm && (i == warm || i % block == 0 || i == n_reads)) {
      caskdb_get_stats(db, &st);
      if (i == warm) {
        st0 = st;
        t0 = cpu_ns();
      } else if (t->hot[seg]) {
        hot += i - seg;
        hot_hits += st.cache_hits - last.cache_hits;
      }
      last = st;
      seg = i;
    }
    if (i == n_reads)
      break;
    make_key(k, t->keys[i]);
    rc = caskdb_get(db, caskdb_key_bytes(k, 16), &v, &vlen, NULL);
    if (rc != CASKDB_OK || vlen != vsize)
      die("get", rc);
  }
  r.ops = (double)(n_reads - warm) * 1e9 / (double)(cpu_ns() - t0);
  r.hit_ratio =
      (double)(st.cache_hits - st0.cache_hits) / (double)(n_reads - warm);
  r.hot_hit_ratio = hot ? (double)hot_hits / (double)hot : 0;
  r.cache_mib = (double)st.cache_bytes / (1024.0 * 1024.0);
  caskdb_close(db);
  return r;
}

/* The best of `reps` runs: the hit ratios are the same each time (the
 * trace and the cache are deterministic); the speed is the one least
 * disturbed by other jobs on the machine. */

static result run(const trace *t, int use_mmap, uint64_t cache_size,
                  int policy) {
  result best = run_once(t, use_mmap, cache_size, policy), r;
  int i;
  for (i = 1; i < reps; i++) {
    r = run_once(t, use_mmap, cache_size, policy);
    if (r.ops > best.ops)
      best.ops = r.ops;
  }
  return best;
}

static void print_trace(const trace *t) {
  static const double pcts[] = {1, 5, 10, 25};
  size_t p;
  result base;
  printf("\n**%s** (%s)\n\n", t->name,
         strcmp(t->name, "zipf") == 0
             ? "Zipf(0.99) reads"
             : "Zipf(0.99) reads, each block followed by as long a scan of "
               "cold keys");
  printf("| cache (%% of data) | LRU hits | LRU hot hits | LRU reads/s | "
         "SIEVE hits | SIEVE hot hits | SIEVE reads/s |\n");
  printf("|---:|---:|---:|---:|---:|---:|---:|\n");
  for (p = 0; p < sizeof pcts / sizeof pcts[0]; p++) {
    uint64_t size = (uint64_t)((double)live_bytes * pcts[p] / 100.0);
    result lru = run(t, 0, size, CASKDB_CACHE_LRU);
    result sieve = run(t, 0, size, CASKDB_CACHE_SIEVE);
    printf("| %g%% (%.1f MiB) | %.1f%% | %.1f%% | %.0f | %.1f%% | %.1f%% | "
           "%.0f |\n",
           pcts[p], (double)size / (1024.0 * 1024.0), 100 * lru.hit_ratio,
           100 * lru.hot_hit_ratio, lru.ops, 100 * sieve.hit_ratio,
           100 * sieve.hot_hit_ratio, sieve.ops);
    fflush(stdout);
  }
  base = run(t, 0, 0, CASKDB_CACHE_SIEVE);
  printf("\nNo cache, pread (mmap off): %.0f reads/s.  ", base.ops);
  base = run(t, 1, 0, CASKDB_CACHE_SIEVE);
  printf("No cache, mmap on: %.0f reads/s.\n", base.ops);
  fflush(stdout);
}

/* -o TRACE,POLICY,PERCENT: one run, one line (for profiling). */
static void run_one(const char *spec, const trace *zipf, const trace *scan) {
  char tname[16], pname[16];
  double pct = 0;
  const trace *t;
  result r;
  if (sscanf(spec, "%15[^,],%15[^,],%lf", tname, pname, &pct) < 2) {
    fprintf(stderr, "bench_cache: bad -o %s\n", spec);
    exit(2);
  }
  t = strcmp(tname, "scan") == 0 ? scan : zipf;
  if (strcmp(pname, "mmap") == 0 || strcmp(pname, "pread") == 0)
    r = run(t, pname[0] == 'm', 0, CASKDB_CACHE_SIEVE);
  else
    r = run(t, 0, (uint64_t)((double)live_bytes * pct / 100.0),
            strcmp(pname, "lru") == 0 ? CASKDB_CACHE_LRU : CASKDB_CACHE_SIEVE);
  printf("%s %s %g%%: hits %.1f%%, hot hits %.1f%%, %.0f reads/s\n", t->name,
         pname, pct, 100 * r.hit_ratio, 100 * r.hot_hit_ratio, r.ops);
}

static void usage(void) {
  fprintf(stderr,
          "usage: bench_cache [-n KEYS] [-v VALUE_SIZE] [-r READS] "
          "[-b SCAN_BLOCK] [-s SEED] [-R REPEATS] [-o TRACE,POLICY,PERCENT]\n"
          "  -o  one run only, e.g. -o zipf,sieve,25 (policy lru, sieve, "
          "pread or mmap; percent ignored for the last two)\n");
  exit(2);
}

int main(int argc, char **argv) {
  trace zipf, scan;
  const char *one = NULL;
  int c;
  while ((c = getopt(argc, argv, "n:v:r:b:s:o:R:h")) != -1) {
    switch (c) {
    case 'n':
      n_keys = strtoul(optarg, NULL, 10);
      break;
    case 'v':
      vsize = strtoul(optarg, NULL, 10);
      break;
    case 'r':
      n_reads = strtoul(optarg, NULL, 10);
      break;
    case 'b':
      block = strtoul(optarg, NULL, 10);
      break;
    case 's':
      seed = strtoull(optarg, NULL, 10);
      break;
    case 'o':
      one = optarg;
      break;
    case 'R':
      reps = atoi(optarg);
      break;
    default:
      usage();
    }
  }
  if (n_keys < 4 || n_reads < 4 || block < 1 || reps < 1)
    usage();
  rng_state = seed;
  snprintf(dir, sizeof dir, "/tmp/bench_cache-XXXXXX");
  if (mkdtemp(dir) == NULL) {
    perror("bench_cache: mkdtemp");
    return 1;
  }
  strcat(dir, "/db");
  build();
  draw_traces(&zipf, &scan);
  printf(
      "bench_cache: %zu keys, %zu-byte values (%.1f MiB of records), "
      "%zu reads per run (the first quarter warm-up), scan blocks of "
      "%zu, use_mmap off unless said; reads/s are per CPU-second, best of %d\n",
      n_keys, vsize, (double)live_bytes / (1024.0 * 1024.0), n_reads, block,
      reps);
  if (one != NULL)
    run_one(one, &zipf, &scan);
  else {
    print_trace(&zipf);
    print_trace(&scan);
  }
  *strrchr(dir, '/') = '\0';
  nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
  return 0;
}

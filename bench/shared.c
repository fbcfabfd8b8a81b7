/*
 * shared.c -- the cost of shared mode (docs/MULTIPROCESS.md), measured side
 * by side in one run: random puts and random gets per second in
 *
 *   exclusive   one process, caskdb_options.shared = 0 (the default)
 *   shared x1   one process, shared = 1
 *   shared x2   two processes at once on one database, shared = 1
 *   shared x4   four processes at once, shared = 1
 *
 *   bench_shared [-n KEYS] [-v VALUE_SIZE] [-r REPEATS] [-d DIR]
 *
 * Each configuration gets a fresh database.  Puts: KEYS random puts in all
 * (each of P processes does KEYS/P, keys drawn uniformly from KEYS), sync
 * "none".  Gets: KEYS random gets in all, each process after it has caught
 * up with everyone's puts (one untimed get).  The clock runs in the parent
 * from the moment every process is ready to the moment the last one is
 * done, so the figure is the throughput of the whole group.  With REPEATS
 * > 1 the best run of each cell is kept (the machine may be busy).
 */
#include "caskdb.h"

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rnd(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static int rm_entry(const char *p, const struct stat *sb, int flag,
                    struct FTW *ftw) {
  (void)sb;
  (void)ftw;
  return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static void need(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "bench_shared: %s failed\n", what);
    exit(1);
  }
}

/* Wait for one byte from every child, or send one to every child. */
static void gather(int *fds, int n) {
  char b;
  int i;
  for (i = 0; i < n; i++)
    need(read(fds[i], &b, 1) == 1, "a child");
}

static void release(int *fds, int n) {
  int i;
  for (i = 0; i < n; i++)
    need(write(fds[i], "g", 1) == 1, "a child");
}

static void child(const char *dir, int shared, int id, long per, long nkeys,
                  size_t vsize, int up, int down) {
  caskdb_options o;
  caskdb *db;
  unsigned char *value = malloc(vsize ? vsize : 1);
  char key[17], b;
  const void *v;
  size_t vl;
  uint64_t s = 0x9E3779B97F4A7C15ull * (uint64_t)(id + 1);
  long i;
  caskdb_options_init(&o);
  o.shared = shared;
  need(caskdb_open(dir, &o, &db, NULL, 0) == CASKDB_OK, "open");
  for (i = 0; i < (long)vsize; i++)
    value[i] = (unsigned char)rnd(&s);
  /* puts */
  need(write(up, "r", 1) == 1 && read(down, &b, 1) == 1, "sync");
  for (i = 0; i < per; i++) {
    snprintf(key, sizeof key, "%016ld", (long)(rnd(&s) % (uint64_t)nkeys));
    need(caskdb_put(db, caskdb_key_bytes(key, 16), value, vsize, NULL) ==
             CASKDB_OK,
         "put");
  }
  need(write(up, "d", 1) == 1 && read(down, &b, 1) == 1, "sync");
  /* catch up with every process's puts, untimed */
  caskdb_get(db, caskdb_key_bytes("x", 1), &v, &vl, NULL);
  need(write(up, "r", 1) == 1 && read(down, &b, 1) == 1, "sync");
  for (i = 0; i < per; i++) {
    int rc;
    snprintf(key, sizeof key, "%016ld", (long)(rnd(&s) % (uint64_t)nkeys));
    rc = caskdb_get(db, caskdb_key_bytes(key, 16), &v, &vl, NULL);
    need(rc == CASKDB_OK || rc == CASKDB_ENOTFOUND, "get");
  }
  need(write(up, "d", 1) == 1, "sync");
  caskdb_close(db);
  free(value);
  _exit(0);
}

/* One configuration: procs processes; puts/s and gets/s into out[0..1]. */
static void run(const char *root, int shared, int procs, long nkeys,
                size_t vsize, double out[2]) {
  char dir[600];
  int up[8], down[8], i;
  pid_t pids[8];
  double t0;
  snprintf(dir, sizeof dir, "%.500s/db-%d-%d", root, shared, procs);
  for (i = 0; i < procs; i++) {
    int u[2], d[2];
    need(pipe(u) == 0 && pipe(d) == 0, "pipe");
    pids[i] = fork();
    need(pids[i] >= 0, "fork");
    if (pids[i] == 0) {
      close(u[0]);
      close(d[1]);
      child(dir, shared, i, nkeys / procs, nkeys, vsize, u[1], d[0]);
    }
    close(u[1]);
    close(d[0]);
    up[i] = u[0];
    down[i] = d[1];
    if (i == 0) { /* the first opener creates the directory alone */
      char b;
      need(read(up[0], &b, 1) == 1, "first child");
    }
  }
  for (i = 1; i < procs; i++)
    gather(up + i, 1);
  t0 = now_s();
  release(down, procs);
  gather(up, procs);
  out[0] = (double)(nkeys / procs * procs) / (now_s() - t0);
  release(down, procs);
  gather(up, procs);
  t0 = now_s();
  release(down, procs);
  gather(up, procs);
  out[1] = (double)(nkeys / procs * procs) / (now_s() - t0);
  for (i = 0; i < procs; i++) {
    int st;
    waitpid(pids[i], &st, 0);
    need(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a child");
    close(up[i]);
    close(down[i]);
  }
  nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(int argc, char **argv) {
  long nkeys = 200000;
  size_t vsize = 100;
  int repeats = 1, opt, c, r;
  const char *base = "/tmp";
  char root[512];
  static const struct {
    const char *name;
    int shared, procs;
  } configs[] = {
      {"exclusive (shared = 0), 1 process", 0, 1},
      {"shared, 1 process", 1, 1},
      {"shared, 2 processes", 1, 2},
      {"shared, 4 processes", 1, 4},
  };
  double best[4][2];
  while ((opt = getopt(argc, argv, "n:v:r:d:")) != -1) {
    if (opt == 'n')
      nkeys = atol(optarg);
    else if (opt == 'v')
      vsize = (size_t)atol(optarg);
    else if (opt == 'r')
      repeats = atoi(optarg);
    else if (opt == 'd')
      base = optarg;
    else {
      fprintf(stderr, "usage: bench_shared [-n KEYS] [-v VALUE_SIZE] "
                      "[-r REPEATS] [-d DIR]\n");
      return 2;
    }
  }
  snprintf(root, sizeof root, "%.400s/caskdb-bench-shared-XXXXXX", base);
  need(mkdtemp(root) != NULL, "mkdtemp");
  memset(best, 0, sizeof best);
  /* Interleaved: a slow moment of the machine hits every configuration. */
  for (r = 0; r < repeats; r++) {
    for (c = 0; c < 4; c++) {
      double out[2];
      run(root, configs[c].shared, configs[c].procs, nkeys, vsize, out);
      if (out[0] > best[c][0])
        best[c][0] = out[0];
      if (out[1] > best[c][1])
        best[c][1] = out[1];
    }
  }
  rmdir(root);
  printf("%ld keys, %zu-byte values, sync none, best of %d\n\n", nkeys, vsize,
         repeats);
  printf("| mode | random puts/s | vs exclusive | random gets/s | vs "
         "exclusive |\n|---|---:|---:|---:|---:|\n");
  for (c = 0; c < 4; c++)
    printf("| %s | %.0f | %.2f | %.0f | %.2f |\n", configs[c].name, best[c][0],
           best[c][0] / best[0][0], best[c][1], best[c][1] / best[0][1]);
  return 0;
}

/*
 * test_kill.c -- a writer process killed with SIGKILL at random moments.
 *
 * Each round forks a child that opens the database (sync "none", small
 * files so it rotates) and writes a deterministic random sequence of puts
 * and deletes (and a few syncs) as fast as it can, reporting through a pipe
 * the index and result of every operation after its call returned.  The
 * parent kills it at a random moment (sometimes before or during its open,
 * so recovery itself gets killed), drains the pipe, reopens the directory
 * and checks that:
 *  - every operation the child reported is there: in sync "none" every
 *    acknowledged write has reached the OS, and a process crash loses none;
 *  - the one operation in flight at the kill is there whole or not at all;
 *  - nothing else differs, and no key that was never written appears.
 * The database carries over from round to round, so later rounds also
 * recover what earlier kills left.
 *
 * Settings: CASKDB_KILL_ROUNDS (default 100), CASKDB_KILL_SEED (default 1;
 * printed on failure), CASKDB_KILL_MAX_MS (longest a child runs, default
 * 40).
 */
#include "caskdb.h"
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NKEYS 64
#define MAXV 3000

static uint64_t rnd(uint64_t *s) { /* splitmix64 */
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw) {
  (void)sb;
  (void)ftw;
  return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Key k: even ones are integers, odd ones bytes. */
static caskdb_key key_of(int k, char *buf) {
  if (k % 2 == 0)
    return caskdb_key_int((int64_t)k * 7919 - 100000);
  snprintf(buf, 32, "key-%d", k);
  return caskdb_key_bytes(buf, strlen(buf));
}

/* ---- the operations of a round --------------------------------------------
 */

enum { OP_PUT, OP_DEL, OP_SYNC };

typedef struct op {
  int kind, key;
  size_t vlen;
} op;

/* Operation j of round `round`: a pure function, so parent and child agree
 * on it without sending it. */
static op op_of(uint64_t seed, int round, uint32_t j) {
  uint64_t s = seed * 1000003u + (uint64_t)round * 7777777u + j;
  uint64_t r;
  op o;
  rnd(&s);
  r = rnd(&s);
  o.key = (int)(rnd(&s) % NKEYS);
  o.vlen = r % 9 == 0 ? 0 : (size_t)(rnd(&s) % (r % 13 == 0 ? MAXV : 400));
  o.kind = r % 100 < 75 ? OP_PUT : r % 100 < 98 ? OP_DEL : OP_SYNC;
  return o;
}

static void value_of(unsigned char *buf, int round, uint32_t j, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    buf[i] = (unsigned char)((uint32_t)round * 31u + j * 131u + i * 7u);
}

/* What a child reports: the index of an operation and what it returned. */
typedef struct report {
  uint32_t j;
  int32_t rc;
} report;

static caskdb_options options(void) {
  caskdb_options o;
  caskdb_options_init(&o);
  o.sync = CASKDB_SYNC_NONE;
  o.max_file_size = 16 * 1024;
  return o;
}

static void child(const char *dir, uint64_t seed, int round, int fd) {
  caskdb_options o = options();
  unsigned char val[MAXV];
  char kb[32];
  caskdb *db;
  uint32_t j;
  if (caskdb_open(dir, &o, &db, NULL, 0) != CASKDB_OK)
    _exit(3);
  for (j = 0;; j++) {
    op p = op_of(seed, round, j);
    report rep;
    int rc;
    if (p.kind == OP_PUT) {
      value_of(val, round, j, p.vlen);
      rc = caskdb_put(db, key_of(p.key, kb), val, p.vlen, NULL);
    } else if (p.kind == OP_DEL) {
      rc = caskdb_delete(db, key_of(p.key, kb));
    } else {
      rc = caskdb_sync(db);
    }
    rep.j = j;
    rep.rc = rc;
    if (write(fd, &rep, sizeof rep) != (ssize_t)sizeof rep)
      _exit(4);
    if (rc != CASKDB_OK && rc != CASKDB_ENOTFOUND)
      _exit(5);
  }
}

/* ---- the parent's model
 * ------------------------------------------------------ */

typedef struct val {
  int present;
  int round;
  uint32_t j;
  size_t vlen;
} val;

static val model[NKEYS];

static int holds(caskdb *db, int k, const val *v) {
  unsigned char want[MAXV];
  char kb[32];
  const void *got;
  size_t n;
  int rc = caskdb_get(db, key_of(k, kb), &got, &n, NULL);
  if (!v->present)
    return rc == CASKDB_ENOTFOUND;
  value_of(want, v->round, v->j, v->vlen);
  return rc == CASKDB_OK && n == v->vlen && memcmp(got, want, n) == 0;
}

static int count_keys(caskdb *db) {
  caskdb_iter *it;
  caskdb_key key;
  int n = 0;
  REQUIRE(caskdb_iter_open(db, NULL, &it) == CASKDB_OK);
  while (caskdb_iter_next(it, &key, NULL, NULL, NULL) == CASKDB_OK)
    n++;
  caskdb_iter_close(it);
  return n;
}

/* Run one round: fork, let the child write for `ms`, kill it, check. */
static int round_once(const char *dir, uint64_t seed, int round, int ms,
                      long *acked) {
  int fds[2], status, k, live = 0, ok = 1;
  uint32_t next = 0; /* the first operation not reported */
  caskdb_options o = options();
  uint64_t deadline;
  caskdb *db;
  pid_t pid;
  char err[512];

  REQUIRE(pipe(fds) == 0);
  pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    child(dir, seed, round, fds[1]);
    _exit(0);
  }
  close(fds[1]);
  /* Take reports until the moment comes, then kill. */
  deadline = now_ms() + (uint64_t)ms;
  for (;;) {
    struct pollfd pfd;
    uint64_t t = now_ms();
    report rep;
    ssize_t n;
    int dead = 0;
    if (t >= deadline)
      break;
    pfd.fd = fds[0];
    pfd.events = POLLIN;
    if (poll(&pfd, 1, (int)(deadline - t)) <= 0)
      continue;
    n = read(fds[0], &rep, sizeof rep);
    if (n == 0)
      dead = 1;
    else if (n == (ssize_t)sizeof rep) {
      op p = op_of(seed, round, rep.j);
      CHECK_EQ(rep.j, next);
      next = rep.j + 1;
      (*acked)++;
      if (rep.rc == CASKDB_OK && p.kind != OP_SYNC) {
        model[p.key].present = p.kind == OP_PUT;
        model[p.key].round = round;
        model[p.key].j = rep.j;
        model[p.key].vlen = p.vlen;
      } else if (rep.rc == CASKDB_ENOTFOUND) {
        CHECK(p.kind == OP_DEL && !model[p.key].present);
      }
      continue;
    }
    if (dead)
      break;
  }
  kill(pid, SIGKILL);
  /* Reports written before the kill are still in the pipe. */
  for (;;) {
    report rep;
    ssize_t n = read(fds[0], &rep, sizeof rep);
    op p;
    if (n <= 0)
      break;
    REQUIRE(n == (ssize_t)sizeof rep);
    p = op_of(seed, round, rep.j);
    CHECK_EQ(rep.j, next);
    next = rep.j + 1;
    (*acked)++;
    if (rep.rc == CASKDB_OK && p.kind != OP_SYNC) {
      model[p.key].present = p.kind == OP_PUT;
      model[p.key].round = round;
      model[p.key].j = rep.j;
      model[p.key].vlen = p.vlen;
    }
  }
  close(fds[0]);
  REQUIRE(waitpid(pid, &status, 0) == pid);
  if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
    fprintf(stderr, "kill round %d: the child ended by itself (status %d)\n",
            round, status);
    ok = 0;
  }

  if (caskdb_open(dir, &o, &db, err, sizeof err) != CASKDB_OK) {
    fprintf(stderr, "kill round %d: the database does not open: %s\n", round,
            err);
    return 0;
  }
  {
    /* The operation in flight: there whole, or not at all. */
    op p = op_of(seed, round, next);
    val inflight;
    inflight.present = p.kind == OP_PUT;
    inflight.round = round;
    inflight.j = next;
    inflight.vlen = p.vlen;
    for (k = 0; k < NKEYS; k++) {
      if (holds(db, k, &model[k]))
        ;
      else if (k == p.key && p.kind != OP_SYNC && holds(db, k, &inflight))
        model[k] = inflight; /* it landed */
      else {
        fprintf(stderr,
                "kill round %d: key %d lost or wrong (after %u "
                "reported operations)\n",
                round, k, (unsigned)next);
        ok = 0;
      }
      live += model[k].present;
    }
  }
  if (count_keys(db) != live) {
    fprintf(stderr, "kill round %d: %d keys, expected %d\n", round,
            count_keys(db), live);
    ok = 0;
  }
  CHECK_EQ(caskdb_close(db), CASKDB_OK);
  return ok;
}

static long env_long(const char *name, long dflt) {
  const char *v = getenv(name);
  return v && *v ? strtol(v, NULL, 10) : dflt;
}

int main(void) {
  long rounds = env_long("CASKDB_KILL_ROUNDS", 100);
  uint64_t seed = (uint64_t)env_long("CASKDB_KILL_SEED", 1);
  long max_ms = env_long("CASKDB_KILL_MAX_MS", 40), acked = 0;
  uint64_t rng = seed;
  char dir[64];
  int r, kills = 0;
  snprintf(dir, sizeof dir, "/tmp/caskdb-kill-XXXXXX");
  REQUIRE(mkdtemp(dir) != NULL);
  memset(model, 0, sizeof model);
  for (r = 0; r < rounds; r++) {
    /* Mostly mid-run, sometimes at once (during the child's open). */
    int ms = rnd(&rng) % 5 == 0 ? (int)(rnd(&rng) % 3)
                                : (int)(1 + rnd(&rng) % (uint64_t)max_ms);
    if (!round_once(dir, seed, r, ms, &acked)) {
      fprintf(stderr,
              "kill test failed in round %d; replay with "
              "CASKDB_KILL_SEED=%" PRIu64 "\n",
              r, seed);
      CHECK(0);
      break;
    }
    kills++;
  }
  printf("kill: %d kills survived, %ld acknowledged operations checked\n",
         kills, acked);
  nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  return check_report();
}

/*
 * test_shared.c -- shared mode: several handles, and several processes, on
 * one directory (docs/MULTIPROCESS.md).
 *
 * First two handles in this process (flock locks belong to the open file
 * description, so two handles conflict exactly as two processes would):
 * what one writes the other reads, rotations, batches, lists, a merge under
 * an open iterator, the merge lock, and the exclusion of exclusive opens.
 *
 * Then the kill test: four child processes open the directory in shared
 * mode and each writes its own keys (puts, overwrites, deletes, batches)
 * while reading the others', child 0 runs full merges and merge steps and
 * child 1 merges automatically.  Every operation is logged to a file of
 * the child before it starts (intent) and after it is acknowledged (ack).
 * The parent SIGKILLs a random child at random moments and starts it
 * again; the new child settles its last intent by looking at the database:
 * every key of it changed (acknowledged) or none (not), else a batch was
 * split.  At the end every child checks every key of every child against
 * the logs, and so does the parent from a fresh exclusive open and a fresh
 * shared open.  While running, a value read from another child must be one
 * that child wrote for that key, and never older than one read before.
 *
 * CASKDB_SHARED_KILLS (default 25) and CASKDB_SHARED_SEED tune it.
 */
#include "check.h"
#include "testutil.h"

#include <inttypes.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

/* ---- part 1: two handles in one process --------------------------------- */

static caskdb *open_shared(const char *dir, uint64_t max_file_size) {
  caskdb_options o;
  caskdb_options_init(&o);
  o.shared = 1;
  o.max_file_size = max_file_size;
  return tu_open(dir, &o);
}

static void put_s(caskdb *db, const char *k, const char *v) {
  CHECK_EQ(caskdb_put(db, tu_skey(k), v, strlen(v), NULL), CASKDB_OK);
}

static int holds_s(caskdb *db, const char *k, const char *v) {
  return tu_holds(db, tu_skey(k), v, strlen(v));
}

static int missing(caskdb *db, const char *k) {
  const void *v;
  size_t n;
  return caskdb_get(db, tu_skey(k), &v, &n, NULL) == CASKDB_ENOTFOUND;
}

static void test_exclusion(const char *dir) {
  caskdb_options o;
  caskdb *a = open_shared(dir, 64u * 1024 * 1024), *x = NULL;
  /* An exclusive writer cannot join shared handles... */
  caskdb_options_init(&o);
  CHECK_EQ(caskdb_open(dir, &o, &x, NULL, 0), CASKDB_ELOCKED);
  /* ...a read-only handle can (it takes no lock), and shared + readonly
   * is refused. */
  o.readonly = 1;
  CHECK_EQ(caskdb_open(dir, &o, &x, NULL, 0), CASKDB_OK);
  caskdb_close(x);
  o.shared = 1;
  CHECK_EQ(caskdb_open(dir, &o, &x, NULL, 0), CASKDB_EINVAL);
  CHECK_EQ(caskdb_close(a), CASKDB_OK);
  /* ...and shared handles cannot join an exclusive writer. */
  caskdb_options_init(&o);
  x = tu_open(dir, &o);
  o.shared = 1;
  CHECK_EQ(caskdb_open(dir, &o, &a, NULL, 0), CASKDB_ELOCKED);
  CHECK_EQ(caskdb_close(x), CASKDB_OK);
}

static void test_two_handles(const char *dir) {
  caskdb *a = open_shared(dir, 4096), *b = open_shared(dir, 4096);
  caskdb_batch *batch;
  caskdb_iter *it;
  caskdb_key key;
  char k[32], v[64];
  const void *val;
  size_t vlen;
  uint64_t len;
  int i, n, more, other, ok;

  put_s(a, "k", "from a");
  CHECK(holds_s(b, "k", "from a"));
  CHECK_EQ(caskdb_delete(b, tu_skey("k")), CASKDB_OK);
  CHECK(missing(a, "k"));
  CHECK_EQ(caskdb_delete(a, tu_skey("k")), CASKDB_ENOTFOUND);

  REQUIRE(caskdb_batch_new(&batch) == CASKDB_OK);
  caskdb_batch_put(batch, tu_skey("x"), "1", 1, NULL);
  caskdb_batch_put(batch, tu_skey("y"), "2", 1, NULL);
  CHECK_EQ(caskdb_batch_commit(b, batch), CASKDB_OK);
  caskdb_batch_free(batch);
  CHECK(holds_s(a, "x", "1") && holds_s(a, "y", "2"));

  CHECK_EQ(caskdb_list_push(a, tu_skey("l"), 0, "e1", 2, NULL, &len),
           CASKDB_OK);
  CHECK_EQ(caskdb_list_push(b, tu_skey("l"), 0, "e2", 2, NULL, &len),
           CASKDB_OK);
  CHECK_EQ(len, 2);
  CHECK_EQ(caskdb_list_pop(a, tu_skey("l"), 1, &val, &vlen, NULL), CASKDB_OK);
  CHECK(vlen == 2 && memcmp(val, "e1", 2) == 0);
  CHECK_EQ(caskdb_list_len(b, tu_skey("l"), &len), CASKDB_OK);
  CHECK_EQ(len, 1);

  /* Many files (4 KiB each), written by both in turn. */
  for (i = 0; i < 600; i++) {
    snprintf(k, sizeof k, "key%04d", i);
    snprintf(v, sizeof v, "value %d of %s", i, i % 2 ? "a" : "b");
    put_s(i % 2 ? a : b, k, v);
  }
  CHECK(tu_stats(a).data_files > 5);
  CHECK_EQ(caskdb_count(a), caskdb_count(b));
  CHECK_EQ(caskdb_count(b), 603);

  /* b iterates while a merges and overwrites: b reloads under its
   * iterator, which goes on in order, each key once. */
  REQUIRE(caskdb_iter_open(b, NULL, &it) == CASKDB_OK);
  for (i = 0; i < 100; i++)
    CHECK_EQ(caskdb_iter_next(it, &key, &val, &vlen, NULL), CASKDB_OK);
  CHECK_EQ(caskdb_merge(a), CASKDB_OK);
  for (i = 0; i < 600; i += 3) {
    snprintf(k, sizeof k, "key%04d", i);
    snprintf(v, sizeof v, "new %d", i);
    put_s(a, k, v);
  }
  n = 100;
  while (caskdb_iter_next(it, &key, &val, &vlen, NULL) == CASKDB_OK)
    n++;
  caskdb_iter_close(it);
  CHECK_EQ(n, 603);
  ok = 1;
  for (i = 0; i < 600; i++) {
    snprintf(k, sizeof k, "key%04d", i);
    if (i % 3 == 0)
      snprintf(v, sizeof v, "new %d", i);
    else
      snprintf(v, sizeof v, "value %d of %s", i, i % 2 ? "a" : "b");
    ok &= holds_s(b, k, v);
  }
  CHECK(ok);
  /* Both see the same files, and the same figures. */
  CHECK_EQ(tu_stats(b).data_files, tu_stats(a).data_files);
  CHECK_EQ(tu_stats(b).disk_bytes, tu_stats(a).disk_bytes);
  CHECK_EQ(tu_stats(b).live_bytes, tu_stats(a).live_bytes);

  /* One merging handle at a time. */
  for (i = 0; i < 600; i++) {
    snprintf(k, sizeof k, "key%04d", i);
    put_s(b, k, "again");
  }
  CHECK_EQ(caskdb_merge_step(a, 1, &more), CASKDB_OK);
  CHECK_EQ(more, 1);
  CHECK_EQ(caskdb_merge_step(b, 1, &other), CASKDB_ELOCKED);
  CHECK_EQ(other, 0);
  while (more)
    REQUIRE(caskdb_merge_step(a, 4096, &more) == CASKDB_OK);
  CHECK_EQ(caskdb_merge_step(b, 1, &more), CASKDB_OK);
  while (more)
    REQUIRE(caskdb_merge_step(b, 1u << 20, &more) == CASKDB_OK);
  CHECK(holds_s(a, "key0599", "again") && holds_s(b, "key0000", "again"));

  CHECK_EQ(caskdb_close(a), CASKDB_OK);
  /* b is the last handle; a new one joins it as a follower. */
  a = open_shared(dir, 4096);
  CHECK(holds_s(a, "x", "1") && holds_s(a, "key0300", "again"));
  CHECK_EQ(caskdb_count(a), 603);
  CHECK_EQ(caskdb_close(a), CASKDB_OK);
  CHECK_EQ(caskdb_close(b), CASKDB_OK);
}

/* sync = "interval" handles, one merging files away under the other's
 * background sync: writes go on and nothing is lost. */
static void test_interval(const char *dir) {
  caskdb_options o;
  caskdb *a, *b;
  char k[32], v[32];
  int i, round, ok = 1;
  caskdb_options_init(&o);
  o.shared = 1;
  o.max_file_size = 4096;
  o.sync = CASKDB_SYNC_INTERVAL;
  o.sync_interval_ms = 1;
  a = tu_open(dir, &o);
  b = tu_open(dir, &o);
  for (round = 0; round < 4; round++) {
    for (i = 0; i < 300; i++) {
      snprintf(k, sizeof k, "k%d", i);
      snprintf(v, sizeof v, "r%d-%d", round, i);
      put_s(i % 2 ? a : b, k, v);
    }
    CHECK_EQ(caskdb_merge(round % 2 ? a : b), CASKDB_OK);
  }
  for (i = 0; i < 300; i++) {
    snprintf(k, sizeof k, "k%d", i);
    snprintf(v, sizeof v, "r3-%d", i);
    ok &= holds_s(a, k, v) && holds_s(b, k, v);
  }
  CHECK(ok);
  put_s(a, "last", "a");
  put_s(b, "last", "b");
  CHECK_EQ(caskdb_close(a), CASKDB_OK);
  CHECK_EQ(caskdb_close(b), CASKDB_OK);
}

/* Without mappings and with the value cache: after another handle's merge
 * and overwrites no read is served from a stale place. */
static void test_cache(const char *dir) {
  caskdb_options o;
  caskdb *a, *b;
  char k[32], v[32];
  int i, round, ok = 1;
  caskdb_options_init(&o);
  o.shared = 1;
  o.max_file_size = 4096;
  o.use_mmap = 0;
  o.cache_size = 1u << 20;
  a = tu_open(dir, &o);
  b = tu_open(dir, &o);
  for (round = 0; round < 4; round++) {
    for (i = 0; i < 300; i++) {
      snprintf(k, sizeof k, "k%d", i);
      snprintf(v, sizeof v, "r%d-%d", round, i);
      put_s(i % 2 ? a : b, k, v);
    }
    for (i = 0; i < 300; i++) { /* fill both caches */
      snprintf(k, sizeof k, "k%d", i);
      snprintf(v, sizeof v, "r%d-%d", round, i);
      ok &= holds_s(a, k, v) && holds_s(b, k, v);
    }
    CHECK_EQ(caskdb_merge(round % 2 ? a : b), CASKDB_OK);
    for (i = 0; i < 300; i++) {
      snprintf(k, sizeof k, "k%d", i);
      snprintf(v, sizeof v, "r%d-%d", round, i);
      ok &= holds_s(a, k, v) && holds_s(b, k, v);
    }
  }
  CHECK(ok);
  CHECK_EQ(caskdb_close(a), CASKDB_OK);
  CHECK_EQ(caskdb_close(b), CASKDB_OK);
}

/* ---- part 2: processes killed at random --------------------------------- */

#define NCHILD 4
#define NKEYS 48 /* per child */
#define MAXOPS 4 /* per batch */

#define LOG_INTENT 1
#define LOG_ACK 2
#define LOG_ABORT 3

/* One line of a child's log (fixed size: a kill never tears a write this
 * small, and a torn tail is cut anyway). */
typedef struct logrec {
  uint32_t kind;
  uint32_t n;
  uint64_t seq;        /* the value's sequence number (intents) */
  int32_t key[MAXOPS]; /* key indices */
  int32_t is_del[MAXOPS];
} logrec;

typedef struct child_ctx {
  int id;
  const char *dir, *logdir;
  uint64_t rng;
  int logfd;
  uint64_t next_seq;
  uint64_t state[NKEYS]; /* value seq of each own key, 0: absent */
  uint64_t seen[NCHILD][NKEYS];
  caskdb *db;
} child_ctx;

static volatile sig_atomic_t stop_flag;

static void on_stop(int sig) {
  (void)sig;
  stop_flag = 1;
}

static uint64_t rnd(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void die(child_ctx *c, const char *what, int rc) {
  fprintf(stderr, "child %d (pid %d): %s: %s (%s)\n", c->id, (int)getpid(),
          what, caskdb_code_name(rc), c->db ? caskdb_errmsg(c->db) : "");
  _exit(2);
}

static size_t key_of(int child, int k, char *out) {
  return (size_t)sprintf(out, "c%d:%d", child, k);
}

/* The value of key k of a child at seq: names both, padded by seq. */
static size_t value_of(int child, int k, uint64_t seq, char *out) {
  size_t n = (size_t)sprintf(out, "c%d:%d:%" PRIu64 ":", child, k, seq);
  size_t pad = (size_t)(seq % 61);
  memset(out + n, 'a' + (int)(seq % 26), pad);
  return n + pad;
}

/* The seq in a value read for key k of `child`, or 0 if the value is not
 * one that child could have written for that key. */
static uint64_t parse_value(int child, int k, const void *v, size_t n) {
  char want[200], buf[200];
  unsigned long long seq;
  int c, kk;
  if (n == 0 || n >= sizeof buf)
    return 0;
  memcpy(buf, v, n);
  buf[n] = '\0';
  if (sscanf(buf, "c%d:%d:%llu:", &c, &kk, &seq) != 3 || c != child ||
      kk != k || seq == 0)
    return 0;
  if (value_of(child, k, seq, want) != n || memcmp(want, v, n) != 0)
    return 0;
  return seq;
}

static char *log_path(const char *logdir, int child) {
  static char path[700];
  snprintf(path, sizeof path, "%.600s/log%d", logdir, child);
  return path;
}

static void log_write(child_ctx *c, const logrec *r) {
  if (write(c->logfd, r, sizeof *r) != (ssize_t)sizeof *r)
    die(c, "log write", 0);
}

/* Replay a log: the state of the child's keys after its acknowledged
 * operations; *open receives a last intent that is not settled. */
static int replay(const char *path, uint64_t state[NKEYS], uint64_t *max_seq,
                  logrec *intent) {
  size_t len = 0, i;
  unsigned char *data = tu_exists(path) ? tu_read_file(path, &len) : NULL;
  logrec pend, r;
  int have = 0, j;
  memset(state, 0, NKEYS * sizeof *state);
  *max_seq = 0;
  for (i = 0; i + sizeof r <= len; i += sizeof r) {
    memcpy(&r, data + i, sizeof r);
    if (r.kind == LOG_INTENT) {
      if (have)
        return -1; /* two intents in a row */
      pend = r;
      have = 1;
      if (r.seq > *max_seq)
        *max_seq = r.seq;
    } else if (r.kind == LOG_ACK || r.kind == LOG_ABORT) {
      if (!have)
        return -1;
      if (r.kind == LOG_ACK)
        for (j = 0; j < (int)pend.n; j++)
          state[pend.key[j]] = pend.is_del[j] ? 0 : pend.seq;
      have = 0;
    } else {
      return -1;
    }
  }
  free(data);
  if (intent && have)
    *intent = pend;
  return have;
}

/* Does own key k hold what state says? */
static int own_key_is(child_ctx *c, int k, uint64_t seq) {
  char key[32], want[200];
  const void *v;
  size_t n, klen = key_of(c->id, k, key);
  int rc = caskdb_get(c->db, caskdb_key_bytes(key, klen), &v, &n, NULL);
  if (seq == 0)
    return rc == CASKDB_ENOTFOUND;
  if (rc != CASKDB_OK)
    return 0;
  return n == value_of(c->id, k, seq, want) && memcmp(v, want, n) == 0;
}

/* A new child: its state from its log; an intent left by the child killed
 * before it is settled from what the database holds. */
static void child_start(child_ctx *c) {
  char *path = log_path(c->logdir, c->id);
  uint64_t max_seq;
  logrec intent, r;
  int64_t size = tu_exists(path) ? tu_file_size(path) : 0;
  int have, j, done = 0;
  if (size % (int64_t)sizeof(logrec) != 0)
    tu_truncate(path, (uint64_t)(size - size % (int64_t)sizeof(logrec)));
  have = replay(path, c->state, &max_seq, &intent);
  if (have < 0)
    die(c, "bad log", 0);
  c->next_seq = max_seq + 1;
  c->logfd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (c->logfd < 0)
    die(c, "open log", 0);
  memset(&r, 0, sizeof r);
  if (have) {
    for (j = 0; j < (int)intent.n; j++)
      done += own_key_is(c, intent.key[j], intent.is_del[j] ? 0 : intent.seq);
    if (done != 0 && done != (int)intent.n)
      die(c, "an interrupted batch is applied in part", 0);
    r.kind = done ? LOG_ACK : LOG_ABORT;
    log_write(c, &r);
    if (done)
      for (j = 0; j < (int)intent.n; j++)
        c->state[intent.key[j]] = intent.is_del[j] ? 0 : intent.seq;
  }
  for (j = 0; j < NKEYS; j++)
    if (!own_key_is(c, j, c->state[j]))
      die(c, "an acknowledged write is missing at start", 0);
}

/* One write operation: a put, a delete or a batch of up to MAXOPS. */
static void child_write(child_ctx *c) {
  char key[MAXOPS][32], val[MAXOPS][200];
  size_t klen[MAXOPS], vlen[MAXOPS];
  logrec r;
  int kind = (int)(rnd(&c->rng) % 10), i, j, rc;
  memset(&r, 0, sizeof r);
  r.kind = LOG_INTENT;
  r.seq = c->next_seq++;
  r.n = kind < 2 ? 2 + (uint32_t)(rnd(&c->rng) % (MAXOPS - 1)) : 1;
  for (i = 0; i < (int)r.n; i++) {
    int k, dup;
    do { /* distinct keys in one batch */
      k = (int)(rnd(&c->rng) % NKEYS);
      for (dup = 0, j = 0; j < i; j++)
        dup |= r.key[j] == k;
    } while (dup);
    r.key[i] = k;
    /* Delete only a live key, so that every operation changes its key. */
    r.is_del[i] = c->state[k] != 0 && rnd(&c->rng) % 4 == 0;
    klen[i] = key_of(c->id, k, key[i]);
    vlen[i] = value_of(c->id, k, r.seq, val[i]);
  }
  log_write(c, &r);
  if (r.n == 1 && r.is_del[0]) {
    rc = caskdb_delete(c->db, caskdb_key_bytes(key[0], klen[0]));
  } else if (r.n == 1) {
    rc = caskdb_put(c->db, caskdb_key_bytes(key[0], klen[0]), val[0], vlen[0],
                    NULL);
  } else {
    caskdb_batch *b;
    if (caskdb_batch_new(&b) != CASKDB_OK)
      die(c, "batch_new", 0);
    for (i = 0; i < (int)r.n; i++) {
      if (r.is_del[i])
        caskdb_batch_delete(b, caskdb_key_bytes(key[i], klen[i]));
      else
        caskdb_batch_put(b, caskdb_key_bytes(key[i], klen[i]), val[i], vlen[i],
                         NULL);
    }
    rc = caskdb_batch_commit(c->db, b);
    caskdb_batch_free(b);
  }
  if (rc != CASKDB_OK)
    die(c, "write", rc);
  {
    logrec ack;
    memset(&ack, 0, sizeof ack);
    ack.kind = LOG_ACK;
    log_write(c, &ack);
  }
  /* Acknowledged: the model follows, and the handle reads its own write. */
  for (i = 0; i < (int)r.n; i++) {
    c->state[r.key[i]] = r.is_del[i] ? 0 : r.seq;
    if (!own_key_is(c, r.key[i], c->state[r.key[i]]))
      die(c, "a write does not read back", 0);
  }
}

static void child_read_other(child_ctx *c) {
  int other = (int)(rnd(&c->rng) % NCHILD), k = (int)(rnd(&c->rng) % NKEYS);
  char key[32];
  const void *v;
  size_t n, klen;
  uint64_t seq;
  int rc;
  if (other == c->id)
    other = (other + 1) % NCHILD;
  klen = key_of(other, k, key);
  rc = caskdb_get(c->db, caskdb_key_bytes(key, klen), &v, &n, NULL);
  if (rc == CASKDB_ENOTFOUND)
    return;
  if (rc != CASKDB_OK)
    die(c, "read of another child's key", rc);
  seq = parse_value(other, k, v, n);
  if (seq == 0)
    die(c, "a value that was never written", 0);
  if (seq < c->seen[other][k]) {
    fprintf(stderr,
            "child %d: key %s went back from %" PRIu64 " to %" PRIu64 "\n",
            c->id, key, c->seen[other][k], seq);
    die(c, "a value went back", 0);
  }
  c->seen[other][k] = seq;
}

/* Every key of every child as its log says. */
static int check_all(caskdb *db, const char *logdir, const char *who) {
  uint64_t state[NKEYS], max_seq, live = 0;
  char key[32], want[200];
  int child, k, bad = 0;
  for (child = 0; child < NCHILD; child++) {
    if (replay(log_path(logdir, child), state, &max_seq, NULL) != 0) {
      fprintf(stderr, "%s: log of child %d is not settled\n", who, child);
      return 0;
    }
    for (k = 0; k < NKEYS; k++) {
      const void *v;
      size_t n, klen = key_of(child, k, key);
      int rc = caskdb_get(db, caskdb_key_bytes(key, klen), &v, &n, NULL);
      size_t wn = state[k] ? value_of(child, k, state[k], want) : 0;
      live += state[k] != 0;
      if (state[k] == 0 ? rc != CASKDB_ENOTFOUND
                        : rc != CASKDB_OK || n != wn || memcmp(v, want, n)) {
        if (bad++ < 5)
          fprintf(stderr, "%s: key %s: got %s, want seq %" PRIu64 "\n", who,
                  key, caskdb_code_name(rc), state[k]);
      }
    }
  }
  if (caskdb_count(db) != live) {
    fprintf(stderr, "%s: %" PRIu64 " keys, want %" PRIu64 "\n", who,
            caskdb_count(db), live);
    bad++;
  }
  return bad == 0;
}

static void child_main(int id, const char *dir, const char *logdir,
                       uint64_t seed, int done_fd, int go_fd) {
  child_ctx c;
  caskdb_options o;
  char err[512], byte = 'd';
  long ops = 0;
  int rc, more;
  memset(&c, 0, sizeof c);
  c.id = id;
  c.dir = dir;
  c.logdir = logdir;
  c.rng = seed * 0x9E3779B97F4A7C15ull + (uint64_t)getpid() * 31u + 1u;
  caskdb_options_init(&o);
  o.shared = 1;
  o.max_file_size = 8192; /* rotations and merges all the time */
  if (id == 1) {          /* merges on its own, racing child 0 */
    o.auto_merge = 1;
    o.merge_trigger_dead_ratio = 0.5;
    o.auto_merge_step_bytes = 4096;
  }
  rc = caskdb_open(dir, &o, &c.db, err, sizeof err);
  if (rc != CASKDB_OK) {
    fprintf(stderr, "child %d: open: %s (%s)\n", id, caskdb_code_name(rc), err);
    _exit(2);
  }
  child_start(&c);
  while (!stop_flag) {
    if (rnd(&c.rng) % 3 == 0) {
      child_read_other(&c);
    } else {
      child_write(&c);
    }
    ops++;
    if (id == 0 && ops % 400 == 0 && (rc = caskdb_merge(c.db)) != CASKDB_OK &&
        rc != CASKDB_ELOCKED) /* child 1 has a merge under way */
      die(&c, "merge", rc);
    if (id == 0 && ops % 25 == 0) {
      rc = caskdb_merge_step(c.db, 2048, &more);
      if (rc != CASKDB_OK && rc != CASKDB_ELOCKED)
        die(&c, "merge_step", rc);
    }
  }
  /* Stopped between two operations: tell the parent, wait until every
   * child has stopped, then check everyone's keys. */
  if (write(done_fd, &byte, 1) != 1 || read(go_fd, &byte, 1) != 1)
    _exit(3);
  rc = check_all(c.db, logdir, "child") ? 0 : 1;
  if (caskdb_close(c.db) != CASKDB_OK)
    rc = 1;
  _exit(rc);
}

typedef struct child_proc {
  pid_t pid;
  int done_fd, go_fd; /* the parent's ends */
} child_proc;

static void spawn(child_proc *p, int id, const char *dir, const char *logdir,
                  uint64_t seed) {
  int done[2], go[2];
  REQUIRE(pipe(done) == 0 && pipe(go) == 0);
  p->pid = fork();
  REQUIRE(p->pid >= 0);
  if (p->pid == 0) {
    close(done[0]);
    close(go[1]);
    child_main(id, dir, logdir, seed, done[1], go[0]);
  }
  close(done[1]);
  close(go[0]);
  p->done_fd = done[0];
  p->go_fd = go[1];
}

static void reap(child_proc *p) {
  close(p->done_fd);
  close(p->go_fd);
  p->pid = 0;
}

static long env_long(const char *name, long dflt) {
  const char *v = getenv(name);
  return v && *v ? strtol(v, NULL, 10) : dflt;
}

static void test_kills(const char *root) {
  long kills = env_long("CASKDB_SHARED_KILLS", 25);
  uint64_t seed = (uint64_t)env_long("CASKDB_SHARED_SEED", (long)time(NULL));
  uint64_t rng = seed | 1;
  child_proc procs[NCHILD];
  struct sigaction sa;
  caskdb_options o;
  char dir[600], logdir[600];
  caskdb *db;
  int i, status, killed = 0, failed = 0;
  long k;

  printf("kill test: seed %" PRIu64 ", %ld kills\n", seed, kills);
  tu_join(dir, sizeof dir, root, "db");
  tu_join(logdir, sizeof logdir, root, "logs");
  REQUIRE(mkdir(logdir, 0700) == 0);
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop;
  sigaction(SIGUSR1, &sa, NULL); /* inherited by the children */
  for (i = 0; i < NCHILD; i++)
    spawn(&procs[i], i, dir, logdir, seed + (uint64_t)i);
  for (k = 0; k < kills && !failed; k++) {
    struct timespec ts = {0, (long)(20 + rnd(&rng) % 180) * 1000000L};
    nanosleep(&ts, NULL);
    i = (int)(rnd(&rng) % NCHILD);
    kill(procs[i].pid, SIGKILL);
    REQUIRE(waitpid(procs[i].pid, &status, 0) == procs[i].pid);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
      killed++;
    } else {
      fprintf(stderr, "child %d ended with status %d before the kill\n", i,
              status);
      failed = 1;
    }
    reap(&procs[i]);
    spawn(&procs[i], i, dir, logdir, seed + (uint64_t)k * NCHILD + (uint64_t)i);
    /* A child that failed on its own shows up here. */
    for (i = 0; i < NCHILD; i++) {
      if (waitpid(procs[i].pid, &status, WNOHANG) == procs[i].pid) {
        fprintf(stderr, "child %d ended with status %d\n", i, status);
        reap(&procs[i]);
        failed = 1;
      }
    }
  }
  {
    struct timespec ts = {0, 300 * 1000000L};
    nanosleep(&ts, NULL); /* let the last one restarted get going */
  }
  /* Stop every child between two operations, then let them check. */
  for (i = 0; i < NCHILD; i++)
    if (procs[i].pid > 0)
      kill(procs[i].pid, SIGUSR1);
  for (i = 0; i < NCHILD; i++) {
    char byte;
    if (procs[i].pid > 0 && read(procs[i].done_fd, &byte, 1) != 1)
      failed = 1;
  }
  for (i = 0; i < NCHILD; i++)
    if (procs[i].pid > 0 && write(procs[i].go_fd, "g", 1) != 1)
      failed = 1;
  for (i = 0; i < NCHILD; i++) {
    if (procs[i].pid <= 0)
      continue;
    REQUIRE(waitpid(procs[i].pid, &status, 0) == procs[i].pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "child %d: final check failed (status %d)\n", i, status);
      failed = 1;
    }
    reap(&procs[i]);
  }
  CHECK(!failed);
  CHECK_EQ(killed, kills);
  {
    int64_t lines = 0;
    for (i = 0; i < NCHILD; i++)
      lines += tu_file_size(log_path(logdir, i)) / (int64_t)sizeof(logrec);
    printf("kill test: %d kills, about %lld write operations\n", killed,
           (long long)(lines / 2));
  }

  /* Everyone is gone: a fresh exclusive open, then a fresh shared one. */
  caskdb_options_init(&o);
  db = tu_open(dir, &o);
  CHECK(check_all(db, logdir, "exclusive open"));
  CHECK_EQ(tu_stats(db).corrupt_records, 0);
  CHECK_EQ(caskdb_close(db), CASKDB_OK);
  o.shared = 1;
  db = tu_open(dir, &o);
  CHECK(check_all(db, logdir, "shared open"));
  CHECK_EQ(caskdb_close(db), CASKDB_OK);
  if (failed || check_failures)
    fprintf(stderr, "replay with CASKDB_SHARED_SEED=%" PRIu64 "\n", seed);
}

int main(void) {
  char root[64], dir[600];
  tu_make_tmpdir(root, sizeof root, "shared");
  test_exclusion(tu_join(dir, sizeof dir, root, "excl"));
  test_two_handles(tu_join(dir, sizeof dir, root, "two"));
  test_interval(tu_join(dir, sizeof dir, root, "interval"));
  test_cache(tu_join(dir, sizeof dir, root, "cache"));
  test_kills(root);
  if (check_failures == 0)
    tu_remove_tree(root);
  else
    fprintf(stderr, "left %s for inspection\n", root);
  return check_report();
}

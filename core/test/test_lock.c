/*
 * test_lock.c -- one writer per directory, readers beside it.
 *
 *  - A second writer in the same process gets CASKDB_ELOCKED at once, and
 *    its failed open does not release the first writer's lock.
 *  - A writer in another process (a forked child) gets CASKDB_ELOCKED; once
 *    the writer closed, the child can open it, including a child that was
 *    forked while the writer was open; and the other way round.
 *  - A read-only handle takes no lock, opens beside a writer, sees the data
 *    as of its own open (not later writes, not later files) and refuses
 *    put/delete with CASKDB_EREADONLY.
 *  - A missing directory: CASKDB_ENOENT for a read-only open and for
 *    create = 0, and nothing is created.
 *
 * Children report through their exit status; the parent waits for them
 * with waitpid, and the two sides step each other on with pipes (no
 * sleeps).
 */
#include "check.h"
#include "testutil.h"

#include <sys/wait.h>

static char tmpdir[256];

static const char *db_path(const char *name) {
  static char path[512];
  return tu_join(path, sizeof path, tmpdir, name);
}

/* Try to open `path` as a writer; the code, and the handle closed again. */
static int try_writer(const char *path) {
  caskdb *db = NULL;
  int rc = caskdb_open(path, NULL, &db, NULL, 0);
  if (rc == CASKDB_OK)
    caskdb_close(db);
  return rc;
}

/* Exit statuses of the children. */
#define CHILD_OK 0
#define CHILD_WRONG 1 /* + 10 * step where it went wrong */

/* Wait for child pid and return its exit status (-1 if it did not exit). */
static int wait_child(pid_t pid) {
  int status;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* In a child: open as a writer and exit with 0 if the code is `want`. */
static int child_expect_open(const char *path, int want) {
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0)
    _exit(try_writer(path) == want ? CHILD_OK : CHILD_WRONG);
  return wait_child(pid);
}

static void pipe_send(int fd) {
  char c = 'x';
  REQUIRE(write(fd, &c, 1) == 1);
}

static int pipe_wait(int fd) {
  char c;
  return read(fd, &c, 1) == 1;
}

static void second_writer_same_process(void) {
  const char *path = db_path("same-process");
  caskdb *w = tu_open(path, NULL);
  caskdb_options o;
  caskdb *other = (caskdb *)&o; /* open must store NULL on failure */
  char err[256];
  caskdb_options_init(&o);
  CHECK_EQ(caskdb_put(w, tu_skey("k"), "v", 1, NULL), CASKDB_OK);
  CHECK_EQ(caskdb_open(path, &o, &other, err, sizeof err), CASKDB_ELOCKED);
  CHECK(other == NULL);
  CHECK(strstr(err, "lock") != NULL);
  CHECK(strstr(err, path) != NULL);
  /* Twice, and with salvage: still locked. */
  o.salvage = 1;
  CHECK_EQ(caskdb_open(path, &o, &other, NULL, 0), CASKDB_ELOCKED);
  CHECK_EQ(try_writer(path), CASKDB_ELOCKED);
  /* The failed opens did not release the lock: another process is still
   * kept out, and the writer still works. */
  CHECK_EQ(child_expect_open(path, CASKDB_ELOCKED), CHILD_OK);
  CHECK_EQ(caskdb_put(w, tu_skey("k2"), "v2", 2, NULL), CASKDB_OK);
  CHECK(tu_holds(w, tu_skey("k"), "v", 1));
  CHECK_EQ(caskdb_close(w), CASKDB_OK);
  /* Closed: the next writer gets in, and sees both keys. */
  w = tu_open(path, NULL);
  CHECK(tu_holds(w, tu_skey("k"), "v", 1));
  CHECK(tu_holds(w, tu_skey("k2"), "v2", 2));
  CHECK_EQ(caskdb_close(w), CASKDB_OK);
}

/* A child forked while the parent writes is kept out; once the parent has
 * closed, a child gets in, both a new one and the one that was kept out. */
static void writer_in_child(void) {
  const char *path = db_path("child");
  caskdb *w = tu_open(path, NULL);
  int to_child[2], to_parent[2];
  pid_t pid;
  int status;
  CHECK_EQ(caskdb_put(w, tu_skey("parent"), "1", 1, NULL), CASKDB_OK);

  REQUIRE(pipe(to_child) == 0 && pipe(to_parent) == 0);
  pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    caskdb *db = NULL;
    int rc;
    close(to_child[1]);
    close(to_parent[0]);
    /* Step 1: the parent is the writer. */
    if (try_writer(path) != CASKDB_ELOCKED)
      _exit(CHILD_WRONG + 10);
    pipe_send(to_parent[1]);
    /* Step 2: the parent has closed its writer. */
    if (!pipe_wait(to_child[0]))
      _exit(CHILD_WRONG + 20);
    rc = caskdb_open(path, NULL, &db, NULL, 0);
    if (rc != CASKDB_OK)
      _exit(CHILD_WRONG + 30 + (rc == CASKDB_ELOCKED));
    if (caskdb_put(db, tu_skey("child"), "2", 1, NULL) != CASKDB_OK ||
        !tu_holds(db, tu_skey("parent"), "1", 1))
      _exit(CHILD_WRONG + 40);
    if (caskdb_close(db) != CASKDB_OK)
      _exit(CHILD_WRONG + 50);
    _exit(CHILD_OK);
  }
  close(to_child[0]);
  close(to_parent[1]);
  REQUIRE(pipe_wait(to_parent[0]));
  CHECK_EQ(caskdb_close(w), CASKDB_OK);
  pipe_send(to_child[1]);
  status = wait_child(pid);
  if (status == CHILD_WRONG + 31)
    fprintf(stderr, "a child forked while the parent was the writer is "
                    "still locked out after the parent closed: it "
                    "inherited the lock file's descriptor\n");
  CHECK_EQ(status, CHILD_OK);
  close(to_child[1]);
  close(to_parent[0]);

  /* A child forked after the close gets in. */
  pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    caskdb *db = NULL;
    if (caskdb_open(path, NULL, &db, NULL, 0) != CASKDB_OK)
      _exit(CHILD_WRONG);
    if (caskdb_put(db, tu_skey("child2"), "3", 1, NULL) != CASKDB_OK)
      _exit(CHILD_WRONG + 10);
    _exit(caskdb_close(db) == CASKDB_OK ? CHILD_OK : CHILD_WRONG + 20);
  }
  CHECK_EQ(wait_child(pid), CHILD_OK);

  w = tu_open(path, NULL);
  CHECK(tu_holds(w, tu_skey("parent"), "1", 1));
  CHECK(tu_holds(w, tu_skey("child2"), "3", 1));
  CHECK_EQ(caskdb_close(w), CASKDB_OK);
}

/* The child is the writer: the parent is kept out until the child closes
 * (and exits). */
static void writer_is_child(void) {
  const char *path = db_path("child-writer");
  int to_child[2], to_parent[2];
  caskdb *w;
  pid_t pid;
  REQUIRE(pipe(to_child) == 0 && pipe(to_parent) == 0);
  pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    caskdb *db = NULL;
    close(to_child[1]);
    close(to_parent[0]);
    if (caskdb_open(path, NULL, &db, NULL, 0) != CASKDB_OK)
      _exit(CHILD_WRONG);
    if (caskdb_put(db, tu_skey("from-child"), "c", 1, NULL) != CASKDB_OK)
      _exit(CHILD_WRONG + 10);
    pipe_send(to_parent[1]);
    if (!pipe_wait(to_child[0]))
      _exit(CHILD_WRONG + 20);
    _exit(caskdb_close(db) == CASKDB_OK ? CHILD_OK : CHILD_WRONG + 30);
  }
  close(to_child[0]);
  close(to_parent[1]);
  REQUIRE(pipe_wait(to_parent[0]));
  CHECK_EQ(try_writer(path), CASKDB_ELOCKED);
  {
    /* A reader gets in beside the child's writer and sees its write. */
    caskdb_options o;
    caskdb *r;
    caskdb_options_init(&o);
    o.readonly = 1;
    r = tu_open(path, &o);
    CHECK(tu_holds(r, tu_skey("from-child"), "c", 1));
    CHECK_EQ(caskdb_close(r), CASKDB_OK);
  }
  pipe_send(to_child[1]);
  CHECK_EQ(wait_child(pid), CHILD_OK);
  close(to_child[1]);
  close(to_parent[0]);
  w = tu_open(path, NULL);
  CHECK(tu_holds(w, tu_skey("from-child"), "c", 1));
  CHECK_EQ(caskdb_close(w), CASKDB_OK);
}

static void readonly_beside_writer(void) {
  const char *path = db_path("readonly");
  caskdb_options wo, ro;
  caskdb *w, *r, *r2;
  caskdb_iter *it;
  caskdb_key key;
  caskdb_stats st;
  char k[32], v[200];
  int i, rc, n;

  caskdb_options_init(&wo);
  wo.max_file_size = 4096;
  caskdb_options_init(&ro);
  ro.readonly = 1;
  /* A reader may open before any writer; it locks nothing. */
  w = tu_open(path, &wo);
  CHECK_EQ(caskdb_close(w), CASKDB_OK);
  r = tu_open(path, &ro);
  w = tu_open(path, &wo);
  CHECK_EQ(caskdb_count(r), 0);
  CHECK_EQ(caskdb_close(r), CASKDB_OK);

  CHECK_EQ(caskdb_put(w, tu_skey("a"), "1", 1, NULL), CASKDB_OK);
  CHECK_EQ(caskdb_put(w, tu_skey("b"), "2", 1, NULL), CASKDB_OK);
  CHECK_EQ(caskdb_put(w, caskdb_key_int(7), "seven", 5, NULL), CASKDB_OK);

  r = tu_open(path, &ro);
  CHECK(tu_holds(r, tu_skey("a"), "1", 1));
  CHECK(tu_holds(r, tu_skey("b"), "2", 1));
  CHECK(tu_holds(r, caskdb_key_int(7), "seven", 5));
  CHECK_EQ(caskdb_count(r), 3);

  /* Later writes, a delete, and enough data for several new files. */
  CHECK_EQ(caskdb_put(w, tu_skey("a"), "3", 1, NULL), CASKDB_OK);
  CHECK_EQ(caskdb_put(w, tu_skey("d"), "4", 1, NULL), CASKDB_OK);
  CHECK_EQ(caskdb_delete(w, tu_skey("b")), CASKDB_OK);
  memset(v, 'v', sizeof v);
  for (i = 0; i < 100; i++) {
    snprintf(k, sizeof k, "later-%03d", i);
    CHECK_EQ(caskdb_put(w, tu_skey(k), v, sizeof v, NULL), CASKDB_OK);
  }
  CHECK(tu_stats(w).data_files >= 4);

  /* The reader still sees the database as of its open. */
  CHECK(tu_holds(r, tu_skey("a"), "1", 1));
  CHECK(tu_holds(r, tu_skey("b"), "2", 1));
  CHECK(tu_holds(r, caskdb_key_int(7), "seven", 5));
  CHECK_EQ(caskdb_exists(r, tu_skey("d")), CASKDB_ENOTFOUND);
  CHECK_EQ(caskdb_exists(r, tu_skey("later-000")), CASKDB_ENOTFOUND);
  CHECK_EQ(caskdb_count(r), 3);
  st = tu_stats(r);
  CHECK_EQ(st.keys, 3);
  REQUIRE(caskdb_iter_open(r, NULL, &it) == CASKDB_OK);
  n = 0;
  while ((rc = caskdb_iter_next(it, &key, NULL, NULL, NULL)) == CASKDB_OK)
    n++;
  CHECK_EQ(rc, CASKDB_DONE);
  CHECK_EQ(n, 3);
  caskdb_iter_close(it);

  /* It refuses writes, and changes nothing trying. */
  CHECK_EQ(caskdb_put(r, tu_skey("x"), "y", 1, NULL), CASKDB_EREADONLY);
  CHECK(caskdb_errmsg(r)[0] != '\0');
  CHECK_EQ(caskdb_put(r, tu_skey("a"), "y", 1, NULL), CASKDB_EREADONLY);
  CHECK_EQ(caskdb_delete(r, tu_skey("a")), CASKDB_EREADONLY);
  CHECK_EQ(caskdb_delete(r, tu_skey("missing")), CASKDB_EREADONLY);
  CHECK_EQ(caskdb_sync(r), CASKDB_OK);
  CHECK(tu_holds(r, tu_skey("a"), "1", 1));
  CHECK(tu_holds(w, tu_skey("a"), "3", 1));
  CHECK_EQ(caskdb_exists(w, tu_skey("x")), CASKDB_ENOTFOUND);

  /* A second reader, opened now, sees the new state. */
  r2 = tu_open(path, &ro);
  CHECK(tu_holds(r2, tu_skey("a"), "3", 1));
  CHECK(tu_holds(r2, tu_skey("d"), "4", 1));
  CHECK_EQ(caskdb_exists(r2, tu_skey("b")), CASKDB_ENOTFOUND);
  CHECK(tu_holds(r2, tu_skey("later-099"), v, sizeof v));
  CHECK_EQ(caskdb_count(r2), 103);

  /* Closing the readers leaves the writer's lock in place. */
  CHECK_EQ(caskdb_close(r), CASKDB_OK);
  CHECK_EQ(caskdb_close(r2), CASKDB_OK);
  CHECK_EQ(try_writer(path), CASKDB_ELOCKED);
  CHECK_EQ(child_expect_open(path, CASKDB_ELOCKED), CHILD_OK);
  CHECK_EQ(caskdb_put(w, tu_skey("e"), "5", 1, NULL), CASKDB_OK);
  CHECK_EQ(caskdb_close(w), CASKDB_OK);
  CHECK_EQ(child_expect_open(path, CASKDB_OK), CHILD_OK);
}

static void missing_directory(void) {
  const char *path = db_path("missing");
  caskdb_options o;
  caskdb *db = (caskdb *)&o;
  char err[256], deep[600];

  caskdb_options_init(&o);
  o.readonly = 1;
  CHECK_EQ(caskdb_open(path, &o, &db, err, sizeof err), CASKDB_ENOENT);
  CHECK(db == NULL);
  CHECK(err[0] != '\0');
  CHECK(!tu_exists(path));
  /* Read-only wins over create. */
  o.create = 1;
  CHECK_EQ(caskdb_open(path, &o, &db, NULL, 0), CASKDB_ENOENT);
  CHECK(!tu_exists(path));

  caskdb_options_init(&o);
  o.create = 0;
  db = (caskdb *)&o;
  CHECK_EQ(caskdb_open(path, &o, &db, err, sizeof err), CASKDB_ENOENT);
  CHECK(db == NULL);
  CHECK(!tu_exists(path));

  /* create = 1 makes the directory, but not its parents. */
  tu_join(deep, sizeof deep, path, "deeper");
  o.create = 1;
  CHECK_EQ(caskdb_open(deep, &o, &db, NULL, 0), CASKDB_ENOENT);
  CHECK(db == NULL);
  CHECK(!tu_exists(path));
  db = tu_open(path, &o);
  CHECK_EQ(caskdb_close(db), CASKDB_OK);
  CHECK(tu_exists(path));
  /* Now it exists, create = 0 and read-only both open it. */
  o.create = 0;
  db = tu_open(path, &o);
  CHECK_EQ(caskdb_close(db), CASKDB_OK);
  o.readonly = 1;
  db = tu_open(path, &o);
  CHECK_EQ(caskdb_count(db), 0);
  CHECK_EQ(caskdb_put(db, tu_skey("k"), "v", 1, NULL), CASKDB_EREADONLY);
  CHECK_EQ(caskdb_close(db), CASKDB_OK);
}

int main(void) {
  tu_make_tmpdir(tmpdir, sizeof tmpdir, "lock");
  second_writer_same_process();
  writer_in_child();
  writer_is_child();
  readonly_beside_writer();
  missing_directory();
  tu_remove_tree(tmpdir);
  return check_report();
}

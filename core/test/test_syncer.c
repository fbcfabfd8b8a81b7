/*
 * test_syncer.c -- sync = "interval" syncs a burst of writes followed by
 * silence within the interval (a background thread), and a failed
 * background sync stops the handle's writes.
 */
#include "caskdb.h"
#include "check.h"
#include "os.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static atomic_int syncs;
static atomic_int fail_syncs;

static int counting_fdatasync(int fd) {
  atomic_fetch_add(&syncs, 1);
  if (atomic_load(&fail_syncs)) {
    errno = EIO;
    return -1;
  }
  return cdb_os_posix.fdatasync(fd);
}

static void sleep_ms(int ms) {
  struct timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (long)(ms % 1000) * 1000000L;
  nanosleep(&ts, NULL);
}

/* Wait up to `limit_ms` for the sync count to pass `n`. */
static int syncs_pass(int n, int limit_ms) {
  int waited;
  for (waited = 0; waited < limit_ms; waited += 5) {
    if (atomic_load(&syncs) > n)
      return 1;
    sleep_ms(5);
  }
  return 0;
}

/* Wait until the sync count stays still for 300 ms (at most 5 s). */
static void quiesce(void) {
  int waited = 0, last = -1;
  while (waited < 5000 && atomic_load(&syncs) != last) {
    last = atomic_load(&syncs);
    sleep_ms(300);
    waited += 300;
  }
}

int main(void) {
  char dir[] = "/tmp/caskdb-test-syncer-XXXXXX";
  char path[300], cmd[400];
  cdb_os_table table = cdb_os_posix;
  caskdb_options o;
  caskdb *db = NULL;
  int before;
  REQUIRE(mkdtemp(dir) != NULL);
  snprintf(path, sizeof path, "%s/db", dir);
  table.fdatasync = counting_fdatasync;
  cdb_os_set(&table);

  caskdb_options_init(&o);
  o.sync = CASKDB_SYNC_INTERVAL;
  o.sync_interval_ms = 50;
  REQUIRE(caskdb_open(path, &o, &db, NULL, 0) == CASKDB_OK);
  /* A burst, then silence: the thread syncs it within about an interval
   * (the wait allows a loaded machine far more). */
  before = atomic_load(&syncs);
  CHECK_EQ(caskdb_put(db, caskdb_key_int(1), "a", 1, NULL), CASKDB_OK);
  CHECK_EQ(caskdb_put(db, caskdb_key_int(2), "b", 1, NULL), CASKDB_OK);
  CHECK(syncs_pass(before, 5000));
  /* Once it has caught up, nothing is pending: no more syncs. */
  quiesce();
  before = atomic_load(&syncs);
  sleep_ms(200);
  CHECK_EQ(atomic_load(&syncs), before);
  /* A failing background sync: the next write says so.  (This put comes
   * more than an interval after the last sync, so it syncs itself; the
   * next one, right after, leaves its sync to the thread.) */
  CHECK_EQ(caskdb_put(db, caskdb_key_int(5), "e", 1, NULL), CASKDB_OK);
  atomic_store(&fail_syncs, 1);
  before = atomic_load(&syncs);
  CHECK_EQ(caskdb_put(db, caskdb_key_int(3), "c", 1, NULL), CASKDB_OK);
  CHECK(syncs_pass(before, 5000));
  quiesce();
  CHECK_EQ(caskdb_put(db, caskdb_key_int(4), "d", 1, NULL), CASKDB_EFAILED);
  atomic_store(&fail_syncs, 0);
  caskdb_close(db);

  /* Reopened: what was acknowledged is there. */
  REQUIRE(caskdb_open(path, &o, &db, NULL, 0) == CASKDB_OK);
  CHECK_EQ(caskdb_exists(db, caskdb_key_int(1)), CASKDB_OK);
  CHECK_EQ(caskdb_exists(db, caskdb_key_int(5)), CASKDB_OK);
  CHECK_EQ(caskdb_exists(db, caskdb_key_int(4)), CASKDB_ENOTFOUND);
  caskdb_close(db);
  cdb_os_set(NULL);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", dir);
  return check_report();
}

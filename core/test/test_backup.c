/*
 * test_backup.c -- caskdb_backup: the copy opens to exactly the writes
 * acknowledged before it, later writes to either side do not leak into the
 * other, and it works from a read-only handle and across a merge.
 */
#include "caskdb.h"
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[256];

static void path_of(char *out, size_t n, const char *name) {
  snprintf(out, n, "%s/%s", tmpdir, name);
}

static caskdb *open_db(const char *path, const caskdb_options *o) {
  caskdb *db = NULL;
  char err[256];
  int rc = caskdb_open(path, o, &db, err, sizeof err);
  if (rc != CASKDB_OK)
    fprintf(stderr, "open %s: %s (%s)\n", path, caskdb_code_name(rc), err);
  REQUIRE(rc == CASKDB_OK);
  return db;
}

static int value_is(caskdb *db, int k, int version) {
  char want[32];
  const void *v;
  size_t vlen;
  snprintf(want, sizeof want, "v%d-%d", k, version);
  return caskdb_get(db, caskdb_key_int(k), &v, &vlen, NULL) == CASKDB_OK &&
         vlen == strlen(want) && memcmp(v, want, vlen) == 0;
}

static int put_version(caskdb *db, int k, int version) {
  char val[32];
  snprintf(val, sizeof val, "v%d-%d", k, version);
  return caskdb_put(db, caskdb_key_int(k), val, strlen(val), NULL) == CASKDB_OK;
}

static void test_backup_is_a_snapshot(void) {
  char src[300], dst[300], dst2[300];
  caskdb_options o;
  caskdb *db, *copy;
  caskdb_batch *b;
  int k, ok = 1;
  path_of(src, sizeof src, "src");
  path_of(dst, sizeof dst, "backup");
  path_of(dst2, sizeof dst2, "backup2");
  caskdb_options_init(&o);
  o.max_file_size = 8192; /* several files: links and a copy */
  db = open_db(src, &o);
  for (k = 0; k < 1000; k++)
    ok &= put_version(db, k, 1);
  for (k = 0; k < 1000; k += 3)
    ok &= caskdb_delete(db, caskdb_key_int(k)) == CASKDB_OK;
  REQUIRE(caskdb_batch_new(&b) == CASKDB_OK);
  caskdb_batch_put(b, caskdb_key_int(5000), "batch", 5, NULL);
  caskdb_batch_put(b, caskdb_key_int(5001), "batch", 5, NULL);
  CHECK_EQ(caskdb_batch_commit(db, b), CASKDB_OK);
  caskdb_batch_free(b);
  CHECK(ok);
  CHECK_EQ(caskdb_backup(db, dst), CASKDB_OK);
  CHECK_EQ(caskdb_backup(db, dst), CASKDB_EINVAL); /* exists */
  /* Writes after the backup stay out of it. */
  for (k = 0; k < 1000; k++)
    ok &= put_version(db, k, 2);
  CHECK_EQ(caskdb_merge(db), CASKDB_OK);
  copy = open_db(dst, &o);
  for (k = 0; k < 1000; k++)
    ok &= k % 3 == 0
              ? caskdb_exists(copy, caskdb_key_int(k)) == CASKDB_ENOTFOUND
              : value_is(copy, k, 1);
  ok &= caskdb_exists(copy, caskdb_key_int(5000)) == CASKDB_OK;
  ok &= caskdb_exists(copy, caskdb_key_int(5001)) == CASKDB_OK;
  CHECK(ok);
  CHECK_EQ(caskdb_count(copy), 1000 - 334 + 2);
  /* Writing to the copy does not touch the source. */
  ok &= put_version(copy, 1, 9);
  CHECK_EQ(caskdb_merge(copy), CASKDB_OK);
  caskdb_close(copy);
  ok &= value_is(db, 1, 2);
  for (k = 0; k < 1000; k++)
    ok &= value_is(db, k, 2);
  CHECK(ok);
  caskdb_close(db);

  /* From a read-only handle, beside a writer. */
  db = open_db(src, &o);
  {
    caskdb_options ro;
    caskdb *reader;
    caskdb_options_init(&ro);
    ro.readonly = 1;
    reader = open_db(src, &ro);
    ok &= put_version(db, 7, 3); /* after the reader's open */
    CHECK_EQ(caskdb_backup(reader, dst2), CASKDB_OK);
    caskdb_close(reader);
  }
  caskdb_close(db);
  copy = open_db(dst2, &o);
  CHECK(value_is(copy, 7, 2));
  CHECK(value_is(copy, 8, 2));
  caskdb_close(copy);
}

int main(void) {
  char cmd[300];
  snprintf(tmpdir, sizeof tmpdir, "/tmp/caskdb-test-backup-XXXXXX");
  REQUIRE(mkdtemp(tmpdir) != NULL);
  test_backup_is_a_snapshot();
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", tmpdir);
  return check_report();
}

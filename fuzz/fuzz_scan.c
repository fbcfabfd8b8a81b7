/*
 * fuzz_scan.c -- opening a directory whose data file is the input: the file
 * header check, the record scanner, torn-tail and batch recovery, salvage.
 *
 * Each input is tried four ways: as the newest (active) file opened by a
 * writer, the same with salvage, read-only, and as an older file (a valid
 * newer file beside it) with and without salvage.  After every successful
 * open, the checks are:
 *  - every key the iterator gives reads back with caskdb_get, and the
 *    iterator gives exactly caskdb_count() keys (the clock is fixed);
 *  - a writer can write and read back a new key;
 *  - a writer's database opens again (recovery left a clean directory) with
 *    the same keys plus the new one.
 */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The valid file that plays the newer one when the input is an older file:
 * the template database's first file, renamed (its header names id 1, so
 * its id field is rewritten below). */
static unsigned char *newer_file;
static size_t newer_len;

static void setup(void) {
  char tdir[300], path[400];
  if (newer_file != NULL)
    return;
  fuzz_install_os();
  snprintf(tdir, sizeof tdir, "%s/template", fuzz_scratch());
  if (mkdir(tdir, 0755) != 0)
    abort();
  fuzz_write_template(tdir);
  fuzz_data_path(path, sizeof path, tdir, 1);
  newer_file = fuzz_read_file(path, &newer_len);
  {
    /* The same file as id 2: new id, new header CRC. */
    cdb_file_header h;
    if (cdb_file_header_decode(newer_file, newer_len, &h) != CDB_DECODE_OK)
      abort();
    h.file_id = 2;
    cdb_file_header_encode(newer_file, &h);
  }
  fuzz_clear_dir(tdir);
  rmdir(tdir);
}

/* Walk every key; each must read back.  Returns the number of keys. */
static uint64_t walk(caskdb *db) {
  caskdb_iter *it;
  caskdb_key k;
  const void *v;
  size_t vlen;
  caskdb_meta m;
  uint64_t n = 0;
  int rc;
  FUZZ_ASSERT(caskdb_iter_open(db, NULL, &it) == CASKDB_OK);
  while ((rc = caskdb_iter_next(it, &k, &v, &vlen, &m)) == CASKDB_OK) {
    unsigned char *key = NULL;
    caskdb_key copy = k;
    const void *v2;
    size_t vlen2;
    if (!k.is_int) {
      key = malloc(k.len + 1);
      FUZZ_ASSERT(key != NULL);
      memcpy(key, k.data, k.len);
      copy = caskdb_key_bytes(key, k.len);
    }
    FUZZ_ASSERT(caskdb_get(db, copy, &v2, &vlen2, NULL) == CASKDB_OK);
    FUZZ_ASSERT(vlen2 == vlen);
    free(key);
    n++;
  }
  FUZZ_ASSERT(rc == CASKDB_DONE);
  caskdb_iter_close(it);
  return n;
}

static void try_open(const char *dir, int salvage, int readonly) {
  caskdb_options o;
  caskdb *db;
  caskdb_key probe = caskdb_key_bytes("fuzz-probe", 10);
  const void *v;
  size_t vlen;
  uint64_t n;
  int rc;
  fuzz_options(&o);
  o.salvage = salvage;
  o.readonly = readonly;
  rc = caskdb_open(dir, &o, &db, NULL, 0);
  if (rc != CASKDB_OK) {
    FUZZ_ASSERT(db == NULL);
    FUZZ_ASSERT(rc == CASKDB_ECORRUPT || rc == CASKDB_EVERSION);
    return;
  }
  n = walk(db);
  FUZZ_ASSERT(n == caskdb_count(db));
  if (readonly) {
    caskdb_close(db);
    return;
  }
  caskdb_delete(db, probe);
  n = caskdb_count(db);
  FUZZ_ASSERT(caskdb_put(db, probe, "p", 1, NULL) == CASKDB_OK);
  FUZZ_ASSERT(caskdb_get(db, probe, &v, &vlen, NULL) == CASKDB_OK);
  FUZZ_ASSERT(vlen == 1 && memcmp(v, "p", 1) == 0);
  FUZZ_ASSERT(caskdb_close(db) == CASKDB_OK);
  /* Recovery left a directory that opens again, holding the same keys. */
  rc = caskdb_open(dir, &o, &db, NULL, 0);
  FUZZ_ASSERT(rc == CASKDB_OK);
  FUZZ_ASSERT(caskdb_count(db) == n + 1);
  FUZZ_ASSERT(walk(db) == n + 1);
  FUZZ_ASSERT(caskdb_get(db, probe, &v, &vlen, NULL) == CASKDB_OK);
  caskdb_close(db);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char dir[300], path[400];
  int way;
  setup();
  snprintf(dir, sizeof dir, "%s/db", fuzz_scratch());
  mkdir(dir, 0755);
  for (way = 0; way < 5; way++) {
    fuzz_clear_dir(dir);
    fuzz_data_path(path, sizeof path, dir, 1);
    fuzz_write_file(path, data, size);
    if (way >= 3) {
      fuzz_data_path(path, sizeof path, dir, 2);
      fuzz_write_file(path, newer_file, newer_len);
    }
    switch (way) {
    case 0:
      try_open(dir, 0, 0);
      break;
    case 1:
      try_open(dir, 1, 0);
      break;
    case 2:
      try_open(dir, 0, 1);
      break;
    case 3:
      try_open(dir, 0, 0);
      break;
    default:
      try_open(dir, 1, 0);
      break;
    }
  }
  fuzz_clear_dir(dir);
  return 0;
}

/*
 * fuzz_hint.c -- hint files: the input is the hint of an immutable data
 * file, which an open trusts instead of reading the data file.
 *
 * A database of two files is written once (file 1 full and immutable, with
 * the hint the engine wrote for it at rotation); for each input the files
 * are put back and the input replaces 0000000001.hint.  The bar: the open
 * succeeds (a bad hint is ignored: the data file is read instead) or fails
 * with CASKDB_ECORRUPT; every key the iterator gives reads back with
 * caskdb_get as CASKDB_OK or CASKDB_ECORRUPT (a hint whose CRC holds but
 * that lies about a position), never a crash or a value from outside its
 * record; and the directory opens again afterwards.
 */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[300];
static unsigned char *file1, *file2;
static size_t len1, len2;

static void setup(void) {
  caskdb_options o;
  caskdb *db;
  char path[400], v[1500];
  int i;
  if (file1 != NULL)
    return;
  fuzz_install_os();
  snprintf(dir, sizeof dir, "%s/db", fuzz_scratch());
  if (mkdir(dir, 0755) != 0)
    abort();
  fuzz_options(&o);
  if (caskdb_open(dir, &o, &db, NULL, 0) != CASKDB_OK)
    abort();
  memset(v, 'h', sizeof v);
  for (i = 0; i < 12; i++) {
    caskdb_meta m;
    memset(&m, 0, sizeof m);
    m.expiry = i % 4 == 1 ? FUZZ_NOW_MS + 5000 : 0;
    if (caskdb_put(db, fuzz_template_key(i % FUZZ_TEMPLATE_KEYS), v,
                   (size_t)(i * 97) % 700, &m) != CASKDB_OK)
      abort();
    if (i == 5 && caskdb_delete(db, fuzz_template_key(1)) != CASKDB_OK)
      abort();
  }
  caskdb_close(db);
  fuzz_data_path(path, sizeof path, dir, 1);
  file1 = fuzz_read_file(path, &len1);
  fuzz_data_path(path, sizeof path, dir, 2);
  file2 = fuzz_read_file(path, &len2);
}

static void walk(caskdb *db) {
  caskdb_iter *it;
  caskdb_key k;
  int rc, n = 0;
  FUZZ_ASSERT(caskdb_iter_open(db, NULL, &it) == CASKDB_OK);
  while ((rc = caskdb_iter_next(it, &k, NULL, NULL, NULL)) == CASKDB_OK ||
         rc == CASKDB_ECORRUPT) {
    if (rc == CASKDB_OK) {
      unsigned char *key = NULL;
      caskdb_key copy = k;
      const void *v;
      size_t vlen;
      if (!k.is_int) {
        key = malloc(k.len + 1);
        FUZZ_ASSERT(key != NULL);
        memcpy(key, k.data, k.len);
        copy = caskdb_key_bytes(key, k.len);
      }
      rc = caskdb_get(db, copy, &v, &vlen, NULL);
      FUZZ_ASSERT(rc == CASKDB_OK || rc == CASKDB_ECORRUPT ||
                  rc == CASKDB_ENOTFOUND);
      free(key);
    }
    FUZZ_ASSERT(++n < 100000);
  }
  FUZZ_ASSERT(rc == CASKDB_DONE);
  caskdb_iter_close(it);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  caskdb_options o;
  caskdb *db;
  char path[400], name[CDB_FILE_NAME_MAX];
  int rc;
  setup();
  fuzz_clear_dir(dir);
  fuzz_data_path(path, sizeof path, dir, 1);
  fuzz_write_file(path, file1, len1);
  fuzz_data_path(path, sizeof path, dir, 2);
  fuzz_write_file(path, file2, len2);
  cdb_file_name(name, 1, 0, CDB_HINT_SUFFIX);
  snprintf(path, sizeof path, "%s/%s", dir, name);
  fuzz_write_file(path, data, size);
  fuzz_options(&o);
  rc = caskdb_open(dir, &o, &db, NULL, 0);
  if (rc != CASKDB_OK) {
    FUZZ_ASSERT(rc == CASKDB_ECORRUPT);
    return 0;
  }
  walk(db);
  caskdb_close(db);
  rc = caskdb_open(dir, &o, &db, NULL, 0);
  FUZZ_ASSERT(rc == CASKDB_OK);
  walk(db);
  caskdb_close(db);
  return 0;
}

/*
 * fuzz_get.c -- reading single records after open: caskdb_get and the
 * iterator over records whose bytes changed after the keydir was built.
 *
 * The template database (fuzz_util.h) is opened read-only, so the keydir
 * points at its records; then the input replaces everything after the file
 * header (the file may grow or shrink), and every template key is read.
 * The bar: no crash, no sanitizer report; each read gives CASKDB_OK,
 * CASKDB_ENOTFOUND (expired), CASKDB_ECORRUPT or CASKDB_EIO (the file got
 * shorter), and a value it gives is exactly as long as its record says.
 * The seed is the template's own body, byte for byte.
 */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[300];
static unsigned char *template_file;
static size_t template_len;

static void setup(void) {
  char path[400];
  if (template_file != NULL)
    return;
  fuzz_install_os();
  snprintf(dir, sizeof dir, "%s/db", fuzz_scratch());
  if (mkdir(dir, 0755) != 0)
    abort();
  fuzz_write_template(dir);
  fuzz_data_path(path, sizeof path, dir, 1);
  template_file = fuzz_read_file(path, &template_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  caskdb_options o;
  caskdb *db;
  caskdb_iter *it;
  caskdb_key k;
  const void *v;
  size_t vlen;
  char path[400];
  int fd, i, rc;
  setup();
  fuzz_options(&o);
  o.readonly = 1;
  fuzz_data_path(path, sizeof path, dir, 1);
  fuzz_write_file(path, template_file, template_len);
  FUZZ_ASSERT(caskdb_open(dir, &o, &db, NULL, 0) == CASKDB_OK);
  /* Replace the body under the open handle. */
  fd = open(path, O_WRONLY | O_TRUNC);
  FUZZ_ASSERT(fd >= 0);
  FUZZ_ASSERT(pwrite(fd, template_file, CDB_FILE_HEADER_SIZE, 0) ==
              CDB_FILE_HEADER_SIZE);
  FUZZ_ASSERT(size == 0 ||
              pwrite(fd, data, size, CDB_FILE_HEADER_SIZE) == (ssize_t)size);
  close(fd);
  for (i = 0; i < FUZZ_TEMPLATE_KEYS; i++) {
    caskdb_meta m;
    rc = caskdb_get(db, fuzz_template_key(i), &v, &vlen, &m);
    FUZZ_ASSERT(rc == CASKDB_OK || rc == CASKDB_ENOTFOUND ||
                rc == CASKDB_ECORRUPT || rc == CASKDB_EIO);
    if (rc == CASKDB_OK)
      FUZZ_ASSERT(((const unsigned char *)v)[vlen] == '\0');
  }
  FUZZ_ASSERT(caskdb_iter_open(db, NULL, &it) == CASKDB_OK);
  for (i = 0; i < 2 * FUZZ_TEMPLATE_KEYS; i++) {
    rc = caskdb_iter_next(it, &k, &v, &vlen, NULL);
    if (rc == CASKDB_DONE)
      break;
    FUZZ_ASSERT(rc == CASKDB_OK || rc == CASKDB_ECORRUPT || rc == CASKDB_EIO);
  }
  FUZZ_ASSERT(rc == CASKDB_DONE);
  caskdb_iter_close(it);
  caskdb_close(db);
  return 0;
}

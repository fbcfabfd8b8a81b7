/*
 * fuzz_util.h -- what the fuzz targets share: a scratch directory, a file
 * system table without fsyncs, and the small databases the seed corpora
 * and fuzz_get start from.
 *
 * Header-only (static inline functions); each target is one .c file.
 */
#ifndef CASKDB_FUZZ_UTIL_H
#define CASKDB_FUZZ_UTIL_H

#include "caskdb.h"
#include "datafile.h"
#include "os.h"
#include "record.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Stop at once on a broken invariant: libFuzzer reports it as a crash. */
#define FUZZ_ASSERT(cond)                                                      \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__,     \
              #cond);                                                          \
      abort();                                                                 \
    }                                                                          \
  } while (0)

/* The clock every fuzzed database runs on: a fixed instant, so that an
 * input behaves the same on every run (expiry included). */
#define FUZZ_NOW_MS 1700000000000ull

static inline uint64_t fuzz_clock(void *ctx) {
  (void)ctx;
  return FUZZ_NOW_MS;
}

static inline void fuzz_options(caskdb_options *o) {
  caskdb_options_init(o);
  o->clock = fuzz_clock;
  o->max_file_size = CASKDB_MIN_FILE_SIZE;
}

/* ---- a file system without durability ---------------------------------------
 * Fuzzing checks parsing, not durability: the syncs are no-ops, which makes
 * an open a hundred times cheaper on a real disk. */

static inline int fuzz_nosync_fd(int fd) {
  (void)fd;
  return 0;
}

static inline int fuzz_nosync_dir(const char *path) {
  (void)path;
  return 0;
}

static cdb_os_table fuzz_os;

static inline void fuzz_install_os(void) {
  fuzz_os = cdb_os_posix;
  fuzz_os.fdatasync = fuzz_nosync_fd;
  fuzz_os.sync_dir = fuzz_nosync_dir;
  cdb_os_set(&fuzz_os);
}

/* ---- the scratch directory ---------------------------------------------- */

static char fuzz_dir[256];

static inline void fuzz_clear_dir(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *de;
  char path[1024];
  if (d == NULL)
    return;
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    unlink(path);
  }
  closedir(d);
}

static inline void fuzz_remove_dir(void) {
  if (fuzz_dir[0] != '\0') {
    fuzz_clear_dir(fuzz_dir);
    rmdir(fuzz_dir);
  }
}

/* Make the scratch directory once per process (in /dev/shm when there is
 * one) and remove it at exit. */
static const char *fuzz_scratch(void) {
  struct stat st;
  if (fuzz_dir[0] != '\0')
    return fuzz_dir;
  snprintf(fuzz_dir, sizeof fuzz_dir, "%s/caskdb-fuzz-XXXXXX",
           stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm"
                                                             : "/tmp");
  if (mkdtemp(fuzz_dir) == NULL)
    abort();
  atexit(fuzz_remove_dir);
  return fuzz_dir;
}

static inline void fuzz_data_path(char *out, size_t n, const char *dir,
                                  uint32_t id) {
  char name[CDB_FILE_NAME_MAX];
  cdb_file_name(name, id, 0, CDB_DATA_SUFFIX);
  if (snprintf(out, n, "%s/%s", dir, name) >= (int)n)
    abort();
}

static inline void fuzz_write_file(const char *path, const void *data,
                                   size_t n) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const char *p = data;
  if (fd < 0)
    abort();
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w <= 0)
      abort();
    p += w;
    n -= (size_t)w;
  }
  close(fd);
}

/* Read a whole file into a malloc'd buffer. */
static inline unsigned char *fuzz_read_file(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY);
  struct stat st;
  unsigned char *buf;
  size_t got = 0;
  if (fd < 0 || fstat(fd, &st) < 0)
    abort();
  buf = malloc((size_t)st.st_size + 1);
  if (buf == NULL)
    abort();
  while (got < (size_t)st.st_size) {
    ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
    if (r <= 0)
      abort();
    got += (size_t)r;
  }
  close(fd);
  *len = got;
  return buf;
}

/* ---- the template database -------------------------------------------------
 * Keys of every kind and values of every size class the format has: the
 * empty key, byte and integer keys, an empty value, a value with a type tag
 * and flags, one that has expired and one that will, an overwrite and a
 * delete.  Written by the engine with the fixed clock, so byte for byte the
 * same every time. */

#define FUZZ_TEMPLATE_KEYS 8

static inline caskdb_key fuzz_template_key(int i) {
  static const char *names[] = {"", "a", "hello", "user:42", "zz"};
  if (i < 5)
    return caskdb_key_bytes(names[i], strlen(names[i]));
  return caskdb_key_int(i == 5 ? -7 : i == 6 ? 0 : INT64_MAX);
}

/* Write the template database into dir (which must be empty). */
static inline void fuzz_write_template(const char *dir) {
  caskdb_options o;
  caskdb *db;
  caskdb_meta m;
  char big[300];
  int i;
  fuzz_options(&o);
  if (caskdb_open(dir, &o, &db, NULL, 0) != CASKDB_OK)
    abort();
  memset(big, 'v', sizeof big);
  for (i = 0; i < FUZZ_TEMPLATE_KEYS; i++) {
    memset(&m, 0, sizeof m);
    m.type = (uint8_t)(i * 37);
    m.flags = (uint32_t)i * 0x01010101u;
    if (i == 2)
      m.expiry = FUZZ_NOW_MS + 1000000; /* will expire */
    if (caskdb_put(db, fuzz_template_key(i), big, (size_t)(i * 40) % 300, &m) !=
        CASKDB_OK)
      abort();
  }
  m.expiry = FUZZ_NOW_MS - 1; /* already expired: hides the old value */
  if (caskdb_put(db, fuzz_template_key(4), "x", 1, &m) != CASKDB_OK)
    abort();
  if (caskdb_put(db, fuzz_template_key(1), "second", 6, NULL) != CASKDB_OK ||
      caskdb_delete(db, fuzz_template_key(3)) != CASKDB_OK)
    abort();
  if (caskdb_close(db) != CASKDB_OK)
    abort();
}

#endif /* CASKDB_FUZZ_UTIL_H */

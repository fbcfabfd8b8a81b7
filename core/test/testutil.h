/*
 * testutil.h -- helpers shared by the scenario tests (recovery, lock,
 * iteration): temporary directories, opening with a REQUIRE, and poking at
 * the files of a database with plain POSIX calls (never through the
 * engine), so that a test can tear, zero or flip bytes the way a crash or a
 * bad disk would.
 *
 * Everything here is `static inline`, so a test that uses only some of it
 * compiles without unused-function warnings.  Include check.h first.
 */
#ifndef CASKDB_TESTUTIL_H
#define CASKDB_TESTUTIL_H

#include "caskdb.h"
#include "check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- temporary directories ----------------------------------------------- */

/* Make a fresh directory /tmp/caskdb-<tag>-XXXXXX into buf. */
static inline void tu_make_tmpdir(char *buf, size_t n, const char *tag) {
  snprintf(buf, n, "/tmp/caskdb-%s-XXXXXX", tag);
  REQUIRE(mkdtemp(buf) != NULL);
}

static inline int tu_remove_entry(const char *path, const struct stat *sb,
                                  int flag, struct FTW *ftw) {
  (void)sb;
  (void)ftw;
  if (flag == FTW_DP)
    return rmdir(path) < 0 ? -1 : 0;
  return unlink(path) < 0 ? -1 : 0;
}

/* Remove a directory and everything in it. */
static inline void tu_remove_tree(const char *dir) {
  if (nftw(dir, tu_remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 &&
      errno != ENOENT)
    fprintf(stderr, "could not remove %s: %s\n", dir, strerror(errno));
}

/* dir + "/" + name into out. */
static inline const char *tu_join(char *out, size_t n, const char *dir,
                                  const char *name) {
  int w = snprintf(out, n, "%s/%s", dir, name);
  REQUIRE(w > 0 && (size_t)w < n);
  return out;
}

/* The name of data file `id`, as FORMAT.md spells it: 0000000001.cask. */
static inline const char *tu_data_name(char *out, size_t n, uint32_t id) {
  snprintf(out, n, "%010u.cask", (unsigned)id);
  return out;
}

/* The path of data file `id` of database `dir` (a static buffer). */
static inline const char *tu_data_path(const char *dir, uint32_t id) {
  static char path[600];
  char name[32];
  return tu_join(path, sizeof path, dir, tu_data_name(name, sizeof name, id));
}

/* ---- opening ------------------------------------------------------------- */

static inline caskdb *tu_open(const char *path, const caskdb_options *o) {
  caskdb *db = NULL;
  char err[512];
  int rc = caskdb_open(path, o, &db, err, sizeof err);
  if (rc != CASKDB_OK)
    fprintf(stderr, "open %s: %s (%s)\n", path, caskdb_code_name(rc), err);
  REQUIRE(rc == CASKDB_OK && db != NULL);
  return db;
}

static inline caskdb_key tu_skey(const char *s) {
  return caskdb_key_bytes(s, strlen(s));
}

/* Does `key` hold exactly the n bytes at want? */
static inline int tu_holds(caskdb *db, caskdb_key key, const void *want,
                           size_t n) {
  const void *v = NULL;
  size_t vlen = 0;
  if (caskdb_get(db, key, &v, &vlen, NULL) != CASKDB_OK)
    return 0;
  return vlen == n && (n == 0 || memcmp(v, want, n) == 0);
}

static inline caskdb_stats tu_stats(caskdb *db) {
  caskdb_stats st;
  REQUIRE(caskdb_get_stats(db, &st) == CASKDB_OK);
  return st;
}

/* ---- files, with plain POSIX calls --------------------------------------- */

static inline int64_t tu_file_size(const char *path) {
  struct stat sb;
  if (stat(path, &sb) < 0)
    return -1;
  return (int64_t)sb.st_size;
}

static inline int tu_exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

/* The whole file in a malloc'd buffer (one spare byte); *len its size. */
static inline unsigned char *tu_read_file(const char *path, size_t *len) {
  int64_t size = tu_file_size(path);
  unsigned char *buf;
  size_t got = 0;
  int fd;
  REQUIRE(size >= 0);
  buf = malloc((size_t)size + 1);
  REQUIRE(buf != NULL);
  fd = open(path, O_RDONLY);
  REQUIRE(fd >= 0);
  while (got < (size_t)size) {
    ssize_t r = read(fd, buf + got, (size_t)size - got);
    REQUIRE(r > 0);
    got += (size_t)r;
  }
  close(fd);
  *len = got;
  return buf;
}

static inline void tu_write_all(int fd, const void *data, size_t n) {
  const unsigned char *p = data;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    REQUIRE(w > 0);
    p += w;
    n -= (size_t)w;
  }
}

/* Replace the file's contents with n bytes of data (creating it). */
static inline void tu_write_file(const char *path, const void *data, size_t n) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(fd >= 0);
  tu_write_all(fd, data, n);
  REQUIRE(close(fd) == 0);
}

static inline void tu_append(const char *path, const void *data, size_t n) {
  int fd = open(path, O_WRONLY | O_APPEND);
  REQUIRE(fd >= 0);
  tu_write_all(fd, data, n);
  REQUIRE(close(fd) == 0);
}

static inline void tu_truncate(const char *path, uint64_t size) {
  REQUIRE(truncate(path, (off_t)size) == 0);
}

/* Overwrite n bytes at off. */
static inline void tu_pwrite(const char *path, uint64_t off, const void *data,
                             size_t n) {
  int fd = open(path, O_WRONLY);
  REQUIRE(fd >= 0);
  REQUIRE(pwrite(fd, data, n, (off_t)off) == (ssize_t)n);
  REQUIRE(close(fd) == 0);
}

/* Overwrite n bytes at off with zeros. */
static inline void tu_zero(const char *path, uint64_t off, size_t n) {
  unsigned char *z = calloc(1, n ? n : 1);
  REQUIRE(z != NULL);
  tu_pwrite(path, off, z, n);
  free(z);
}

/* Flip bit `bit` (0..7) of the byte at off. */
static inline void tu_flip_bit(const char *path, uint64_t off, int bit) {
  unsigned char b;
  int fd = open(path, O_RDWR);
  REQUIRE(fd >= 0);
  REQUIRE(pread(fd, &b, 1, (off_t)off) == 1);
  b ^= (unsigned char)(1u << bit);
  REQUIRE(pwrite(fd, &b, 1, (off_t)off) == 1);
  REQUIRE(close(fd) == 0);
}

/* ---- the record layout (docs/FORMAT.md), decoded here by hand ------------ */

#define TU_FILE_HEADER 24
#define TU_REC_HEADER 36

static inline uint32_t tu_le32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

/* The start offsets of the records of a data file, walking the length
 * fields from the end of the file header; the end of the last one goes in
 * offs[n] (so record i spans offs[i] .. offs[i + 1]).  Returns n. */
static inline size_t tu_record_offsets(const char *path, uint64_t *offs,
                                       size_t max) {
  size_t len, n = 0;
  unsigned char *buf = tu_read_file(path, &len);
  uint64_t off = TU_FILE_HEADER;
  while (off + TU_REC_HEADER <= len && n < max) {
    uint64_t size = TU_REC_HEADER + (uint64_t)tu_le32(buf + off + 28) +
                    tu_le32(buf + off + 32);
    REQUIRE(off + size <= len);
    offs[n++] = off;
    off += size;
  }
  REQUIRE(off == len);
  offs[n] = off;
  free(buf);
  return n;
}

/* ---- snapshots of a directory's files, to restore between fault cases ---- */

#define TU_SNAP_MAX 64

typedef struct tu_snap {
  size_t n;
  char name[TU_SNAP_MAX][64];
  unsigned char *data[TU_SNAP_MAX];
  size_t len[TU_SNAP_MAX];
} tu_snap;

static inline void tu_snap_take(tu_snap *s, const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[600];
  REQUIRE(d != NULL);
  s->n = 0;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    REQUIRE(s->n < TU_SNAP_MAX && strlen(e->d_name) < 64);
    strcpy(s->name[s->n], e->d_name);
    s->data[s->n] =
        tu_read_file(tu_join(path, sizeof path, dir, e->d_name), &s->len[s->n]);
    s->n++;
  }
  closedir(d);
}

/* Make the directory hold exactly the snapshot's files again. */
static inline void tu_snap_restore(const tu_snap *s, const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[600];
  size_t i;
  REQUIRE(d != NULL);
  while ((e = readdir(d)) != NULL) {
    int keep = 0;
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    for (i = 0; i < s->n; i++)
      keep |= strcmp(s->name[i], e->d_name) == 0;
    if (!keep)
      REQUIRE(unlink(tu_join(path, sizeof path, dir, e->d_name)) == 0);
  }
  closedir(d);
  for (i = 0; i < s->n; i++)
    tu_write_file(tu_join(path, sizeof path, dir, s->name[i]), s->data[i],
                  s->len[i]);
}

static inline void tu_snap_free(tu_snap *s) {
  size_t i;
  for (i = 0; i < s->n; i++)
    free(s->data[i]);
  s->n = 0;
}

/* ---- a deterministic generator and an injectable clock ------------------- */

/* xorshift64*: the same sequence for the same seed everywhere. */
static inline uint64_t tu_rand(uint64_t *state) {
  uint64_t x = *state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *state = x;
  return x * UINT64_C(2685821657736338717);
}

/* A clock for caskdb_options.clock: ctx points at a uint64_t of ms. */
static inline uint64_t tu_clock(void *ctx) { return *(const uint64_t *)ctx; }

#endif /* CASKDB_TESTUTIL_H */

/*
 * backup.c -- a consistent copy of an open database.
 *
 * The files a handle reads form a consistent database at every moment
 * between calls: immutable files never change, and the active file holds
 * whole records up to its end.  So a backup takes, in file order, a hard
 * link to each immutable data file (and its hint), and a copy of the
 * active file up to its current end.  Where the file system refuses a link
 * (another device, or the file was deleted meanwhile by a merge in the
 * writer while this is a read-only handle), the file is copied from the
 * descriptor the handle holds.  Unpublished merge outputs are never taken:
 * the merge's inputs hold the same records.
 */
#include "datafile.h"
#include "db.h"
#include "os.h"
#include "shared.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#define COPY_CHUNK (1024 * 1024)

/* Copy the first `size` bytes of open file `fd` to a new file `to`. */
static int copy_prefix(int fd, uint64_t size, const char *to) {
  unsigned char *buf = malloc(COPY_CHUNK);
  uint64_t off = 0;
  int out, rc = 0, err = 0;
  if (buf == NULL) {
    errno = ENOMEM;
    return -1;
  }
  out = cdb_os->open(to, O_RDWR | O_CREAT | O_EXCL, 0644);
  if (out < 0) {
    err = errno;
    free(buf);
    errno = err;
    return -1;
  }
  while (rc == 0 && off < size) {
    size_t want = size - off < COPY_CHUNK ? (size_t)(size - off) : COPY_CHUNK;
    ssize_t got = cdb_os->pread(fd, buf, want, off);
    struct iovec iov;
    if (got <= 0) {
      err = got < 0 ? errno : EIO;
      rc = -1;
      break;
    }
    iov.iov_base = buf;
    iov.iov_len = (size_t)got;
    if (cdb_os->pwritev_all(out, &iov, 1, off) < 0) {
      err = errno;
      rc = -1;
    }
    off += (uint64_t)got;
  }
  if (rc == 0 && cdb_os->fdatasync(out) < 0) {
    err = errno;
    rc = -1;
  }
  cdb_os->close(out);
  free(buf);
  errno = err;
  return rc;
}

/* Link `name` from the database into dest; 0, or -1 with errno. */
static int link_file(const caskdb *db, const char *dest, const char *name) {
  char *from = cdb_path_join(db->path, name);
  char *to = cdb_path_join(dest, name);
  int rc = -1, err = ENOMEM;
  if (from && to) {
    rc = cdb_os->link(from, to);
    err = errno;
  }
  free(from);
  free(to);
  errno = err;
  return rc;
}

/* Take one data file (and its hint, if it has one) into the backup. */
static int back_up_file(caskdb *db, const char *dest, const cdb_file *f,
                        int is_newest) {
  char name[CDB_FILE_NAME_MAX];
  char *to;
  int rc;
  cdb_file_name(name, f->id, f->part, CDB_DATA_SUFFIX);
  if (!is_newest && link_file(db, dest, name) == 0) {
    cdb_file_name(name, f->id, f->part, CDB_HINT_SUFFIX);
    link_file(db, dest, name); /* no hint, or none linked: open reads data */
    return CASKDB_OK;
  }
  /* The active file, which grows (a copy of its whole records so far), or
   * a file that cannot be linked. */
  to = cdb_path_join(dest, name);
  if (to == NULL)
    return cdb_fail(db, CASKDB_ENOMEM, 0, "out of memory");
  rc = copy_prefix(f->fd, f->size, to);
  free(to);
  if (rc < 0)
    return cdb_fail(db, cdb_code_from_errno(errno), errno,
                    "cannot copy %s into the backup %s", name, dest);
  return CASKDB_OK;
}

int caskdb_backup(caskdb *db, const char *dest) {
  uint32_t i;
  int rc = CASKDB_OK, is;
  if (db == NULL || dest == NULL || dest[0] == '\0')
    return CASKDB_EINVAL;
  db->errmsg[0] = '\0';
  is = cdb_os->is_dir(dest);
  if (is != 0)
    return cdb_fail(db, CASKDB_EINVAL, is < 0 ? errno : EEXIST,
                    "backup directory %s must not exist", dest);
  /* Shared mode: no process writes, rotates or deletes a file meanwhile. */
  if (db->sh && (rc = cdb_shared_hold(db)) != CASKDB_OK)
    return rc;
  if (cdb_os->mkdir(dest, 0755) < 0) {
    rc = cdb_fail(db, cdb_code_from_errno(errno), errno,
                  "cannot create backup directory %s", dest);
    if (db->sh)
      cdb_shared_unhold(db);
    return rc;
  }
  /* Unsynced writes of the active file are copied through the page cache;
   * the copy itself is synced below. */
  for (i = 0; i < db->nfiles && rc == CASKDB_OK; i++)
    rc = back_up_file(db, dest, db->slots[db->order[i]], i + 1 == db->nfiles);
  if (rc == CASKDB_OK && cdb_os->sync_dir(dest) < 0)
    rc = cdb_fail(db, CASKDB_EIO, errno, "cannot sync backup directory %s",
                  dest);
  if (db->sh)
    cdb_shared_unhold(db);
  return rc;
}

/*
 * os.c -- the POSIX implementation of the engine's file-system table.
 *
 * Nothing but system calls lives here.  See os.h for the contract.
 */
#include "os.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int posix_open(const char *path, int flags, int mode) {
  int fd;
  do {
    fd = open(path, flags | O_CLOEXEC, (mode_t)mode);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

static int posix_close(int fd) { return close(fd); }

static ssize_t posix_pread(int fd, void *buf, size_t n, uint64_t off) {
  size_t done = 0;
  while (done < n) {
    ssize_t got = pread(fd, (char *)buf + done, n - done, (off_t)(off + done));
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0)
      return -1;
    if (got == 0)
      break;
    done += (size_t)got;
  }
  return (ssize_t)done;
}

/* Skip `n` written bytes in the iovec array, adjusting the first one left. */
static void iov_advance(struct iovec **iov, int *iovcnt, size_t n) {
  while (*iovcnt > 0 && n >= (*iov)->iov_len) {
    n -= (*iov)->iov_len;
    (*iov)++;
    (*iovcnt)--;
  }
  if (*iovcnt > 0) {
    (*iov)->iov_base = (char *)(*iov)->iov_base + n;
    (*iov)->iov_len -= n;
  }
}

static int posix_pwritev_all(int fd, const struct iovec *iov, int iovcnt,
                             uint64_t off) {
  struct iovec local[8];
  struct iovec *cur = local;
  if (iovcnt > 8) {
    errno = EINVAL;
    return -1;
  }
  memcpy(local, iov, sizeof(struct iovec) * (size_t)iovcnt);
  while (iovcnt > 0) {
    ssize_t n = pwritev(fd, cur, iovcnt, (off_t)off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -1;
    if (n == 0) {
      errno = EIO;
      return -1;
    }
    off += (uint64_t)n;
    iov_advance(&cur, &iovcnt, (size_t)n);
  }
  return 0;
}

static int posix_fdatasync(int fd) {
  int rc;
  do {
    rc = fdatasync(fd);
  } while (rc < 0 && errno == EINTR);
  return rc;
}

static int posix_sync_dir(const char *path) {
  int fd = posix_open(path, O_RDONLY | O_DIRECTORY, 0);
  int rc, saved;
  if (fd < 0)
    return -1;
  do {
    rc = fsync(fd);
  } while (rc < 0 && errno == EINTR);
  saved = errno;
  close(fd);
  errno = saved;
  return rc;
}

static int posix_ftruncate(int fd, uint64_t size) {
  int rc;
  do {
    rc = ftruncate(fd, (off_t)size);
  } while (rc < 0 && errno == EINTR);
  return rc;
}

static int posix_file_size(int fd, uint64_t *size) {
  struct stat st;
  if (fstat(fd, &st) < 0)
    return -1;
  *size = (uint64_t)st.st_size;
  return 0;
}

static int posix_rename(const char *from, const char *to) {
  return rename(from, to);
}

static int posix_unlink(const char *path) { return unlink(path); }

static int posix_mkdir(const char *path, int mode) {
  if (mkdir(path, (mode_t)mode) == 0)
    return 0;
  if (errno == EEXIST) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
      return 0;
    errno = EEXIST;
  }
  return -1;
}

static int posix_is_dir(const char *path) {
  struct stat st;
  if (stat(path, &st) < 0)
    return errno == ENOENT ? 0 : -1;
  if (!S_ISDIR(st.st_mode)) {
    errno = ENOTDIR;
    return -1;
  }
  return 1;
}

static int posix_lock(int fd) {
  int rc;
  do {
    rc = flock(fd, LOCK_EX | LOCK_NB);
  } while (rc < 0 && errno == EINTR);
  return rc;
}

static int posix_list_dir(const char *path, cdb_dir_entry_fn fn, void *ctx) {
  DIR *dir = opendir(path);
  struct dirent *de;
  int rc = 0;
  if (dir == NULL)
    return -1;
  for (;;) {
    errno = 0;
    de = readdir(dir);
    if (de == NULL)
      break;
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    rc = fn(ctx, de->d_name);
    if (rc != 0)
      break;
  }
  if (de == NULL && errno != 0)
    rc = -1;
  {
    int saved = errno;
    closedir(dir);
    errno = saved;
  }
  return rc;
}

static int posix_link(const char *from, const char *to) {
  return link(from, to);
}

static const void *posix_map(int fd, uint64_t len) {
  void *p;
  if (len == 0 || len > SIZE_MAX)
    return NULL;
  p = mmap(NULL, (size_t)len, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED)
    return NULL;
  /* Reads are of single records at random places.  Without this, a page
   * fault on a file that is not in the page cache reads the whole
   * read-ahead window around it (megabytes on many disks) for one value:
   * measured with 37 GB of 4 KiB values on a 24 GiB machine, over 1 MiB
   * read from the disk per get.  Failure only costs speed. */
  (void)madvise(p, (size_t)len, MADV_RANDOM);
  return p;
}

static void posix_unmap(const void *addr, uint64_t len) {
  if (addr != NULL)
    munmap((void *)addr, (size_t)len);
}

const cdb_os_table cdb_os_posix = {
    posix_open,      posix_close,    posix_pread,     posix_pwritev_all,
    posix_fdatasync, posix_sync_dir, posix_ftruncate, posix_file_size,
    posix_rename,    posix_unlink,   posix_mkdir,     posix_is_dir,
    posix_lock,      posix_list_dir, posix_link,      posix_map,
    posix_unmap,
};

const cdb_os_table *cdb_os = &cdb_os_posix;

void cdb_os_set(const cdb_os_table *table) {
  cdb_os = table ? table : &cdb_os_posix;
}

int cdb_os_flock(int fd, int op) {
  int how = 0, rc;
  if (op & CDB_FLOCK_SH)
    how = LOCK_SH;
  else if (op & CDB_FLOCK_EX)
    how = LOCK_EX;
  else
    how = LOCK_UN;
  if (op & CDB_FLOCK_NB)
    how |= LOCK_NB;
  do {
    rc = flock(fd, how);
  } while (rc < 0 && errno == EINTR);
  return rc;
}

void *cdb_os_map_rw(int fd, size_t len) {
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  return p == MAP_FAILED ? NULL : p;
}

void cdb_os_unmap_rw(void *addr, size_t len) {
  if (addr != NULL)
    munmap(addr, len);
}

/*
 * os.h -- every file-system call the engine makes, behind one table.
 *
 * The engine never calls open(2), pread(2), fsync(2) and friends directly:
 * it calls cdb_os->open, cdb_os->pread, ...  The table points at the POSIX
 * implementation in os.c.  Tests install their own table (cdb_os_set) to
 * inject failures (EIO, ENOSPC, short writes, failed fsyncs) or to simulate
 * a power cut, the way SQLite's test VFS does; a Windows port would supply
 * another table.  Production code pays one indirect call per system call.
 *
 * Every function returns -1 and sets errno on failure, like the system
 * call it wraps, unless it says otherwise.
 */
#ifndef CASKDB_OS_H
#define CASKDB_OS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Called by list_dir for each entry name (not "." or ".."); return 0 to go
 * on, non-zero to stop listing (list_dir then returns that value). */
typedef int (*cdb_dir_entry_fn)(void *ctx, const char *name);

typedef struct cdb_os_table {
  /* open(2); flags are O_* flags.  Returns a file descriptor. */
  int (*open)(const char *path, int flags, int mode);
  int (*close)(int fd);
  /* Read up to n bytes at off; returns the count read (0 at end of file).
   * Retries on EINTR; may return fewer bytes only at end of file. */
  ssize_t (*pread)(int fd, void *buf, size_t n, uint64_t off);
  /* Write every byte of the iovecs at off, retrying short writes and EINTR.
   * Returns 0, or -1 if any call failed: some prefix may then be written. */
  int (*pwritev_all)(int fd, const struct iovec *iov, int iovcnt, uint64_t off);
  /* fdatasync(2). */
  int (*fdatasync)(int fd);
  /* fsync(2) of a directory, so that created/renamed/removed entries are
   * durable. */
  int (*sync_dir)(const char *path);
  int (*ftruncate)(int fd, uint64_t size);
  /* The size of an open file. */
  int (*file_size)(int fd, uint64_t *size);
  int (*rename)(const char *from, const char *to);
  int (*unlink)(const char *path);
  /* mkdir(2); returns 0 when the directory already exists. */
  int (*mkdir)(const char *path, int mode);
  /* 1 if path is a directory, 0 if it does not exist, -1 on error
   * (ENOTDIR if it exists and is not a directory). */
  int (*is_dir)(const char *path);
  /* Take an exclusive, non-blocking lock (flock(2)) on fd; fails with
   * EWOULDBLOCK when another open file description holds it. */
  int (*lock)(int fd);
  /* Call fn for each entry of a directory. */
  int (*list_dir)(const char *path, cdb_dir_entry_fn fn, void *ctx);
  /* link(2): a second name for an existing file. */
  int (*link)(const char *from, const char *to);
  /* Map `len` bytes of fd read-only and shared (mmap(2)); NULL on failure.
   * Bytes past the end of the file must never be touched (SIGBUS). */
  const void *(*map)(int fd, uint64_t len);
  void (*unmap)(const void *addr, uint64_t len);
} cdb_os_table;

/* The table in force.  Never NULL. */
extern const cdb_os_table *cdb_os;

/* The POSIX table. */
extern const cdb_os_table cdb_os_posix;

/* ---- coordination between processes (shared mode) -------------------------
 *
 * Not in the table: they lock and map the small coordination files of
 * shared mode (docs/MULTIPROCESS.md), never data, so the fault-injecting
 * tables have nothing to gain from replacing them. */

#define CDB_FLOCK_SH 1 /* take a shared lock */
#define CDB_FLOCK_EX 2 /* take an exclusive lock */
#define CDB_FLOCK_UN 8 /* release */
/* Or-ed in: fail with EWOULDBLOCK instead of waiting. */
#define CDB_FLOCK_NB 4

/* flock(2) with one of the CDB_FLOCK_* operations; retries EINTR. */
int cdb_os_flock(int fd, int op);

/* Map `len` bytes of fd read-write and shared; NULL on failure. */
void *cdb_os_map_rw(int fd, size_t len);
void cdb_os_unmap_rw(void *addr, size_t len);

/* Install `table` (NULL: the POSIX one).  For tests; not thread-safe: call it
 * while no handle is open. */
void cdb_os_set(const cdb_os_table *table);

#endif /* CASKDB_OS_H */

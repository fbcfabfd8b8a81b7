/*
 * lock.c -- the writer lock of a directory, and what fork() does to it.
 *
 * The lock is an flock(2) on the file LOCK.  flock locks belong to the open
 * file description, and fork() gives the child a copy of every descriptor,
 * so a child that never touches the database would otherwise keep the
 * parent's lock alive after the parent closes it, locking everyone out.
 * So every lock descriptor is kept in a list, and a pthread_atfork handler
 * closes them all in the child (closing the child's copy leaves the
 * parent's lock in place) and changes the fork generation, by which a
 * handle learns it was inherited and refuses to write.
 */
#include "lock.h"

#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t registry_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t registry_once = PTHREAD_ONCE_INIT;
static int *lock_fds;
static size_t nlocks, caplocks;
static atomic_uint generation;

static void before_fork(void) { pthread_mutex_lock(&registry_mutex); }

static void after_fork_parent(void) { pthread_mutex_unlock(&registry_mutex); }

static void after_fork_child(void) {
  size_t i;
  for (i = 0; i < nlocks; i++)
    cdb_os->close(lock_fds[i]);
  nlocks = 0;
  atomic_fetch_add_explicit(&generation, 1, memory_order_relaxed);
  pthread_mutex_unlock(&registry_mutex);
}

static void install_fork_handlers(void) {
  pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

static int remember(int fd) {
  int ok = 1;
  pthread_mutex_lock(&registry_mutex);
  if (nlocks == caplocks) {
    size_t cap = caplocks ? caplocks * 2 : 8;
    int *fds = realloc(lock_fds, cap * sizeof *fds);
    if (fds == NULL)
      ok = 0;
    else {
      lock_fds = fds;
      caplocks = cap;
    }
  }
  if (ok)
    lock_fds[nlocks++] = fd;
  pthread_mutex_unlock(&registry_mutex);
  return ok;
}

static void forget(int fd) {
  size_t i;
  pthread_mutex_lock(&registry_mutex);
  for (i = 0; i < nlocks; i++) {
    if (lock_fds[i] == fd) {
      lock_fds[i] = lock_fds[--nlocks];
      break;
    }
  }
  if (nlocks == 0) {
    free(lock_fds);
    lock_fds = NULL;
    caplocks = 0;
  }
  pthread_mutex_unlock(&registry_mutex);
}

/* Open dir/name for locking; -1 with errno. */
static int open_lock_file(const char *dir, const char *name) {
  size_t n = strlen(dir), m = strlen(name);
  char *path = malloc(n + m + 2);
  int fd, err;
  if (path == NULL) {
    errno = ENOMEM;
    return -1;
  }
  memcpy(path, dir, n);
  path[n] = '/';
  memcpy(path + n + 1, name, m + 1);
  pthread_once(&registry_once, install_fork_handlers);
  fd = cdb_os->open(path, O_RDWR | O_CREAT, 0644);
  err = errno;
  free(path);
  errno = err;
  return fd;
}

int cdb_lock_take(const char *dir) {
  int fd = open_lock_file(dir, "LOCK"), err;
  if (fd < 0)
    return -1;
  if (cdb_os->lock(fd) < 0 || !remember(fd)) {
    err = errno ? errno : ENOMEM;
    cdb_os->close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

int cdb_lock_open(const char *dir, const char *name) {
  int fd = open_lock_file(dir, name);
  if (fd < 0)
    return -1;
  if (!remember(fd)) {
    cdb_os->close(fd);
    errno = ENOMEM;
    return -1;
  }
  return fd;
}

void cdb_lock_release(int fd) {
  forget(fd);
  cdb_os->close(fd);
}

unsigned cdb_fork_generation(void) {
  /* Read on every write: an atomic load, no lock.  Only the atfork child
   * handler changes it, in a child that has a single thread. */
  return atomic_load_explicit(&generation, memory_order_relaxed);
}

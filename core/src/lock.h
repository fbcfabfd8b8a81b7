/*
 * lock.h -- the writer lock of a directory, and what fork() does to it.
 */
#ifndef CASKDB_LOCK_H
#define CASKDB_LOCK_H

/* Open `dir`/LOCK and take its exclusive lock without waiting.  Returns the
 * descriptor, or -1 with errno (EWOULDBLOCK: another writer has it). */
int cdb_lock_take(const char *dir);

/* Release a lock taken by cdb_lock_take in this process. */
void cdb_lock_release(int fd);

/* A number that changes in a child process each time the process forks.
 * A handle that remembers another number was opened by a parent. */
unsigned cdb_fork_generation(void);

#endif /* CASKDB_LOCK_H */

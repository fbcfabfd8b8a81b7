/*
 * lock.h -- the writer lock of a directory, and what fork() does to it.
 */
#ifndef CASKDB_LOCK_H
#define CASKDB_LOCK_H

/* Open `dir`/LOCK and take its exclusive lock without waiting.  Returns the
 * descriptor, or -1 with errno (EWOULDBLOCK: another writer has it). */
int cdb_lock_take(const char *dir);

/* Open (creating it) the file `dir`/`name`, used only to lock or map it,
 * and register the descriptor like a lock: a forked child closes it at
 * once.  Takes no lock.  Returns the descriptor, or -1 with errno. */
int cdb_lock_open(const char *dir, const char *name);

/* Release a lock taken by cdb_lock_take in this process (or close a
 * descriptor of cdb_lock_open, releasing any lock on it). */
void cdb_lock_release(int fd);

/* A number that changes in a child process each time the process forks.
 * A handle that remembers another number was opened by a parent. */
unsigned cdb_fork_generation(void);

#endif /* CASKDB_LOCK_H */

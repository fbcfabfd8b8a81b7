/*
 * syncer.c -- the background thread of sync = "interval".
 *
 * With sync = "interval" a write is made durable by the first write that
 * comes sync_interval_ms after the last sync.  When writes stop, nothing
 * would sync the last ones; this thread does: every interval it fdatasyncs
 * the active file if a write is pending.  It shares only this struct with
 * the handle, under the mutex, and never holds the mutex while syncing.
 * Before the handle closes or leaves a file, cdb_syncer_release waits for a
 * sync in progress, so the thread never syncs a closed descriptor.
 *
 * fork(): the thread does not exist in a child.  A child's copy of the
 * handle cannot write (lock.c) and skips the syncer at close.
 */
#include "syncer.h"

#include "os.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct cdb_syncer {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cond;
  uint32_t interval_ms;
  int fd;      /* the active file, or -1 */
  int pending; /* a write to fd is not synced yet */
  int busy;    /* the thread is syncing fd now */
  int stop;
  int failed;
};

/* now + ms, as the absolute time pthread_cond_timedwait wants. */
static void deadline(struct timespec *ts, uint32_t ms) {
  clock_gettime(CLOCK_REALTIME, ts);
  ts->tv_sec += (time_t)(ms / 1000);
  ts->tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

static void *syncer_main(void *arg) {
  cdb_syncer *s = arg;
  pthread_mutex_lock(&s->mu);
  while (!s->stop) {
    struct timespec ts;
    deadline(&ts, s->interval_ms);
    while (!s->stop &&
           pthread_cond_timedwait(&s->cond, &s->mu, &ts) != ETIMEDOUT)
      ;
    if (s->stop || !s->pending || s->fd < 0)
      continue;
    {
      int fd = s->fd, rc;
      s->pending = 0;
      s->busy = 1;
      pthread_mutex_unlock(&s->mu);
      rc = cdb_os->fdatasync(fd);
      pthread_mutex_lock(&s->mu);
      s->busy = 0;
      if (rc < 0)
        s->failed = 1;
      pthread_cond_broadcast(&s->cond);
    }
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

cdb_syncer *cdb_syncer_start(uint32_t interval_ms) {
  cdb_syncer *s = calloc(1, sizeof *s);
  if (s == NULL)
    return NULL;
  s->interval_ms = interval_ms;
  s->fd = -1;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cond, NULL);
  if (pthread_create(&s->thread, NULL, syncer_main, s) != 0) {
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
    free(s);
    return NULL;
  }
  return s;
}

void cdb_syncer_note_write(cdb_syncer *s, int fd) {
  pthread_mutex_lock(&s->mu);
  s->fd = fd;
  s->pending = 1;
  pthread_mutex_unlock(&s->mu);
}

void cdb_syncer_note_synced(cdb_syncer *s) {
  pthread_mutex_lock(&s->mu);
  s->pending = 0;
  pthread_mutex_unlock(&s->mu);
}

void cdb_syncer_release(cdb_syncer *s) {
  pthread_mutex_lock(&s->mu);
  while (s->busy)
    pthread_cond_wait(&s->cond, &s->mu);
  s->fd = -1;
  s->pending = 0;
  pthread_mutex_unlock(&s->mu);
}

int cdb_syncer_failed(cdb_syncer *s) {
  int failed;
  pthread_mutex_lock(&s->mu);
  failed = s->failed;
  pthread_mutex_unlock(&s->mu);
  return failed;
}

void cdb_syncer_stop(cdb_syncer *s) {
  if (s == NULL)
    return;
  pthread_mutex_lock(&s->mu);
  s->stop = 1;
  pthread_cond_broadcast(&s->cond);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->thread, NULL);
  pthread_cond_destroy(&s->cond);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

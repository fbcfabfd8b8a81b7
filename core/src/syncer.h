/*
 * syncer.h -- the background thread of sync = "interval".
 */
#ifndef CASKDB_SYNCER_H
#define CASKDB_SYNCER_H

#include <stdint.h>

typedef struct cdb_syncer cdb_syncer;

/* Start a thread that fdatasyncs the active file every interval_ms while
 * writes are pending.  NULL if the thread cannot be started. */
cdb_syncer *cdb_syncer_start(uint32_t interval_ms);

/* A write reached file descriptor fd (the active file) and is not synced. */
void cdb_syncer_note_write(cdb_syncer *s, int fd);

/* Everything written so far is synced (the handle did it itself). */
void cdb_syncer_note_synced(cdb_syncer *s);

/* The handle is about to close or stop writing to the file the syncer may
 * be syncing: wait until no background sync is running, and forget it. */
void cdb_syncer_release(cdb_syncer *s);

/* 1 if a background fdatasync failed (the handle must stop writing). */
int cdb_syncer_failed(cdb_syncer *s);

/* Stop the thread and free the syncer.  NULL is allowed. */
void cdb_syncer_stop(cdb_syncer *s);

#endif /* CASKDB_SYNCER_H */

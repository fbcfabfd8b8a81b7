/*
 * shared.h -- shared mode: several processes reading and writing one
 * database directory (docs/MULTIPROCESS.md is the design).
 *
 * A shared handle (db->sh != NULL) catches up with the published state of
 * the directory before every call (cdb_shared_refresh: one atomic load when
 * nothing changed), and runs every write between cdb_shared_write_begin and
 * cdb_shared_write_end, which hold the cross-process write lock.  With
 * shared mode off none of this is called: the callers test db->sh first.
 */
#ifndef CASKDB_SHARED_H
#define CASKDB_SHARED_H

#include "db.h"

/* Open the handle as a shared one: take the locks, load the keydir (as the
 * first opener, with recovery, or as a follower of the published state) and
 * publish.  Replaces the writer lock and cdb_load of an exclusive open. */
int cdb_shared_open(caskdb *db);

/* Release the locks and the mapping (the handle's files are closed by the
 * caller).  Safe on a half-opened handle and in a forked child. */
void cdb_shared_close(caskdb *db);

/* Apply whatever other processes published since this handle last looked.
 * CASKDB_OK, or the error of reading their records (CASKDB_EIO,
 * CASKDB_ECORRUPT, CASKDB_ENOMEM): the handle then retries next call. */
int cdb_shared_refresh(caskdb *db);

/* Take the write lock (once; calls nest) and catch up.  On CASKDB_OK the
 * caller must call cdb_shared_write_end. */
int cdb_shared_write_begin(caskdb *db);

/* Publish what the write did (the active file, its end, a new set of files)
 * and release the write lock when the outermost call ends.  Returns rc. */
int cdb_shared_write_end(caskdb *db, int rc);

/* Hold the write lock shared (no process writes meanwhile), caught up; for
 * a consistent copy (backup).  Release with cdb_shared_unhold. */
int cdb_shared_hold(caskdb *db);
void cdb_shared_unhold(caskdb *db);

/* An append is about to start (cdb_append): until the publish, a writer
 * that finds the mark set knows the writer before it died mid-append. */
void cdb_shared_note_append(caskdb *db);

/* The set of data files changed (merge outputs published, an input
 * deleted): the publish bumps the generation. */
void cdb_shared_note_files(caskdb *db);

/* Take the merge lock (one merging handle across processes), waiting for it
 * when `wait`, else CASKDB_ELOCKED if another handle merges.  Held until
 * cdb_shared_merge_unlock; pinned (not released by the steps) while `pin`
 * is set by cdb_shared_merge_pin. */
int cdb_shared_merge_lock(caskdb *db, int wait);
void cdb_shared_merge_unlock(caskdb *db);
void cdb_shared_merge_pin(caskdb *db, int pin);

/* Before a merge starts: make sure the handle knows every data file of the
 * directory (so that none is left out of the inputs).  Under the write
 * lock. */
int cdb_shared_check_files(caskdb *db);

#endif /* CASKDB_SHARED_H */

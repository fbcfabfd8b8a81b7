/*
 * merge.c -- compaction: rewrite the oldest data files keeping only the
 * records the keydir points to.
 *
 * A merge takes as input every data file but the active one -- always the
 * oldest files of the directory, so nothing older than its inputs exists.
 * It walks the keydir in key order and copies each live record that sits
 * in an input (and has not expired) to output files, moving the keydir
 * entry to the copy as it goes; so outputs are sorted by key.  Tombstones are
 * never copied: a tombstone only hides older records, and every older record is
 * in the inputs, which the merge deletes.
 *
 * Outputs are named after the newest input's id with higher part numbers
 * (0000000007_0000000001.cask, ...), so they sort after every input and
 * before every file written since the merge began.  They are written under
 * temporary names (".tmp"), fsynced, then renamed into place, the directory
 * fsynced, and only then are the inputs deleted, oldest first.  A crash at
 * any point leaves a directory that opens to the same data:
 *
 *   - before the renames: the temporary files are removed at open, and the
 *     inputs are whole;
 *   - after some renames: inputs and outputs both exist; the outputs only
 *     repeat, later in file order, the newest record of keys the inputs
 *     already hold, so replaying both gives the same keydir;
 *   - during the deletions: the inputs left are the newest ones, so any
 *     tombstone that still matters is still there (deleting newest first
 *     could bring back a value whose tombstone went first).
 *
 * A merge can run in slices (caskdb_merge_step) between other calls on the
 * handle: writes during a merge go to the active file, which is not an
 * input, and a key written meanwhile simply is not live in the inputs any
 * more when the merge reaches it, or has its copy left dead in the output.
 */
#include "datafile.h"
#include "db.h"
#include "hint.h"
#include "key.h"
#include "os.h"
#include "shared.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

/* An output file, finished but not yet published. */
typedef struct merge_output {
  uint32_t slot;
  char *tmp_path;
  char *final_path;
} merge_output;

struct cdb_merge {
  uint32_t *inputs; /* slots, oldest file first */
  uint32_t ninputs;
  unsigned char *is_input; /* slot -> 1 for an input */
  uint32_t nis_input;

  /* The walk of the keydir in key order (see run_job). */
  int walked;          /* the walk reached the end */
  int started;         /* cur/last are set */
  cdb_kd_cursor cur;   /* valid while the keydir version is unchanged */
  unsigned char *last; /* the last key visited, canonical */
  size_t last_len;

  uint32_t out_id, next_part;
  int have_out; /* an output is being written: outs[nouts - 1] */
  cdb_hint_writer hw;
  int hint_ok;       /* the hint of the current output is still being written */
  int unsynced;      /* the current output has writes not yet fdatasynced */
  uint64_t uncopied; /* live records the walk could not read */
  int deleting;      /* outputs published: deleting the inputs */
  uint32_t next_delete; /* the next input to delete */
  uint32_t bad_id;      /* the file and offset of the first of them */
  uint32_t bad_offset;
  merge_output *outs;
  uint32_t nouts;
};

/* ---- output files ------------------------------------------------------- */

static cdb_file *out_file(caskdb *db, const cdb_merge *m) {
  return db->slots[m->outs[m->nouts - 1].slot];
}

static void free_outputs(cdb_merge *m) {
  uint32_t i;
  for (i = 0; i < m->nouts; i++) {
    free(m->outs[i].tmp_path);
    free(m->outs[i].final_path);
  }
  free(m->outs);
  m->outs = NULL;
  m->nouts = 0;
}

static int start_output(caskdb *db, cdb_merge *m) {
  char name[CDB_FILE_NAME_MAX + 8];
  unsigned char hdr[CDB_FILE_HEADER_SIZE];
  merge_output *outs, *o;
  cdb_file_header h;
  struct iovec iov;
  cdb_file *f;
  int slot;

  outs = realloc(m->outs, (m->nouts + 1) * sizeof *outs);
  if (outs == NULL)
    return cdb_fail(db, CASKDB_ENOMEM, 0, "out of memory merging");
  m->outs = outs;
  o = &m->outs[m->nouts];
  memset(o, 0, sizeof *o);
  f = calloc(1, sizeof *f);
  cdb_file_name(name, m->out_id, m->next_part, CDB_DATA_SUFFIX);
  o->final_path = cdb_path_join(db->path, name);
  strcat(name, CDB_TMP_SUFFIX);
  o->tmp_path = cdb_path_join(db->path, name);
  if (f == NULL || o->final_path == NULL || o->tmp_path == NULL) {
    free(f);
    free(o->final_path);
    free(o->tmp_path);
    return cdb_fail(db, CASKDB_ENOMEM, 0, "out of memory merging");
  }
  f->id = m->out_id;
  f->part = m->next_part;
  f->fd = cdb_os->open(o->tmp_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  h.version = CDB_FORMAT_VERSION;
  h.kind = CDB_FILE_DATA;
  h.file_id = f->id;
  h.part = f->part;
  cdb_file_header_encode(hdr, &h);
  iov.iov_base = hdr;
  iov.iov_len = sizeof hdr;
  if (f->fd < 0 || cdb_os->pwritev_all(f->fd, &iov, 1, 0) < 0) {
    int err = errno;
    if (f->fd >= 0) {
      cdb_os->close(f->fd);
      cdb_os->unlink(o->tmp_path);
    }
    free(f);
    free(o->final_path);
    free(o->tmp_path);
    return cdb_fail(db, cdb_code_from_errno(err), err,
                    "cannot create merge output %s", name);
  }
  f->size = CDB_FILE_HEADER_SIZE;
  slot = cdb_add_slot(db, f);
  if (slot < 0) {
    cdb_os->close(f->fd);
    cdb_os->unlink(o->tmp_path);
    free(f);
    free(o->final_path);
    free(o->tmp_path);
    return cdb_fail(db, CASKDB_ENOMEM, 0, "out of memory merging");
  }
  o->slot = (uint32_t)slot;
  m->nouts++;
  m->next_part++;
  m->have_out = 1;
  m->hint_ok =
      cdb_hint_writer_open(&m->hw, db->path, f->id, f->part) == CASKDB_OK;
  return CASKDB_OK;
}

/* Make the current output durable and write its hint.  A hint that fails
 * is removed (the data file is read instead at open). */
static int finish_output(caskdb *db, cdb_merge *m) {
  cdb_file *f = out_file(db, m);
  m->have_out = 0;
  if (m->hint_ok && cdb_hint_writer_finish(&m->hw, f->size) != CASKDB_OK)
    cdb_hint_remove(db, f);
  else if (!m->hint_ok)
    cdb_hint_remove(db, f); /* an older hint of the same name would lie */
  m->hint_ok = 0;
  if (cdb_os->fdatasync(f->fd) < 0)
    return cdb_fail(db, CASKDB_EIO, errno, "cannot sync merge output");
  cdb_file_map(db, f, f->size); /* complete: reads need no system call */
  return CASKDB_OK;
}

/* ---- copying one live record ----------------------------------------------
 */

static int ensure_output(caskdb *db, cdb_merge *m, uint64_t size) {
  int rc;
  if (m->have_out) {
    cdb_file *f = out_file(db, m);
    if (f->size + size <= db->opts.max_file_size ||
        f->size <= CDB_FILE_HEADER_SIZE)
      return CASKDB_OK;
    rc = finish_output(db, m);
    if (rc != CASKDB_OK)
      return rc;
  }
  return start_output(db, m);
}

/* A keydir entry as the walk reads it: the location is a copy, the key is
 * the keydir's (good until the keydir next changes). */
typedef struct walk_entry {
  const unsigned char *key;
  size_t klen;
  cdb_loc loc;
} walk_entry;

/* Copy the record `in` (read whole from an input; live at e->loc) to the
 * output as a plain put, and point the key (m->last) at the copy. */
static int copy_record(caskdb *db, cdb_merge *m, const walk_entry *e,
                       const cdb_rec *in) {
  unsigned char hdr[CDB_REC_HEADER_SIZE];
  struct iovec iov[3];
  cdb_rec r = *in;
  uint64_t size = cdb_rec_size(r.klen, r.vlen);
  cdb_file *out;
  cdb_loc loc;
  int rc = ensure_output(db, m, size);
  if (rc != CASKDB_OK)
    return rc;
  out = out_file(db, m);
  r.type = CDB_REC_PUT; /* a batch record copied alone is a plain put */
  cdb_rec_encode_header(hdr, &r);
  iov[0].iov_base = hdr;
  iov[0].iov_len = sizeof hdr;
  iov[1].iov_base = (void *)r.key;
  iov[1].iov_len = r.klen;
  iov[2].iov_base = (void *)r.value;
  iov[2].iov_len = r.vlen;
  if (cdb_os->pwritev_all(out->fd, iov, 3, out->size) < 0)
    return cdb_fail(db, cdb_code_from_errno(errno), errno,
                    "cannot write merge output");
  if (m->hint_ok && cdb_hint_writer_add(&m->hw, &r, out->size) != CASKDB_OK) {
    cdb_hint_writer_abort(&m->hw);
    m->hint_ok = 0;
  }
  m->unsynced = 1;
  loc = e->loc;
  loc.slot = m->outs[m->nouts - 1].slot;
  loc.offset = (uint32_t)out->size;
  out->size += size;
  /* An update of a present key: the version stays, so the walk's cursor
   * stays good.  With the expiry unchanged it needs no memory; should it
   * fail all the same, the key keeps its old record and the copy is dead. */
  if (cdb_kd_set(db->kd, m->last, m->last_len, &loc, NULL) != 0)
    return cdb_fail(db, CASKDB_ENOMEM, 0, "out of memory in merge");
  if (db->cache) {
    /* A cached record stays cached at its new place, under the header it
     * has there (the type may have changed, so the CRC too). */
    unsigned char *cached =
        cdb_cache_move(db->cache, db->slots[e->loc.slot]->serial, e->loc.offset,
                       out->serial, loc.offset);
    if (cached)
      memcpy(cached, hdr, sizeof hdr);
  }
  db->slots[e->loc.slot]->live_bytes -= e->loc.size;
  out->live_bytes += size;
  return CASKDB_OK;
}

/* Handle the live key e (its record in an input): drop it if expired or
 * an orphan list element, else copy its record to the output.  A record
 * that cannot be read (damaged since the open) stays where it is: the
 * merge keeps its input (inputs_unused). */
static int merge_entry(caskdb *db, cdb_merge *m, const walk_entry *e,
                       uint64_t *done) {
  cdb_rec r;
  int rc;
  if (cdb_expired(db, e->loc.expiry) ||
      (e->key[0] == CDB_CANON_HIDDEN &&
       cdb_list_element_orphaned(db, e->key, e->klen))) {
    memcpy(db->keybuf, e->key, e->klen);
    cdb_forget(db, db->keybuf, e->klen);
    return CASKDB_OK;
  }
  *done += e->loc.size;
  rc = cdb_read_record_uncached(db, &e->loc, &r);
  if (rc == CASKDB_ECORRUPT) {
    db->errmsg[0] = '\0';
    if (m->uncopied++ == 0) {
      m->bad_id = db->slots[e->loc.slot]->id;
      m->bad_offset = e->loc.offset;
    }
    return CASKDB_OK;
  }
  if (rc != CASKDB_OK)
    return rc;
  return copy_record(db, m, e, &r);
}

/* ---- publishing ------------------------------------------------------------
 */

/* Rename the outputs into place and make the renames durable.  After this
 * the outputs are part of the database (beside the inputs, until those are
 * deleted). */
static int publish_outputs(caskdb *db, cdb_merge *m) {
  uint32_t i;
  for (i = 0; i < m->nouts; i++)
    if (cdb_os->rename(m->outs[i].tmp_path, m->outs[i].final_path) < 0)
      return cdb_fail(db, CASKDB_EIO, errno, "cannot publish merge output");
  if (db->sh) /* other processes load the new files before their next call */
    cdb_shared_note_files(db);
  if (cdb_os->sync_dir(db->path) < 0)
    return cdb_fail(db, CASKDB_EIO, errno, "cannot sync directory %s",
                    db->path);
  return CASKDB_OK;
}

/* Put the outputs into the file order, right after the first `keep`
 * inputs (all of them after an interrupted merge, none after a full one). */
static int order_outputs(caskdb *db, cdb_merge *m, uint32_t keep) {
  uint32_t n = db->nfiles - m->ninputs + keep + m->nouts;
  uint32_t *order = malloc((n ? n : 1) * sizeof *order);
  uint32_t i, at = 0;
  if (order == NULL)
    return cdb_fail(db, CASKDB_ENOMEM, 0, "out of memory merging");
  for (i = 0; i < keep; i++)
    order[at++] = db->order[i];
  for (i = 0; i < m->nouts; i++)
    order[at++] = m->outs[i].slot;
  for (i = m->ninputs; i < db->nfiles; i++)
    order[at++] = db->order[i];
  free(db->order);
  db->order = order;
  db->nfiles = n;
  return CASKDB_OK;
}

/* Delete the oldest input not deleted yet, and make that durable before
 * the next one goes (see the top of the file for why oldest first).  One
 * per step: freeing a large file's blocks and cached pages is the slowest
 * thing a merge does. */
static int delete_next_input(caskdb *db, cdb_merge *m) {
  cdb_file *f = db->slots[m->inputs[m->next_delete]];
  char name[CDB_FILE_NAME_MAX];
  char *path;
  int rc = CASKDB_OK;
  cdb_file_name(name, f->id, f->part, CDB_DATA_SUFFIX);
  path = cdb_path_join(db->path, name);
  cdb_hint_remove(db, f);
  if (db->sh)
    cdb_shared_note_files(db);
  if (path == NULL || cdb_os->unlink(path) < 0)
    rc = cdb_fail(db, CASKDB_EIO, errno, "cannot remove merged file %s", name);
  else if (cdb_os->sync_dir(db->path) < 0)
    rc = cdb_fail(db, CASKDB_EIO, errno, "cannot sync directory %s", db->path);
  free(path);
  if (db->cache) /* nothing points there any more: free the room */
    cdb_cache_drop_file(db->cache, f->serial, 0);
  cdb_file_unmap(f);
  cdb_os->close(f->fd);
  free(f);
  db->slots[m->inputs[m->next_delete]] = NULL;
  m->next_delete++;
  return rc;
}

static void free_job(caskdb *db) {
  cdb_merge *m = db->merge;
  if (m == NULL)
    return;
  free(m->is_input);
  free(m->last);
  if (m->hint_ok)
    cdb_hint_writer_abort(&m->hw);
  free_outputs(m);
  free(m->inputs);
  free(m);
  db->merge = NULL;
}

/* Before the inputs go: no key may still live in one.  The walk visited
 * every key, so the only ones left in an input are those whose record
 * could not be read (damaged since the open, or named by a hint that
 * lied); such a key keeps its input, and the merge ends as an abandoned
 * one. */
static int inputs_unused(caskdb *db, const cdb_merge *m) {
  if (m->uncopied == 0)
    return CASKDB_OK;
  return cdb_fail(db, CASKDB_ECORRUPT, 0,
                  "merge could not copy %llu damaged records (the first at "
                  "offset %u of data file %010u); the merged files are kept",
                  (unsigned long long)m->uncopied, (unsigned)m->bad_offset,
                  (unsigned)m->bad_id);
}

static int finish_job(caskdb *db) {
  cdb_merge *m = db->merge;
  int rc = CASKDB_OK;
  if (m->have_out)
    rc = finish_output(db, m);
  if (rc == CASKDB_OK)
    rc = inputs_unused(db, m);
  if (rc == CASKDB_OK)
    rc = publish_outputs(db, m);
  if (rc != CASKDB_OK)
    return rc;
  rc = order_outputs(db, m, 0);
  if (rc != CASKDB_OK) {
    free_job(db);
    return rc;
  }
  /* The outputs are the database now; the inputs go, one a step. */
  m->deleting = 1;
  return CASKDB_OK;
}

/* A merge that cannot go on: the keydir already points into its outputs,
 * so publish them beside the (whole) inputs, which is a sound state; if even
 * that fails the handle stops taking writes, and a reopen, which ignores
 * the unpublished outputs, is correct. */
static int abandon_job(caskdb *db, int rc) {
  cdb_merge *m = db->merge;
  char msg[sizeof db->errmsg];
  memcpy(msg, db->errmsg, sizeof msg);
  if (m->have_out) {
    cdb_file *f = out_file(db, m);
    if (cdb_os->ftruncate(f->fd, f->size) < 0 ||
        finish_output(db, m) != CASKDB_OK)
      db->failed = 1;
  }
  if (!db->failed && publish_outputs(db, m) != CASKDB_OK)
    db->failed = 1;
  if (order_outputs(db, m, m->ninputs) != CASKDB_OK)
    db->failed = 1;
  free_job(db);
  memcpy(db->errmsg, msg, sizeof msg);
  return rc;
}

/* ---- the job --------------------------------------------------------------
 */

static int start_job(caskdb *db) {
  cdb_merge *m;
  const cdb_file *newest_input;
  uint32_t i;
  if (db->nfiles < 2)
    return CASKDB_OK; /* only the active file: nothing to merge */
  m = calloc(1, sizeof *m);
  if (m)
    m->inputs = malloc((db->nfiles - 1) * sizeof *m->inputs);
  if (m == NULL || m->inputs == NULL) {
    free(m);
    return cdb_fail(db, CASKDB_ENOMEM, 0, "out of memory merging");
  }
  m->ninputs = db->nfiles - 1;
  m->nis_input = db->nslots;
  m->is_input = calloc(db->nslots, 1);
  m->last = malloc(CDB_CANON_MAX);
  if (m->is_input == NULL || m->last == NULL) {
    free(m->is_input);
    free(m->last);
    free(m->inputs);
    free(m);
    return cdb_fail(db, CASKDB_ENOMEM, 0, "out of memory merging");
  }
  for (i = 0; i < m->ninputs; i++) {
    m->inputs[i] = db->order[i];
    m->is_input[m->inputs[i]] = 1;
  }
  newest_input = db->slots[m->inputs[m->ninputs - 1]];
  m->out_id = newest_input->id;
  m->next_part = newest_input->part + 1;
  db->merge = m;
  return CASKDB_OK;
}

static int walk_entry_get(caskdb *db, cdb_merge *m, walk_entry *e) {
  return cdb_kd_cursor_get(db->kd, &m->cur, &e->key, &e->klen, &e->loc);
}

/* Reads the next keydir entry of the walk into *e; 0 at the end.  Like an
 * iterator (iter.c): while the keydir's version is unchanged the cursor
 * steps on; after an insert or removal it seeks past the last key. */
static int walk_next(caskdb *db, cdb_merge *m, walk_entry *e) {
  if (!m->started) {
    m->started = 1;
    cdb_kd_seek(db->kd, NULL, 0, &m->cur);
    return walk_entry_get(db, m, e);
  }
  if (m->cur.version == cdb_kd_version(db->kd)) {
    cdb_kd_cursor_next(db->kd, &m->cur);
    return walk_entry_get(db, m, e);
  }
  cdb_kd_seek(db->kd, m->last, m->last_len, &m->cur);
  if (!walk_entry_get(db, m, e))
    return 0;
  if (e->klen == m->last_len && memcmp(e->key, m->last, e->klen) == 0) {
    cdb_kd_cursor_next(db->kd, &m->cur);
    return walk_entry_get(db, m, e);
  }
  return 1;
}

/* Walk the keydir in key order, copying every key that lives in an input,
 * until about `budget` bytes were copied.  The outputs come out sorted by
 * key: a later open loads their hints in ascending order (the keydir's
 * fast path), and a range scan reads them front to back.  Keys written
 * during the walk live in the active file, which is no input. */
static int run_job(caskdb *db, uint64_t budget) {
  cdb_merge *m = db->merge;
  uint64_t done = 0;
  while (!m->walked && done < budget) {
    walk_entry entry, *e = &entry;
    int rc;
    if (!walk_next(db, m, e)) {
      m->walked = 1;
      break;
    }
    memcpy(m->last, e->key, e->klen);
    m->last_len = e->klen;
    done += 16; /* walking a key that stays costs time too */
    if (e->loc.slot >= m->nis_input || !m->is_input[e->loc.slot])
      continue;
    rc = merge_entry(db, m, e, &done);
    if (rc != CASKDB_OK)
      return rc;
  }
  return CASKDB_OK;
}

/* At the end of a step that leaves work to do, sync what it wrote: the
 * sync that completes an output then has little left, so no step stalls
 * for a whole file's worth of writes. */
static int sync_step(caskdb *db) {
  cdb_merge *m = db->merge;
  cdb_file *f;
  if (!m->have_out || !m->unsynced)
    return CASKDB_OK;
  f = out_file(db, m);
  m->unsynced = 0;
  if (m->hint_ok && cdb_hint_writer_sync(&m->hw) != CASKDB_OK) {
    cdb_hint_writer_abort(&m->hw);
    m->hint_ok = 0;
  }
  if (cdb_os->fdatasync(f->fd) < 0)
    return abandon_job(
        db, cdb_fail(db, CASKDB_EIO, errno, "cannot sync merge output"));
  return CASKDB_OK;
}

static int merge_step(caskdb *db, uint64_t max_bytes, int *more) {
  int rc;
  if (more)
    *more = 0;
  db->errmsg[0] = '\0';
  rc = cdb_check_writable(db);
  if (rc != CASKDB_OK)
    return rc;
  if (db->merge == NULL) {
    /* Shared mode: every data file of the directory must be an input or
     * newer than the inputs, including outputs of a merger that died before
     * it told the others (docs/MULTIPROCESS.md, "Merge"). */
    if (db->sh && (rc = cdb_shared_check_files(db)) != CASKDB_OK)
      return rc;
    rc = start_job(db);
    if (rc != CASKDB_OK || db->merge == NULL)
      return rc;
  }
  if (db->merge->deleting) {
    cdb_merge *m = db->merge;
    rc = delete_next_input(db, m);
    if (rc != CASKDB_OK || m->next_delete == m->ninputs) {
      free_job(db);
      return rc;
    }
    if (more)
      *more = 1;
    return CASKDB_OK;
  }
  rc = run_job(db, max_bytes ? max_bytes : 1);
  if (rc != CASKDB_OK)
    return abandon_job(db, rc);
  if (!db->merge->walked) {
    if (more)
      *more = 1;
    return sync_step(db);
  }
  rc = finish_job(db);
  if (rc != CASKDB_OK && db->merge)
    return abandon_job(db, rc);
  if (rc == CASKDB_OK && db->merge && more)
    *more = 1; /* the inputs are deleted by the next steps */
  return rc;
}

/* Shared mode: one merging handle across processes (the merge lock, held
 * from the first step of a merge to its last), and each step under the
 * write lock. */
static int shared_merge_step(caskdb *db, uint64_t max_bytes, int *more) {
  int rc;
  if (more)
    *more = 0;
  rc = cdb_check_writable(db);
  if (rc == CASKDB_OK)
    rc = cdb_shared_merge_lock(db, 0);
  if (rc != CASKDB_OK)
    return rc;
  rc = cdb_shared_write_begin(db);
  if (rc == CASKDB_OK)
    rc = cdb_shared_write_end(db, merge_step(db, max_bytes, more));
  cdb_shared_merge_unlock(db); /* when the merge is over */
  return rc;
}

int caskdb_merge_step(caskdb *db, uint64_t max_bytes, int *more) {
  if (db == NULL)
    return CASKDB_EINVAL;
  if (db->sh)
    return shared_merge_step(db, max_bytes, more);
  return merge_step(db, max_bytes, more);
}

/* The bytes a step of caskdb_merge copies in shared mode, between which
 * other processes get the write lock. */
#define SHARED_MERGE_SLICE (4u * 1024 * 1024)

static int shared_merge(caskdb *db) {
  int rc, more = 1;
  /* Not waiting: the handle merging may be idle between its steps for any
   * time (an automatic merge goes on only as its handle writes). */
  rc = cdb_shared_merge_lock(db, 0);
  if (rc != CASKDB_OK)
    return rc;
  cdb_shared_merge_pin(db, 1);
  while (db->merge && rc == CASKDB_OK)
    rc = caskdb_merge_step(db, SHARED_MERGE_SLICE, &more);
  if (rc == CASKDB_OK)
    rc = cdb_shared_write_begin(db);
  if (rc == CASKDB_OK)
    rc = cdb_shared_write_end(db, cdb_rotate(db));
  more = 1;
  while (rc == CASKDB_OK && more)
    rc = caskdb_merge_step(db, SHARED_MERGE_SLICE, &more);
  cdb_shared_merge_pin(db, 0);
  cdb_shared_merge_unlock(db);
  return rc;
}

int caskdb_merge(caskdb *db) {
  int rc, more = 1;
  if (db == NULL)
    return CASKDB_EINVAL;
  rc = cdb_check_writable(db);
  if (rc == CASKDB_OK && db->sh)
    return shared_merge(db);
  if (rc != CASKDB_OK)
    return rc;
  /* Finish a merge under way, then merge everything written so far. */
  while (db->merge && rc == CASKDB_OK)
    rc = caskdb_merge_step(db, UINT64_MAX, &more);
  if (rc == CASKDB_OK)
    rc = cdb_rotate(db);
  while (rc == CASKDB_OK && more)
    rc = caskdb_merge_step(db, UINT64_MAX, &more);
  return rc;
}

void cdb_merge_discard(caskdb *db) {
  cdb_merge *m = db->merge;
  uint32_t i;
  if (m == NULL)
    return;
  /* Closing mid-merge: unpublished outputs go, as the inputs hold
   * everything; once published, outputs stay beside the inputs left, which
   * is as sound (the next merge takes both). */
  if (!m->deleting)
    for (i = 0; i < m->nouts; i++)
      cdb_os->unlink(m->outs[i].tmp_path);
  free_job(db);
}

int caskdb_merge_needed(caskdb *db) {
  uint64_t bytes = 0, dead = 0;
  uint32_t i;
  if (db == NULL || db->nfiles < 2)
    return 0;
  for (i = 0; i + 1 < db->nfiles; i++) {
    const cdb_file *f = db->slots[db->order[i]];
    bytes += f->size;
    dead += f->size - f->live_bytes;
  }
  if (bytes == 0)
    return 0;
  return dead >= db->opts.merge_trigger_dead_bytes ||
         (double)dead >= db->opts.merge_trigger_dead_ratio * (double)bytes;
}

/*
 * open.c -- opening a directory: find the data files, read them oldest
 * first, rebuild the keydir, and recover from a crash.
 *
 * Recovery rules (DESIGN.md section 5, docs/FORMAT.md "Recovery"):
 *
 *  - Only the newest data file can have a torn tail: it is the only file
 *    ever written to, and a file becomes immutable only after its last
 *    write completed.  A tail is torn when the file ends inside a record,
 *    when the last record fails its CRC, when everything from a bad record
 *    to the end is zero bytes (some file systems extend a file with zeros
 *    on a crash), or when the file ends inside a batch (a batch without its
 *    end record).  A writer cuts a torn tail off; a reader ignores it.
 *  - Any other bad record is corruption no crash explains: the open fails
 *    with CASKDB_ECORRUPT naming the file and offset, unless salvage is on;
 *    then the record is skipped, counted, and reading resumes at the next
 *    offset where a valid record starts.
 *  - Records of a batch take effect only when the batch's end record is
 *    read, so a batch is applied whole or not at all.
 */
#include "datafile.h"
#include "db.h"
#include "hint.h"
#include "key.h"
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

/* ---- listing the directory ------------------------------------------------
 */

typedef struct file_ref {
  uint32_t id, part;
} file_ref;

typedef struct file_list {
  caskdb *db;
  file_ref *refs;
  size_t n, cap;
} file_list;

/* Remove a temporary file left by a merge or hint writer that was
 * interrupted ("<data or hint file name>.tmp"): it was never published, so
 * nothing depends on it.  Other names are left alone. */
static void remove_tmp_file(caskdb *db, const char *name) {
  char base[CDB_FILE_NAME_MAX];
  size_t n = strlen(name), t = strlen(CDB_TMP_SUFFIX);
  uint32_t id, part;
  char *path;
  if (db->opts.readonly || n <= t || n - t >= sizeof base ||
      strcmp(name + n - t, CDB_TMP_SUFFIX) != 0)
    return;
  memcpy(base, name, n - t);
  base[n - t] = '\0';
  if (!cdb_parse_file_name(base, CDB_DATA_SUFFIX, &id, &part) &&
      !cdb_parse_file_name(base, CDB_HINT_SUFFIX, &id, &part))
    return;
  path = cdb_path_join(db->path, name);
  if (path)
    cdb_os->unlink(path);
  free(path);
}

static int collect_data_file(void *ctx, const char *name) {
  file_list *l = ctx;
  uint32_t id, part;
  if (!cdb_parse_file_name(name, CDB_DATA_SUFFIX, &id, &part)) {
    remove_tmp_file(l->db, name);
    return 0;
  }
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    file_ref *refs = realloc(l->refs, cap * sizeof *refs);
    if (refs == NULL) {
      errno = ENOMEM;
      return -1;
    }
    l->refs = refs;
    l->cap = cap;
  }
  l->refs[l->n].id = id;
  l->refs[l->n].part = part;
  l->n++;
  return 0;
}

static int compare_refs(const void *a, const void *b) {
  const file_ref *x = a, *y = b;
  if (x->id != y->id)
    return x->id < y->id ? -1 : 1;
  return x->part < y->part ? -1 : x->part > y->part;
}

/* ---- reading one file ------------------------------------------------------
 */

typedef struct file_scan {
  caskdb *db;
  cdb_file *f;
  uint32_t slot;
  const char *name;
  int newest;
  cdb_scanner sc;
  cdb_pending_batch batch;
} file_scan;

/* Handle one whole, valid record at off.  A record that breaks the batch
 * rules (a plain record inside a batch, an end whose count is wrong) is
 * reported as bad with CASKDB_ECORRUPT. */
static int take_record(file_scan *fs, uint64_t off, const cdb_rec *r) {
  caskdb *db = fs->db;
  uint64_t size = cdb_rec_size(r->klen, r->vlen);
  cdb_loc loc;
  size_t clen;
  loc.slot = fs->slot;
  loc.offset = (uint32_t)off;
  loc.size = (uint32_t)size;
  loc.expiry = r->expiry;
  loc.vtype = r->value_type;
  if (r->type == CDB_REC_BATCH_END) {
    if (r->value == NULL || get_u32le(r->value) != fs->batch.n ||
        fs->batch.n == 0)
      return CASKDB_ECORRUPT;
    return cdb_pending_apply(db, &fs->batch);
  }
  clen = cdb_key_canon_from_disk(r->key_kind, r->key, r->klen, db->keybuf);
  if (r->type == CDB_REC_BATCH_PUT || r->type == CDB_REC_BATCH_DELETE) {
    if (fs->batch.n == 0)
      fs->batch.start = off;
    if (cdb_pending_push(&fs->batch, db->keybuf, clen, &loc,
                         r->type == CDB_REC_BATCH_DELETE) < 0)
      return cdb_fail(db, CASKDB_ENOMEM, 0, "out of memory reading a batch");
    return CASKDB_OK;
  }
  if (fs->batch.n > 0) {
    /* A batch without its end, followed by more records: no crash does
     * that.  Salvage drops the batch and keeps the record. */
    if (!db->opts.salvage)
      return cdb_fail(db, CASKDB_ECORRUPT, 0,
                      "unfinished batch in %s at offset %llu", fs->name,
                      (unsigned long long)fs->batch.start);
    db->corrupt_records++;
    cdb_pending_clear(&fs->batch);
  }
  return cdb_apply(db, db->keybuf, clen, &loc, r->type == CDB_REC_DELETE);
}

/* Cut the newest file at `cut`: a writer truncates it, a reader ignores
 * what follows. */
static int cut_tail(file_scan *fs, uint64_t cut) {
  caskdb *db = fs->db;
  uint64_t end = fs->sc.file_size;
  cdb_pending_clear(&fs->batch);
  if (!db->opts.readonly) {
    if (cdb_os->ftruncate(fs->f->fd, cut) < 0 ||
        cdb_os->fdatasync(fs->f->fd) < 0)
      return cdb_fail(db, cdb_code_from_errno(errno), errno,
                      "cannot cut the torn tail of %s at offset %llu", fs->name,
                      (unsigned long long)cut);
  }
  db->truncated_bytes += end - cut;
  fs->f->size = cut;
  return CASKDB_OK;
}

/* Is the bad or short record at off the torn tail of the newest file?  It
 * is when no whole valid record starts anywhere after it: a crash leaves a
 * prefix of the last write (maybe followed by zeros), never a good record
 * behind a bad one.  A bad length in the middle of the file is therefore
 * corruption, not a tail to cut. */
static int is_torn_tail(file_scan *fs, uint64_t off) {
  if (!fs->newest)
    return 0;
  return cdb_scan_resync(&fs->sc, off) == fs->sc.file_size;
}

/* A bad record at off that is not a torn tail. */
static int corrupt_record(file_scan *fs, uint64_t *off) {
  caskdb *db = fs->db;
  if (!db->opts.salvage)
    return cdb_fail(db, CASKDB_ECORRUPT, 0,
                    "corrupt record in %s at offset %llu", fs->name,
                    (unsigned long long)*off);
  db->corrupt_records++;
  cdb_pending_clear(&fs->batch);
  *off = cdb_scan_resync(&fs->sc, *off);
  return CASKDB_OK;
}

static int scan_records(file_scan *fs) {
  caskdb *db = fs->db;
  uint64_t off = CDB_FILE_HEADER_SIZE;
  cdb_rec r;
  for (;;) {
    int rc = cdb_scan_record(&fs->sc, off, &r);
    if (rc == CDB_SCAN_OK) {
      rc = take_record(fs, off, &r);
      if (rc == CASKDB_OK) {
        off += cdb_rec_size(r.klen, r.vlen);
        continue;
      }
      if (rc != CASKDB_ECORRUPT || db->errmsg[0] != '\0')
        return rc;
      rc = CDB_SCAN_BAD; /* a batch end that does not match its batch */
    }
    if (rc == CDB_SCAN_END)
      break;
    if (rc == CDB_SCAN_IOERR)
      return cdb_fail(db, CASKDB_EIO, fs->sc.err, "cannot read %s", fs->name);
    if (rc == CDB_SCAN_NOMEM)
      return cdb_fail(db, CASKDB_ENOMEM, 0, "out of memory reading %s",
                      fs->name);
    if (is_torn_tail(fs, off))
      return cut_tail(fs, fs->batch.n > 0 ? fs->batch.start : off);
    rc = corrupt_record(fs, &off);
    if (rc != CASKDB_OK)
      return rc;
  }
  fs->f->size = off;
  if (fs->batch.n > 0) {
    /* The file ends inside a batch. */
    if (fs->newest)
      return cut_tail(fs, fs->batch.start);
    return corrupt_record(fs, &off);
  }
  return CASKDB_OK;
}

/* ---- opening one file ---------------------------------------------------- */

/* The newest file is shorter than its header, or its header is zeros:
 * a crash while it was being created.  A writer removes it. */
static int drop_torn_new_file(caskdb *db, cdb_file *f, const char *path,
                              uint64_t size) {
  cdb_os->close(f->fd);
  free(f);
  if (!db->opts.readonly &&
      (cdb_os->unlink(path) < 0 || cdb_os->sync_dir(db->path) < 0))
    return cdb_fail(db, cdb_code_from_errno(errno), errno,
                    "cannot remove the torn file %s", path);
  db->truncated_bytes += size;
  return CASKDB_OK;
}

/* Whether bytes [off, size) of a file are all zero: a newest file that is
 * nothing but zeros is one whose creation a power cut interrupted (its name
 * made durable by a directory sync, its data not). */
static int rest_is_zero(int fd, uint64_t off, uint64_t size) {
  unsigned char buf[4096];
  while (off < size) {
    size_t n = size - off < sizeof buf ? (size_t)(size - off) : sizeof buf;
    size_t i;
    if (cdb_os->pread(fd, buf, n, off) != (ssize_t)n)
      return 0;
    for (i = 0; i < n; i++)
      if (buf[i] != 0)
        return 0;
    off += n;
  }
  return 1;
}

static int check_header(caskdb *db, cdb_file *f, const char *name,
                        uint64_t size, int *torn, int newest) {
  unsigned char buf[CDB_FILE_HEADER_SIZE];
  cdb_file_header h;
  size_t avail = size < sizeof buf ? (size_t)size : sizeof buf;
  ssize_t got = cdb_os->pread(f->fd, buf, avail, 0);
  int rc, zero = 1;
  size_t i;
  if (got < 0 || (size_t)got != avail)
    return cdb_fail(db, CASKDB_EIO, errno, "cannot read the header of %s",
                    name);
  for (i = 0; i < avail; i++)
    zero &= buf[i] == 0;
  rc = cdb_file_header_decode(buf, avail, &h);
  if (zero && newest && size > avail)
    zero = rest_is_zero(f->fd, avail, size);
  *torn = newest && (rc == CDB_DECODE_SHORT || zero);
  if (*torn)
    return CASKDB_OK;
  if (rc == CDB_DECODE_VERSION)
    return cdb_fail(db, CASKDB_EVERSION, 0,
                    "%s has format version %u; this library reads version %u",
                    name, (unsigned)h.version, CDB_FORMAT_VERSION);
  if (rc != CDB_DECODE_OK || h.kind != CDB_FILE_DATA || h.file_id != f->id ||
      h.part != f->part)
    return cdb_fail(db, CASKDB_ECORRUPT, 0, "bad file header in %s", name);
  return CASKDB_OK;
}

/* Read the records of f, from its hint when that is present and sound
 * (never for the newest file, whose tail must be checked), else from the
 * data file itself. */
static int read_file_records(caskdb *db, cdb_file *f, uint32_t slot,
                             const char *name, uint64_t size, int newest) {
  file_scan fs;
  int rc;
  if (!newest && cdb_hint_load(db, f, slot, size) == CASKDB_OK)
    return CASKDB_OK;
  if (newest && !db->opts.readonly)
    cdb_hint_remove(db, f); /* the file will grow: its hint would lie */
  memset(&fs, 0, sizeof fs);
  fs.db = db;
  fs.f = f;
  fs.slot = slot;
  fs.name = name;
  fs.newest = newest;
  if (cdb_scanner_init(&fs.sc, f->fd, size) < 0)
    return cdb_fail(db, CASKDB_ENOMEM, 0, "out of memory");
  rc = scan_records(&fs);
  cdb_pending_clear(&fs.batch);
  free(fs.batch.ops);
  cdb_scanner_free(&fs.sc);
  return rc;
}

/* Open data file `ref`, check its header and give it a slot.  *fp is the
 * file, or NULL when there is nothing to read in it (a torn new file
 * removed, or a bad one skipped by salvage). */
static int open_file(caskdb *db, const file_ref *ref, int newest, cdb_file **fp,
                     uint32_t *slotp) {
  char name[CDB_FILE_NAME_MAX];
  char *path;
  cdb_file *f;
  uint64_t size;
  int rc, torn = 0, slot;
  int writable = newest && !db->opts.readonly;

  *fp = NULL;
  cdb_file_name(name, ref->id, ref->part, CDB_DATA_SUFFIX);
  path = cdb_path_join(db->path, name);
  f = calloc(1, sizeof *f);
  if (path == NULL || f == NULL) {
    free(path);
    free(f);
    return cdb_fail(db, CASKDB_ENOMEM, 0, "out of memory");
  }
  f->id = ref->id;
  f->part = ref->part;
  f->fd = cdb_os->open(path, writable ? O_RDWR : O_RDONLY, 0);
  if (f->fd < 0 || cdb_os->file_size(f->fd, &size) < 0) {
    rc =
        cdb_fail(db, cdb_code_from_errno(errno), errno, "cannot open %s", path);
    if (f->fd >= 0)
      cdb_os->close(f->fd);
    free(f);
    free(path);
    return rc;
  }
  rc = check_header(db, f, name, size, &torn, newest);
  if (rc == CASKDB_OK && torn) {
    rc = drop_torn_new_file(db, f, path, size);
    free(path);
    return rc;
  }
  if (rc == CASKDB_ECORRUPT && db->opts.salvage) {
    /* Skip the whole file, but leave it on disk for the repair tool. */
    db->corrupt_records++;
    cdb_os->close(f->fd);
    free(f);
    free(path);
    return CASKDB_OK;
  }
  free(path);
  if (rc != CASKDB_OK) {
    cdb_os->close(f->fd);
    free(f);
    return rc;
  }
  slot = cdb_add_file(db, f);
  if (slot < 0) {
    cdb_os->close(f->fd);
    free(f);
    return cdb_fail(db, CASKDB_ENOMEM, 0, "out of memory");
  }
  f->size = size;
  *fp = f;
  *slotp = (uint32_t)slot;
  return CASKDB_OK;
}

/* Map f once its records are read; the file a writer appends to gets room
 * to grow in its mapping. */
static void map_file(caskdb *db, cdb_file *f, int newest) {
  uint64_t len = f->size;
  if (newest && !db->opts.readonly && len < db->opts.max_file_size)
    len = db->opts.max_file_size;
  cdb_file_map(db, f, len);
}

/* Load the run of older files that have hints; when a hint in it turns
 * out unusable, apply its files one by one instead (hint.h says why that
 * is right after a partial load). */
static int load_run(caskdb *db, cdb_hint_run *run) {
  int rc = cdb_hint_run_load(db, run);
  size_t i;
  for (i = 0; rc == CASKDB_ENOTFOUND && i < run->n; i++) {
    cdb_file *f = cdb_hint_run_file(run, i);
    char name[CDB_FILE_NAME_MAX];
    cdb_file_name(name, f->id, f->part, CDB_DATA_SUFFIX);
    rc = read_file_records(db, f, cdb_hint_run_slot(run, i), name, f->size, 0);
    if (rc == CASKDB_OK && i + 1 < run->n)
      rc = CASKDB_ENOTFOUND; /* on to the next file */
  }
  cdb_hint_run_clear(run);
  return rc;
}

/* Read the records of the file `ref`.  An older file with a hint joins the
 * run of such files (loaded together later, in key order); anything else
 * first loads the run before it, keeping the files' order. */
static int load_file(caskdb *db, const file_ref *ref, int newest,
                     cdb_hint_run *run) {
  char name[CDB_FILE_NAME_MAX];
  cdb_file *f;
  uint32_t slot;
  int rc = open_file(db, ref, newest, &f, &slot);
  if (rc != CASKDB_OK || f == NULL)
    return rc;
  if (!newest) {
    rc = cdb_hint_run_add(db, run, f, slot);
    if (rc == CASKDB_OK) {
      map_file(db, f, 0);
      return CASKDB_OK;
    }
    if (rc != CASKDB_ENOTFOUND)
      return cdb_fail(db, rc, 0, "cannot read the hint of %010u",
                      (unsigned)f->id);
  }
  rc = load_run(db, run);
  if (rc != CASKDB_OK)
    return rc;
  cdb_file_name(name, ref->id, ref->part, CDB_DATA_SUFFIX);
  rc = read_file_records(db, f, slot, name, f->size, newest);
  if (rc == CASKDB_OK)
    map_file(db, f, newest);
  return rc;
}

int cdb_load(caskdb *db) {
  file_list files;
  cdb_hint_run run;
  file_ref newest = {0, 0};
  size_t i;
  int rc = CASKDB_OK;
  memset(&files, 0, sizeof files);
  memset(&run, 0, sizeof run);
  files.db = db;
  if (cdb_os->list_dir(db->path, collect_data_file, &files) != 0) {
    free(files.refs);
    return cdb_fail(db, cdb_code_from_errno(errno), errno, "cannot list %s",
                    db->path);
  }
  if (files.n > 0) {
    qsort(files.refs, files.n, sizeof *files.refs, compare_refs);
    newest = files.refs[files.n - 1];
  }
  for (i = 0; i < files.n && rc == CASKDB_OK; i++)
    rc = load_file(db, &files.refs[i], i + 1 == files.n, &run);
  if (rc == CASKDB_OK)
    rc = load_run(db, &run);
  cdb_hint_run_free(&run);
  free(files.refs);
  if (rc != CASKDB_OK || db->opts.readonly)
    return rc;
  /* No file yet, or the newest one was dropped or skipped: the file that
   * takes writes must be a new one, after every file on disk. */
  if (db->active == NULL || db->active->id != newest.id ||
      db->active->part != newest.part)
    return cdb_create_active(db, newest.id + 1);
  /* The newest file may hold writes of a process that crashed before
   * syncing them: the sync at the end of open makes them durable before
   * any newer file exists. */
  db->dirty = 1;
  if (db->active->size >= db->opts.max_file_size)
    return cdb_rotate(db);
  return CASKDB_OK;
}

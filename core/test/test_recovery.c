/*
 * test_recovery.c -- what open does with the files a crash or a bad disk
 * leaves behind (DESIGN.md section 5, the recovery rules in open.c).
 *
 *  - The newest data file cut at every byte of its last two records, its
 *    tail zero-filled (appended zeros, the last record overwritten with
 *    zeros from any byte on), or a bit flipped anywhere in its last record:
 *    a torn tail.  Open succeeds, every earlier acknowledged record reads
 *    back, the torn record is absent, truncated_bytes counts the bytes
 *    dropped, the file is cut back to the last good record, and a second
 *    open finds nothing more to cut.  A read-only open ignores the tail and
 *    leaves the file alone.
 *  - A bad record anywhere else (the middle of the newest file, any record
 *    of an older file, an older file cut short, a bad file header):
 *    CASKDB_ECORRUPT naming the file and offset, and nothing is cut; with
 *    salvage the open succeeds, corrupt_records counts it, and every other
 *    key reads back.
 *  - A record damaged after open: caskdb_get and the iterator answer
 *    CASKDB_ECORRUPT, never the bad bytes; other keys still read.
 *  - A file header of an unknown format version: CASKDB_EVERSION.
 *  - Foreign files in the directory are ignored; a newest file shorter than
 *    its header (a crash while a file was being created) is dropped.
 *
 * The database files are damaged with plain POSIX calls (testutil.h).
 */
#include "check.h"
#include "testutil.h"

#include "crc32c.h"

#include <inttypes.h>

static char tmpdir[256];

static const char *db_path(const char *name) {
  static char path[512];
  return tu_join(path, sizeof path, tmpdir, name);
}

/* ---- a model of what was written --------------------------------------- */

/* One acknowledged write: a put or a delete of one key. */
typedef struct op {
  int is_int;
  int64_t num;
  char kbuf[32];
  size_t klen;
  unsigned char val[300];
  size_t vlen;
  int is_delete;
} op;

static caskdb_key op_key(const op *o) {
  return o->is_int ? caskdb_key_int(o->num)
                   : caskdb_key_bytes(o->kbuf, o->klen);
}

static int same_key(const op *a, const op *b) {
  if (a->is_int || b->is_int)
    return a->is_int == b->is_int && a->num == b->num;
  return a->klen == b->klen && memcmp(a->kbuf, b->kbuf, a->klen) == 0;
}

static void op_put_bytes(op *o, const char *key, size_t vlen, unsigned seed) {
  size_t i;
  memset(o, 0, sizeof *o);
  o->klen = strlen(key);
  memcpy(o->kbuf, key, o->klen);
  o->vlen = vlen;
  for (i = 0; i < vlen; i++)
    o->val[i] = (unsigned char)(seed * 31u + i * 7u + 1u);
}

static void op_put_int(op *o, int64_t num, size_t vlen, unsigned seed) {
  op_put_bytes(o, "", vlen, seed);
  o->is_int = 1;
  o->num = num;
}

static void op_delete(op *o, const op *of) {
  *o = *of;
  o->is_delete = 1;
  o->vlen = 0;
}

static void apply_ops(caskdb *db, const op *ops, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (ops[i].is_delete)
      REQUIRE(caskdb_delete(db, op_key(&ops[i])) == CASKDB_OK);
    else
      REQUIRE(caskdb_put(db, op_key(&ops[i]), ops[i].val, ops[i].vlen, NULL) ==
              CASKDB_OK);
  }
}

/* Does db hold exactly the result of ops[0 .. kept), leaving out op `skip`
 * (-1: none), which must also be the only write of its key? */
static int holds_model(caskdb *db, const op *ops, size_t n, size_t kept,
                       long skip) {
  size_t i, j, live = 0;
  int ok = 1;
  for (i = 0; i < n; i++) {
    const op *last = NULL;
    int seen_before = 0;
    for (j = 0; j < i; j++)
      seen_before |= same_key(&ops[j], &ops[i]);
    if (seen_before)
      continue; /* each key once */
    for (j = 0; j < kept; j++)
      if ((long)j != skip && same_key(&ops[j], &ops[i]))
        last = &ops[j];
    if (last == NULL || last->is_delete) {
      const void *v = NULL;
      size_t vlen;
      if (caskdb_get(db, op_key(&ops[i]), &v, &vlen, NULL) !=
          CASKDB_ENOTFOUND) {
        fprintf(stderr, "  op %zu: key should be absent\n", i);
        ok = 0;
      }
    } else {
      live++;
      if (!tu_holds(db, op_key(last), last->val, last->vlen)) {
        fprintf(stderr, "  op %zu: key does not read back\n", i);
        ok = 0;
      }
    }
  }
  if (caskdb_count(db) != live) {
    fprintf(stderr, "  count %" PRIu64 ", model %zu\n", caskdb_count(db), live);
    ok = 0;
  }
  return ok;
}

/* ---- building the databases the cases damage ----------------------------- */

#define NOPS 24

/* Ops whose last two records are new keys (a byte key, an integer key). */
static size_t ops_new_keys(op *ops) {
  size_t i, n = 0;
  char key[32];
  for (i = 0; i < NOPS - 2; i++) {
    snprintf(key, sizeof key, "key-%02zu", i);
    op_put_bytes(&ops[n++], key, 20 + i * 3, (unsigned)i);
  }
  op_put_bytes(&ops[n++], "penultimate", 57, 100);
  op_put_int(&ops[n++], -42, 61, 101);
  return n;
}

/* Ops whose last two records are a delete and an overwrite, so that a torn
 * tail must bring the older values back. */
static size_t ops_old_keys(op *ops) {
  size_t n = ops_new_keys(ops) - 2;
  op_delete(&ops[n], &ops[3]);
  n++;
  op_put_bytes(&ops[n], "key-05", 90, 200);
  n++;
  return n;
}

static void build(const char *path, const caskdb_options *o, const op *ops,
                  size_t n) {
  caskdb *db = tu_open(path, o);
  apply_ops(db, ops, n);
  CHECK_EQ(caskdb_close(db), CASKDB_OK);
}

/* Open as a writer and check what a torn tail cut at `good` (the first
 * `kept` records survive) must look like, twice; then write on. */
static void expect_torn(const char *path, const op *ops, size_t n, size_t kept,
                        uint64_t good, uint64_t dropped, const char *what,
                        uint64_t at, int write_on) {
  const char *file = tu_data_path(path, 1);
  caskdb_stats st;
  caskdb *db = NULL;
  char err[512];
  int ok = 1, rc = caskdb_open(path, NULL, &db, err, sizeof err);
  if (rc != CASKDB_OK) {
    fprintf(stderr,
            "%s at %" PRIu64 ": open gave %s (%s), want a torn "
            "tail cut at %" PRIu64 "\n",
            what, at, caskdb_code_name(rc), err, good);
    CHECK_EQ(rc, CASKDB_OK);
    return;
  }
  st = tu_stats(db);
  ok &= st.truncated_bytes == dropped;
  ok &= tu_file_size(file) == (int64_t)good;
  ok &= holds_model(db, ops, n, kept, -1);
  CHECK_EQ(caskdb_close(db), CASKDB_OK);

  db = tu_open(path, NULL);
  st = tu_stats(db);
  ok &= st.truncated_bytes == 0;
  ok &= tu_file_size(file) == (int64_t)good;
  ok &= holds_model(db, ops, n, kept, -1);
  if (write_on) {
    /* Writes go on after the cut. */
    CHECK_EQ(caskdb_put(db, tu_skey("after"), "recovered", 9, NULL), CASKDB_OK);
    CHECK_EQ(caskdb_close(db), CASKDB_OK);
    db = tu_open(path, NULL);
    ok &= tu_stats(db).truncated_bytes == 0;
    ok &= tu_holds(db, tu_skey("after"), "recovered", 9);
    CHECK_EQ(caskdb_delete(db, tu_skey("after")), CASKDB_OK);
    ok &= holds_model(db, ops, n, kept, -1);
  }
  CHECK_EQ(caskdb_close(db), CASKDB_OK);
  if (!ok)
    fprintf(stderr,
            "%s at %" PRIu64 ": wrong recovery (want %zu records, "
            "cut at %" PRIu64 ", %" PRIu64 " dropped)\n",
            what, at, kept, good, dropped);
  CHECK(ok);
}

/* A read-only open ignores the torn tail and changes nothing on disk. */
static void expect_torn_readonly(const char *path, const op *ops, size_t n,
                                 size_t kept, const char *what, uint64_t at) {
  const char *file = tu_data_path(path, 1);
  int64_t before = tu_file_size(file);
  caskdb_options o;
  caskdb *db;
  int ok = 1;
  caskdb_options_init(&o);
  o.readonly = 1;
  db = tu_open(path, &o);
  ok &= holds_model(db, ops, n, kept, -1);
  CHECK_EQ(caskdb_close(db), CASKDB_OK);
  ok &= tu_file_size(file) == before;
  if (!ok)
    fprintf(stderr, "%s at %" PRIu64 ": wrong read-only recovery\n", what, at);
  CHECK(ok);
}

/* ---- torn tails ---------------------------------------------------------- */

/* The newest file cut at every byte from the start of its second-to-last
 * record to its end. */
static void truncate_every_byte(const char *name, size_t (*make)(op *)) {
  const char *path = db_path(name);
  op ops[NOPS];
  size_t n = make(ops);
  uint64_t offs[NOPS + 1], cut;
  tu_snap snap;
  build(path, NULL, ops, n);
  REQUIRE(tu_record_offsets(tu_data_path(path, 1), offs, NOPS) == n);
  tu_snap_take(&snap, path);
  for (cut = offs[n - 2]; cut <= offs[n]; cut++) {
    size_t kept = 0;
    while (kept < n && offs[kept + 1] <= cut)
      kept++;
    tu_snap_restore(&snap, path);
    tu_truncate(tu_data_path(path, 1), cut);
    expect_torn_readonly(path, ops, n, kept, name, cut);
    expect_torn(path, ops, n, kept, offs[kept], cut - offs[kept], name, cut,
                cut % 16 == 0 || cut == offs[n]);
  }
  tu_snap_free(&snap);
}

/* Zero bytes appended after the last record (a file system that extended
 * the file but never wrote the data). */
static void zeros_appended(void) {
  const char *path = db_path("zeros-appended");
  static const size_t counts[] = {1, 7, 35, 36, 37, 100, 4096, 70000};
  static unsigned char zeros[70000];
  op ops[NOPS];
  size_t n = ops_new_keys(ops), i;
  uint64_t offs[NOPS + 1];
  tu_snap snap;
  build(path, NULL, ops, n);
  REQUIRE(tu_record_offsets(tu_data_path(path, 1), offs, NOPS) == n);
  tu_snap_take(&snap, path);
  for (i = 0; i < sizeof counts / sizeof counts[0]; i++) {
    tu_snap_restore(&snap, path);
    tu_append(tu_data_path(path, 1), zeros, counts[i]);
    expect_torn_readonly(path, ops, n, n, "zeros appended", counts[i]);
    expect_torn(path, ops, n, n, offs[n], counts[i], "zeros appended",
                counts[i], 1);
  }
  tu_snap_free(&snap);
}

/* The last record overwritten with zeros from byte j to its end, for every
 * j (j = 0: the whole record), and the whole record zeroed plus zeros
 * appended.  A crash that extended the file leaves zeros from a page
 * boundary on, and that boundary can fall anywhere in the record. */
static void zeros_over_last_record(const char *name, size_t (*make)(op *)) {
  const char *path = db_path(name);
  static unsigned char zeros[512];
  op ops[NOPS];
  size_t n = make(ops);
  uint64_t offs[NOPS + 1], j, last, size;
  tu_snap snap;
  build(path, NULL, ops, n);
  REQUIRE(tu_record_offsets(tu_data_path(path, 1), offs, NOPS) == n);
  last = offs[n - 1];
  size = offs[n] - last;
  tu_snap_take(&snap, path);
  for (j = 0; j < size; j++) {
    tu_snap_restore(&snap, path);
    tu_zero(tu_data_path(path, 1), last + j, (size_t)(size - j));
    expect_torn(path, ops, n, n - 1, last, size, name, j, j % 16 == 0);
  }
  tu_snap_restore(&snap, path);
  tu_zero(tu_data_path(path, 1), last, (size_t)size);
  tu_append(tu_data_path(path, 1), zeros, sizeof zeros);
  expect_torn(path, ops, n, n - 1, last, size + sizeof zeros, name, 9999, 1);
  tu_snap_free(&snap);
}

/* One bit flipped in each byte of the last record of the newest file: the
 * record fails its CRC (or its header), nothing valid follows, so it is a
 * torn tail.  `from`/`to` select the bytes of the record to try. */
static void flip_last_record(const char *name, uint64_t from, uint64_t to) {
  const char *path = db_path(name);
  op ops[NOPS];
  size_t n = ops_old_keys(ops);
  uint64_t offs[NOPS + 1], j, last, size;
  tu_snap snap;
  build(path, NULL, ops, n);
  REQUIRE(tu_record_offsets(tu_data_path(path, 1), offs, NOPS) == n);
  last = offs[n - 1];
  size = offs[n] - last;
  if (to > size)
    to = size;
  tu_snap_take(&snap, path);
  for (j = from; j < to; j++) {
    tu_snap_restore(&snap, path);
    tu_flip_bit(tu_data_path(path, 1), last + j, (int)(j % 8));
    expect_torn(path, ops, n, n - 1, last, size, name, j, j % 16 == 0);
  }
  tu_snap_free(&snap);
}

/* ---- corruption no crash explains ---------------------------------------- */

/* open must fail with `want`, its message naming `file` (and `offset`, if
 * not -1), and leave every file exactly as it was. */
static void expect_open_fails(const char *path, int want, const char *file,
                              long long offset) {
  caskdb_options o;
  caskdb *db = (caskdb *)&o; /* not NULL: open must store NULL */
  char err[512], num[32];
  tu_snap before, after;
  size_t i;
  int rc, same = 1;
  caskdb_options_init(&o);
  tu_snap_take(&before, path);
  rc = caskdb_open(path, &o, &db, err, sizeof err);
  CHECK_EQ(rc, want);
  CHECK(db == NULL);
  if (rc == CASKDB_OK)
    caskdb_close(db);
  if (strstr(err, file) == NULL) {
    fprintf(stderr, "message \"%s\" does not name %s\n", err, file);
    CHECK(strstr(err, file) != NULL);
  }
  if (offset >= 0) {
    snprintf(num, sizeof num, "%lld", offset);
    if (strstr(err, num) == NULL) {
      fprintf(stderr, "message \"%s\" does not name offset %s\n", err, num);
      CHECK(strstr(err, num) != NULL);
    }
  }
  /* A read-only open refuses it the same way. */
  o.readonly = 1;
  rc = caskdb_open(path, &o, &db, NULL, 0);
  CHECK_EQ(rc, want);
  if (rc == CASKDB_OK)
    caskdb_close(db);
  tu_snap_take(&after, path);
  same = before.n == after.n;
  for (i = 0; same && i < before.n; i++)
    same = before.len[i] == after.len[i] &&
           memcmp(before.data[i], after.data[i], before.len[i]) == 0;
  CHECK(same); /* nothing was cut or rewritten */
  tu_snap_free(&before);
  tu_snap_free(&after);
}

/* With salvage the open succeeds, counts the damage, and every key but the
 * one of op `skip` (-1: check them all as the model says) reads back. */
static void expect_salvage(const char *path, const op *ops, size_t n,
                           long skip) {
  caskdb_options o;
  caskdb *db;
  caskdb_options_init(&o);
  o.salvage = 1;
  db = tu_open(path, &o);
  CHECK(tu_stats(db).corrupt_records >= 1);
  CHECK(holds_model(db, ops, n, n, skip));
  /* The salvaged database takes writes. */
  CHECK_EQ(caskdb_put(db, tu_skey("salvaged"), "yes", 3, NULL), CASKDB_OK);
  CHECK(tu_holds(db, tu_skey("salvaged"), "yes", 3));
  CHECK_EQ(caskdb_delete(db, tu_skey("salvaged")), CASKDB_OK);
  CHECK_EQ(caskdb_close(db), CASKDB_OK);
  o.readonly = 1;
  db = tu_open(path, &o);
  CHECK(holds_model(db, ops, n, n, skip));
  CHECK_EQ(caskdb_close(db), CASKDB_OK);
}

/* A bit flipped in the value of a record in the middle of the newest (here
 * the only) file. */
static void flip_middle_of_newest(void) {
  const char *path = db_path("flip-middle");
  op ops[NOPS];
  size_t n = ops_new_keys(ops);
  uint64_t offs[NOPS + 1];
  size_t k = 10;
  build(path, NULL, ops, n);
  REQUIRE(tu_record_offsets(tu_data_path(path, 1), offs, NOPS) == n);
  tu_flip_bit(tu_data_path(path, 1), offs[k + 1] - 3, 5);
  expect_open_fails(path, CASKDB_ECORRUPT, "0000000001.cask",
                    (long long)offs[k]);
  expect_salvage(path, ops, n, (long)k);
}

/* A bit flipped in a length field of a middle record of the newest file, so
 * that the record claims to run past the end of the file.  That is no torn
 * tail: whole records follow it, and cutting the file there would throw
 * them away. */
static void flip_length_in_middle_of_newest(void) {
  const char *path = db_path("flip-length");
  op ops[NOPS];
  size_t n = ops_new_keys(ops);
  uint64_t offs[NOPS + 1];
  size_t k = 10;
  build(path, NULL, ops, n);
  REQUIRE(tu_record_offsets(tu_data_path(path, 1), offs, NOPS) == n);
  /* Bit 4 of the third byte of the value length: +1 MiB. */
  tu_flip_bit(tu_data_path(path, 1), offs[k] + 32 + 2, 4);
  expect_open_fails(path, CASKDB_ECORRUPT, "0000000001.cask",
                    (long long)offs[k]);
  expect_salvage(path, ops, n, (long)k);
}

/* A database of several 4096-byte files, every key written once. */
#define MULTI_OPS 90

static size_t build_multi(const char *path, op *ops) {
  caskdb_options o;
  size_t i;
  char key[32];
  caskdb_options_init(&o);
  o.max_file_size = 4096;
  for (i = 0; i < MULTI_OPS; i++) {
    snprintf(key, sizeof key, "multi-%03zu", i);
    if (i % 9 == 4)
      op_put_int(&ops[i], (int64_t)i * 1000 - 40000, 100 + i % 50, (unsigned)i);
    else
      op_put_bytes(&ops[i], key, 120 + (i * 37) % 160, (unsigned)i);
  }
  build(path, &o, ops, MULTI_OPS);
  REQUIRE(tu_exists(tu_data_path(path, 4)));
  return MULTI_OPS;
}

/* Which op wrote the record at `off` of file `id`?  Records are in op
 * order across the files. */
static long op_of_record(const char *path, uint32_t id, uint64_t off) {
  uint64_t offs[MULTI_OPS + 1];
  long before = 0;
  uint32_t f;
  size_t i, n;
  for (f = 1; f < id; f++)
    before += (long)tu_record_offsets(tu_data_path(path, f), offs, MULTI_OPS);
  n = tu_record_offsets(tu_data_path(path, id), offs, MULTI_OPS);
  for (i = 0; i < n; i++)
    if (offs[i] == off)
      return before + (long)i;
  REQUIRE(0);
  return -1;
}

/* Bits flipped in a middle record of the oldest file and in the last record
 * of an older file, and an older file cut short: all corruption, never a
 * torn tail. */
/* Remove the hint files of a database, so that open reads every data file
 * and its records' CRCs. */
static void remove_hints(const char *path) {
  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -f '%s'/*.hint", path);
  REQUIRE(system(cmd) == 0);
}

/* Without hints, open reads older files whole: damage there fails the open. */
static void damage_older_files(void) {
  const char *path = db_path("multi");
  op ops[MULTI_OPS];
  size_t n = build_multi(path, ops);
  uint64_t offs[MULTI_OPS + 1];
  size_t nrec;
  tu_snap snap;
  char file[32];
  long skip;
  remove_hints(path);
  tu_snap_take(&snap, path);

  /* The middle of file 1. */
  nrec = tu_record_offsets(tu_data_path(path, 1), offs, MULTI_OPS);
  REQUIRE(nrec >= 3);
  tu_flip_bit(tu_data_path(path, 1), offs[nrec / 2 + 1] - 1, 0);
  expect_open_fails(path, CASKDB_ECORRUPT, "0000000001.cask",
                    (long long)offs[nrec / 2]);
  expect_salvage(path, ops, n, op_of_record(path, 1, offs[nrec / 2]));

  /* The last record of file 2: not the newest file, so not a torn tail. */
  tu_snap_restore(&snap, path);
  nrec = tu_record_offsets(tu_data_path(path, 2), offs, MULTI_OPS);
  tu_flip_bit(tu_data_path(path, 2), offs[nrec] - 2, 3);
  expect_open_fails(path, CASKDB_ECORRUPT, tu_data_name(file, sizeof file, 2),
                    (long long)offs[nrec - 1]);
  expect_salvage(path, ops, n, op_of_record(path, 2, offs[nrec - 1]));

  /* File 2 cut in its last record. */
  tu_snap_restore(&snap, path);
  nrec = tu_record_offsets(tu_data_path(path, 2), offs, MULTI_OPS);
  skip = op_of_record(path, 2, offs[nrec - 1]);
  tu_truncate(tu_data_path(path, 2), offs[nrec] - 5);
  expect_open_fails(path, CASKDB_ECORRUPT, tu_data_name(file, sizeof file, 2),
                    (long long)offs[nrec - 1]);
  expect_salvage(path, ops, n, skip);

  /* A bit flipped in the middle of the newest file of several. */
  tu_snap_restore(&snap, path);
  {
    uint32_t newest = 4;
    while (tu_exists(tu_data_path(path, newest + 1)))
      newest++;
    nrec = tu_record_offsets(tu_data_path(path, newest), offs, MULTI_OPS);
    REQUIRE(nrec >= 3);
    tu_flip_bit(tu_data_path(path, newest), offs[1] + 40, 6);
    expect_open_fails(path, CASKDB_ECORRUPT,
                      tu_data_name(file, sizeof file, newest),
                      (long long)offs[1]);
    expect_salvage(path, ops, n, op_of_record(path, newest, offs[1]));
  }

  /* A bad file header (its CRC fails) on an older file. */
  tu_snap_restore(&snap, path);
  tu_flip_bit(tu_data_path(path, 2), 13, 1);
  expect_open_fails(path, CASKDB_ECORRUPT, tu_data_name(file, sizeof file, 2),
                    -1);
  {
    caskdb_options o;
    caskdb *db;
    uint64_t offs2[MULTI_OPS + 1];
    long first = op_of_record(path, 2, TU_FILE_HEADER);
    long count =
        (long)tu_record_offsets(tu_data_path(path, 2), offs2, MULTI_OPS);
    long i;
    caskdb_options_init(&o);
    o.salvage = 1;
    db = tu_open(path, &o);
    CHECK(tu_stats(db).corrupt_records >= 1);
    for (i = 0; i < (long)n; i++) {
      if (i >= first && i < first + count)
        CHECK_EQ(caskdb_exists(db, op_key(&ops[i])), CASKDB_ENOTFOUND);
      else
        CHECK(tu_holds(db, op_key(&ops[i]), ops[i].val, ops[i].vlen));
    }
    CHECK_EQ(caskdb_close(db), CASKDB_OK);
  }
  tu_snap_free(&snap);
}

/* With hints, open does not read older files' values (that is what hints
 * are for): a value damaged there is found by the get that reads it, which
 * returns CASKDB_ECORRUPT and never the bad bytes.  A hint that no longer
 * matches its data file (cut short) is not used, and the open reads the data
 * file and reports the damage. */
static void damage_older_files_with_hints(void) {
  const char *path = db_path("multi-hints");
  op ops[MULTI_OPS];
  size_t n = build_multi(path, ops);
  uint64_t offs[MULTI_OPS + 1];
  size_t nrec, i;
  long bad;
  tu_snap snap;
  caskdb *db;
  int others_ok = 1;
  tu_snap_take(&snap, path);
  nrec = tu_record_offsets(tu_data_path(path, 1), offs, MULTI_OPS);
  REQUIRE(nrec >= 3);
  bad = op_of_record(path, 1, offs[nrec / 2]);
  tu_flip_bit(tu_data_path(path, 1), offs[nrec / 2 + 1] - 1, 0);
  db = tu_open(path, NULL);
  for (i = 0; i < n; i++) {
    const void *v;
    size_t vlen, j, last = i;
    int rc;
    for (j = i + 1; j < n; j++)
      if (same_key(&ops[j], &ops[i]))
        last = j;
    if (last != i || ops[i].is_delete)
      continue; /* judge each key by its last op only */
    rc = caskdb_get(db, op_key(&ops[i]), &v, &vlen, NULL);
    if ((long)i == bad)
      CHECK_EQ(rc, CASKDB_ECORRUPT);
    else
      others_ok &= rc == CASKDB_OK && vlen == ops[i].vlen &&
                   memcmp(v, ops[i].val, vlen) == 0;
  }
  CHECK(others_ok);
  CHECK_EQ(caskdb_close(db), CASKDB_OK);

  tu_snap_restore(&snap, path);
  nrec = tu_record_offsets(tu_data_path(path, 2), offs, MULTI_OPS);
  tu_truncate(tu_data_path(path, 2), offs[nrec] - 5);
  {
    char file[32];
    expect_open_fails(path, CASKDB_ECORRUPT, tu_data_name(file, sizeof file, 2),
                      (long long)offs[nrec - 1]);
  }
  tu_snap_free(&snap);
}

/* ---- damage after open --------------------------------------------------- */

static void flip_after_open(void) {
  const char *path = db_path("flip-after-open");
  op ops[MULTI_OPS];
  size_t n = build_multi(path, ops), i;
  uint64_t offs[MULTI_OPS + 1];
  caskdb *db = tu_open(path, NULL);
  const unsigned char sentinel = 0;
  const void *v = &sentinel;
  size_t vlen = 12345;
  caskdb_iter *it;
  caskdb_key key;
  long bad_value, bad_key;
  int rc, corrupt = 0, good = 0;

  /* A value bit in file 1, a key bit in file 3. */
  tu_record_offsets(tu_data_path(path, 1), offs, MULTI_OPS);
  bad_value = op_of_record(path, 1, offs[2]);
  tu_flip_bit(tu_data_path(path, 1), offs[3] - 1, 7);
  tu_record_offsets(tu_data_path(path, 3), offs, MULTI_OPS);
  bad_key = op_of_record(path, 3, offs[1]);
  tu_flip_bit(tu_data_path(path, 3), offs[1] + TU_REC_HEADER, 2);

  CHECK_EQ(caskdb_get(db, op_key(&ops[bad_value]), &v, &vlen, NULL),
           CASKDB_ECORRUPT);
  CHECK(v == &sentinel && vlen == 12345); /* never the bad bytes */
  CHECK(strstr(caskdb_errmsg(db), "0000000001") != NULL);
  CHECK_EQ(caskdb_get(db, op_key(&ops[bad_key]), &v, &vlen, NULL),
           CASKDB_ECORRUPT);
  CHECK(v == &sentinel && vlen == 12345);
  CHECK(strstr(caskdb_errmsg(db), "0000000003") != NULL);
  /* The key is still there; only its record is bad. */
  CHECK_EQ(caskdb_exists(db, op_key(&ops[bad_value])), CASKDB_OK);
  for (i = 0; i < n; i++)
    if ((long)i != bad_value && (long)i != bad_key)
      CHECK(tu_holds(db, op_key(&ops[i]), ops[i].val, ops[i].vlen));

  /* The iterator reports each bad record once and goes on. */
  REQUIRE(caskdb_iter_open(db, NULL, &it) == CASKDB_OK);
  while ((rc = caskdb_iter_next(it, &key, &v, &vlen, NULL)) != CASKDB_DONE) {
    if (rc == CASKDB_ECORRUPT)
      corrupt++;
    else if (rc == CASKDB_OK)
      good++;
    else
      break;
    if (corrupt + good > (int)n + 2)
      break;
  }
  CHECK_EQ(rc, CASKDB_DONE);
  CHECK_EQ(corrupt, 2);
  CHECK_EQ(good, (int)n - 2);
  caskdb_iter_close(it);

  /* Overwriting the damaged key makes it readable again. */
  CHECK_EQ(caskdb_put(db, op_key(&ops[bad_value]), "new", 3, NULL), CASKDB_OK);
  CHECK(tu_holds(db, op_key(&ops[bad_value]), "new", 3));
  CHECK_EQ(caskdb_close(db), CASKDB_OK);
}

/* ---- file headers -------------------------------------------------------- */

/* Give data file `file` format version `version`, with a valid header CRC. */
static void set_version(const char *file, uint16_t version) {
  unsigned char hdr[TU_FILE_HEADER];
  size_t len;
  unsigned char *all = tu_read_file(file, &len);
  uint32_t crc;
  REQUIRE(len >= TU_FILE_HEADER);
  memcpy(hdr, all, sizeof hdr);
  free(all);
  hdr[8] = (unsigned char)version;
  hdr[9] = (unsigned char)(version >> 8);
  crc = cdb_crc32c(0, hdr, 20);
  hdr[20] = (unsigned char)crc;
  hdr[21] = (unsigned char)(crc >> 8);
  hdr[22] = (unsigned char)(crc >> 16);
  hdr[23] = (unsigned char)(crc >> 24);
  tu_pwrite(file, 0, hdr, sizeof hdr);
}

static void unknown_version(void) {
  const char *path = db_path("version");
  op ops[MULTI_OPS];
  size_t n = build_multi(path, ops);
  tu_snap snap;
  caskdb_options o;
  caskdb *db;
  tu_snap_take(&snap, path);

  /* Version 1 written back the same way is still fine (the patching is
   * right). */
  set_version(tu_data_path(path, 2), 1);
  db = tu_open(path, NULL);
  CHECK(holds_model(db, ops, n, n, -1));
  CHECK_EQ(caskdb_close(db), CASKDB_OK);

  tu_snap_restore(&snap, path);
  set_version(tu_data_path(path, 1), 2);
  expect_open_fails(path, CASKDB_EVERSION, "0000000001.cask", -1);

  tu_snap_restore(&snap, path);
  set_version(tu_data_path(path, 2), 0x100);
  expect_open_fails(path, CASKDB_EVERSION, "0000000002.cask", -1);

  /* The newest file too: a future version is no torn header. */
  tu_snap_restore(&snap, path);
  {
    uint32_t newest = 4;
    char name[32];
    while (tu_exists(tu_data_path(path, newest + 1)))
      newest++;
    set_version(tu_data_path(path, newest), 0xffff);
    expect_open_fails(path, CASKDB_EVERSION,
                      tu_data_name(name, sizeof name, newest), -1);
  }

  /* Salvage does not skip a file it cannot read. */
  caskdb_options_init(&o);
  o.salvage = 1;
  db = (caskdb *)&o;
  CHECK_EQ(caskdb_open(path, &o, &db, NULL, 0), CASKDB_EVERSION);
  CHECK(db == NULL);
  tu_snap_free(&snap);
}

/* ---- the directory ------------------------------------------------------- */

static void foreign_files_ignored(void) {
  const char *path = db_path("foreign");
  static const char *const names[] = {"notes.txt",        "0000000001.cask~",
                                      "0000000001.caskx", "000000001.cask",
                                      "00000000001.cask", "4294967296.cask",
                                      "abcdefghij.cask",  ".cask",
                                      "0000000009.tmp",   "0000000002.cask.x"};
  static const char garbage[] = "this is not a data file\0\x01\x02\xff";
  op ops[NOPS];
  size_t n = ops_new_keys(ops), i;
  char p[600];
  caskdb *db;
  build(path, NULL, ops, n);
  for (i = 0; i < sizeof names / sizeof names[0]; i++)
    tu_write_file(tu_join(p, sizeof p, path, names[i]), garbage,
                  sizeof garbage);
  REQUIRE(mkdir(tu_join(p, sizeof p, path, "subdir"), 0755) == 0);
  db = tu_open(path, NULL);
  CHECK(holds_model(db, ops, n, n, -1));
  CHECK_EQ(tu_stats(db).data_files, 1);
  CHECK_EQ(tu_stats(db).truncated_bytes, 0);
  CHECK_EQ(tu_stats(db).corrupt_records, 0);
  CHECK_EQ(caskdb_put(db, tu_skey("more"), "x", 1, NULL), CASKDB_OK);
  CHECK_EQ(caskdb_close(db), CASKDB_OK);
  db = tu_open(path, NULL);
  CHECK(tu_holds(db, tu_skey("more"), "x", 1));
  CHECK_EQ(caskdb_close(db), CASKDB_OK);
  /* Left alone. */
  for (i = 0; i < sizeof names / sizeof names[0]; i++)
    CHECK_EQ(tu_file_size(tu_join(p, sizeof p, path, names[i])),
             sizeof garbage);
}

/* A crash while a new data file was being created leaves it shorter than
 * its header (or its header all zeros): the file is dropped and writes go
 * on. */
static void short_newest_file(void) {
  const char *path = db_path("short-newest");
  unsigned char hdr[TU_FILE_HEADER];
  op ops[NOPS];
  size_t n = ops_new_keys(ops), len, cut;
  unsigned char *file1;
  tu_snap snap;
  build(path, NULL, ops, n);
  file1 = tu_read_file(tu_data_path(path, 1), &len);
  tu_snap_take(&snap, path);
  for (cut = 0; cut <= TU_FILE_HEADER; cut++) {
    caskdb *db;
    caskdb_stats st;
    int zero = cut == TU_FILE_HEADER;
    tu_snap_restore(&snap, path);
    /* File 2's header is file 1's with the id changed; only a prefix of it
     * reached the disk (or, for cut 24, only zeros did). */
    memcpy(hdr, file1, sizeof hdr);
    hdr[12] = 2;
    if (zero)
      memset(hdr, 0, sizeof hdr);
    tu_write_file(tu_data_path(path, 2), hdr, cut);
    db = tu_open(path, NULL);
    st = tu_stats(db);
    CHECK_EQ(st.truncated_bytes, cut);
    CHECK(holds_model(db, ops, n, n, -1));
    CHECK(st.active_file_id >= 2);
    CHECK_EQ(caskdb_put(db, tu_skey("next"), "file", 4, NULL), CASKDB_OK);
    CHECK_EQ(caskdb_close(db), CASKDB_OK);
    /* No file is left shorter than a header. */
    CHECK(!tu_exists(tu_data_path(path, 2)) ||
          tu_file_size(tu_data_path(path, 2)) >= TU_FILE_HEADER);
    db = tu_open(path, NULL);
    st = tu_stats(db);
    CHECK_EQ(st.truncated_bytes, 0);
    CHECK(tu_holds(db, tu_skey("next"), "file", 4));
    CHECK_EQ(caskdb_delete(db, tu_skey("next")), CASKDB_OK);
    CHECK(holds_model(db, ops, n, n, -1));
    CHECK_EQ(caskdb_close(db), CASKDB_OK);
  }
  free(file1);
  tu_snap_free(&snap);
}

/* The same crash during a rotation of a multi-file database. */
static void short_file_after_rotation(void) {
  const char *path = db_path("short-rotation");
  op ops[MULTI_OPS];
  size_t n = build_multi(path, ops);
  caskdb_options o;
  caskdb *db;
  uint32_t newest = 4;
  caskdb_options_init(&o);
  o.max_file_size = 4096;
  while (tu_exists(tu_data_path(path, newest + 1)))
    newest++;
  tu_write_file(tu_data_path(path, newest + 1), "CASKDB\r\n\x01", 9);
  db = tu_open(path, &o);
  CHECK_EQ(tu_stats(db).truncated_bytes, 9);
  CHECK(holds_model(db, ops, n, n, -1));
  CHECK_EQ(caskdb_put(db, tu_skey("rotated"), "ok", 2, NULL), CASKDB_OK);
  CHECK_EQ(caskdb_close(db), CASKDB_OK);
  db = tu_open(path, &o);
  CHECK_EQ(tu_stats(db).truncated_bytes, 0);
  CHECK(tu_holds(db, tu_skey("rotated"), "ok", 2));
  CHECK_EQ(caskdb_delete(db, tu_skey("rotated")), CASKDB_OK);
  CHECK(holds_model(db, ops, n, n, -1));
  CHECK_EQ(caskdb_close(db), CASKDB_OK);
}

int main(void) {
  tu_make_tmpdir(tmpdir, sizeof tmpdir, "recovery");
  truncate_every_byte("trunc-new-keys", ops_new_keys);
  truncate_every_byte("trunc-old-keys", ops_old_keys);
  zeros_appended();
  zeros_over_last_record("zero-new-keys", ops_new_keys);
  zeros_over_last_record("zero-old-keys", ops_old_keys);
  /* CRC, timestamp, expiry: the header stays valid, the CRC fails. */
  flip_last_record("flip-last-crc", 0, 20);
  /* Key and value bytes. */
  flip_last_record("flip-last-body", TU_REC_HEADER, 10000);
  /* Type, key kind, reserved byte, flags and the two lengths. */
  flip_last_record("flip-last-fields", 20, TU_REC_HEADER);
  flip_middle_of_newest();
  flip_length_in_middle_of_newest();
  damage_older_files();
  damage_older_files_with_hints();
  flip_after_open();
  unknown_version();
  foreign_files_ignored();
  short_newest_file();
  short_file_after_rotation();
  tu_remove_tree(tmpdir);
  return check_report();
}

/*
 * fuzz_dir.c -- opening a whole directory of fuzzed files: data files of
 * several ids and parts, their hints (loaded together in one key-ordered
 * pass, core/src/hintrun.c, or one by one when a hint is unsorted or
 * unsound), .tmp leftovers, a LOCK and names the engine must ignore.
 *
 * The input is a directory, self-delimiting and easy to mutate:
 *
 *   u8 count                      number of files (count % 17)
 *   then per file:
 *     u8 selector                 what the file is called (below)
 *     u8 len[3]                   its length, little-endian (cut to what
 *                                 is left of the input)
 *     len bytes                   its contents
 *
 * selector: bits 0-2 the kind, bits 3-5 the id - 1 (ids 1..8), bits 6-7
 * the part (0..3):  0, 6 data file  1, 7 hint  2 data .tmp  3 hint .tmp
 * 4 LOCK  5 a name that is not a database file.  A later file of the same
 * name replaces the earlier one.  gen_corpus writes the seeds from real
 * databases (rotated files with hints, merged, batches, deletes, TTLs).
 *
 * Each directory is opened three ways, each from a fresh copy: as a writer,
 * as a writer with salvage, read-only.  The bar:
 *  - the open succeeds, or fails with CASKDB_ECORRUPT or CASKDB_EVERSION;
 *  - every key the iterator gives reads back with caskdb_get as CASKDB_OK
 *    or CASKDB_ECORRUPT (a hint that lies about a position), and the
 *    iterator gives exactly caskdb_count() keys (the clock is fixed);
 *  - a writer can write and read back a new key;
 *  - a writer's directory opens again with the same keys plus the new one.
 *
 * Not checked: that deleting the hints and opening again gives the same
 * keys.  Hints are derived data, but docs/FORMAT.md section 10 ("Not
 * checked") lets a sound hint lie: its offset and size need not match a
 * real record with the same key and type, and its timestamp and expiry are
 * not compared with the data record's.  A hint naming key "b" at the
 * position of a record of key "a", or giving a key an expiry in the past,
 * opens fine and gives other keys than the data file alone, so the two
 * opens can legitimately differ (and a lie in an older file's hint also
 * changes which of two files' records wins a key).
 */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_DIR_MAX_FILES 16

/* The file name a selector byte stands for. */
static void selector_name(char *out, size_t n, uint8_t sel) {
  char name[CDB_FILE_NAME_MAX];
  uint32_t id = 1 + ((sel >> 3) & 7), part = (sel >> 6) & 3;
  switch (sel & 7) {
  case 0:
  case 6:
    cdb_file_name(name, id, part, CDB_DATA_SUFFIX);
    snprintf(out, n, "%s", name);
    break;
  case 1:
  case 7:
    cdb_file_name(name, id, part, CDB_HINT_SUFFIX);
    snprintf(out, n, "%s", name);
    break;
  case 2:
    cdb_file_name(name, id, part, CDB_DATA_SUFFIX);
    snprintf(out, n, "%s%s", name, CDB_TMP_SUFFIX);
    break;
  case 3:
    cdb_file_name(name, id, part, CDB_HINT_SUFFIX);
    snprintf(out, n, "%s%s", name, CDB_TMP_SUFFIX);
    break;
  case 4:
    snprintf(out, n, "LOCK");
    break;
  default:
    /* Names the engine ignores (docs/FORMAT.md section 1). */
    switch (part) {
    case 0:
      snprintf(out, n, "%u.cask", (unsigned)id);
      break;
    case 1:
      snprintf(out, n, "%010u_0000000000.cask", (unsigned)id);
      break;
    case 2:
      snprintf(out, n, "%010u.CASK", (unsigned)id);
      break;
    default:
      snprintf(out, n, "%u.cask.tmp", (unsigned)id);
      break;
    }
    break;
  }
}

/* Write the directory the input describes into dir (emptied first). */
static void write_dir(const char *dir, const uint8_t *data, size_t size) {
  size_t off = 1;
  unsigned count, i;
  fuzz_clear_dir(dir);
  if (size == 0)
    return;
  count = data[0] % (FUZZ_DIR_MAX_FILES + 1);
  for (i = 0; i < count && off < size; i++) {
    char name[64], path[400];
    uint8_t sel = data[off++];
    size_t len = 0;
    int b;
    for (b = 0; b < 3 && off < size; b++)
      len |= (size_t)data[off++] << (8 * b);
    if (len > size - off)
      len = size - off;
    selector_name(name, sizeof name, sel);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    fuzz_write_file(path, data + off, len);
    off += len;
  }
}

/* An order-dependent hash of the keys the iterator gives (FNV-1a), the
 * probe key left out; the iterator gives keys in key order, so two walks
 * over the same key set give the same hash. */
typedef struct {
  uint64_t n;    /* keys given, the probe included */
  uint64_t hash; /* of the keys other than the probe */
  int saw_probe;
} walk_result;

static void hash_bytes(uint64_t *h, const void *p, size_t n) {
  const unsigned char *c = p;
  while (n-- > 0) {
    *h ^= *c++;
    *h *= 1099511628211ull;
  }
}

static int is_probe(caskdb_key k) {
  return !k.is_int && k.len == 10 && memcmp(k.data, "fuzz-probe", 10) == 0;
}

/* Walk every key; each must read back as CASKDB_OK or CASKDB_ECORRUPT. */
static walk_result walk(caskdb *db) {
  caskdb_iter *it;
  caskdb_key k;
  walk_result w = {0, 1469598103934665603ull, 0};
  int rc;
  FUZZ_ASSERT(caskdb_iter_open(db, NULL, &it) == CASKDB_OK);
  while ((rc = caskdb_iter_next(it, &k, NULL, NULL, NULL)) == CASKDB_OK ||
         rc == CASKDB_ECORRUPT) {
    unsigned char *key = NULL;
    caskdb_key copy = k;
    const void *v;
    size_t vlen;
    if (!k.is_int) {
      key = malloc(k.len + 1);
      FUZZ_ASSERT(key != NULL);
      memcpy(key, k.data, k.len);
      copy = caskdb_key_bytes(key, k.len);
    }
    rc = caskdb_get(db, copy, &v, &vlen, NULL);
    FUZZ_ASSERT(rc == CASKDB_OK || rc == CASKDB_ECORRUPT);
    if (is_probe(copy)) {
      w.saw_probe = 1;
    } else {
      unsigned char tag = (unsigned char)copy.is_int;
      hash_bytes(&w.hash, &tag, 1);
      if (copy.is_int)
        hash_bytes(&w.hash, &copy.num, sizeof copy.num);
      else {
        uint64_t len = copy.len;
        hash_bytes(&w.hash, &len, sizeof len);
        hash_bytes(&w.hash, key, copy.len);
      }
    }
    free(key);
    w.n++;
    FUZZ_ASSERT(w.n < 1000000);
  }
  FUZZ_ASSERT(rc == CASKDB_DONE);
  caskdb_iter_close(it);
  return w;
}

static void try_open(const char *dir, int salvage, int readonly) {
  caskdb_options o;
  caskdb *db;
  caskdb_key probe = caskdb_key_bytes("fuzz-probe", 10);
  const void *v;
  size_t vlen;
  walk_result w, w2;
  int rc;
  fuzz_options(&o);
  o.salvage = salvage;
  o.readonly = readonly;
  rc = caskdb_open(dir, &o, &db, NULL, 0);
  if (rc != CASKDB_OK) {
    FUZZ_ASSERT(db == NULL);
    FUZZ_ASSERT(rc == CASKDB_ECORRUPT || rc == CASKDB_EVERSION);
    return;
  }
  w = walk(db);
  FUZZ_ASSERT(w.n == caskdb_count(db));
  if (readonly) {
    caskdb_close(db);
    return;
  }
  /* The probe may already be in a fuzzed file: start without it. */
  rc = caskdb_delete(db, probe);
  FUZZ_ASSERT(rc == CASKDB_OK || rc == CASKDB_ENOTFOUND);
  FUZZ_ASSERT(caskdb_put(db, probe, "p", 1, NULL) == CASKDB_OK);
  FUZZ_ASSERT(caskdb_get(db, probe, &v, &vlen, NULL) == CASKDB_OK);
  FUZZ_ASSERT(vlen == 1 && memcmp(v, "p", 1) == 0);
  FUZZ_ASSERT(caskdb_close(db) == CASKDB_OK);
  /* Recovery left a directory that opens again with the same keys. */
  rc = caskdb_open(dir, &o, &db, NULL, 0);
  FUZZ_ASSERT(rc == CASKDB_OK);
  w2 = walk(db);
  FUZZ_ASSERT(w2.n == caskdb_count(db));
  FUZZ_ASSERT(w2.saw_probe);
  FUZZ_ASSERT(w2.n == w.n - (uint64_t)w.saw_probe + 1);
  FUZZ_ASSERT(w2.hash == w.hash);
  FUZZ_ASSERT(caskdb_get(db, probe, &v, &vlen, NULL) == CASKDB_OK);
  FUZZ_ASSERT(vlen == 1 && memcmp(v, "p", 1) == 0);
  caskdb_close(db);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char dir[300];
  int way;
  fuzz_install_os();
  snprintf(dir, sizeof dir, "%s/db", fuzz_scratch());
  mkdir(dir, 0755);
  for (way = 0; way < 3; way++) {
    write_dir(dir, data, size);
    try_open(dir, way == 1, way == 2);
  }
  fuzz_clear_dir(dir);
  return 0;
}

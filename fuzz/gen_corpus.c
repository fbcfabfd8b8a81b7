/*
 * gen_corpus.c -- write the seed corpora of the fuzz targets from databases
 * written by the engine itself:  gen_corpus <fuzz/corpus>
 *
 *   fuzz_scan/    whole data files: the template database, a rotated
 *                 database's files, a file with a batch, torn and
 *                 zero-tailed copies
 *   fuzz_record/  every record of those files, one per seed
 *   fuzz_header/  file headers (data, hint, another version) and a name
 *   fuzz_get/     the template's body (fuzz_get puts it after the header)
 *   fuzz_hint/    the hint files the engine wrote for a rotated database
 *   fuzz_dir/     whole directories (fuzz_dir.c's input format): rotated
 *                 files with their hints, deletes and TTLs, batches, a
 *                 merged database, .tmp leftovers, a LOCK, a damaged hint
 *   fuzz_msgpack/ encodings of Lua values of every kind lmsgpack.h maps
 *
 * Run it again after a format change and commit the result.
 */
#include "fuzz_util.h"

#include "lauxlib.h"
#include "lmsgpack.h"
#include "lualib.h"

#include <errno.h>

static const char *out_root;

static void emit(const char *target, const char *name, const void *data,
                 size_t n) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", out_root, target);
  if (mkdir(path, 0755) != 0 && errno != EEXIST)
    abort();
  snprintf(path, sizeof path, "%s/%s/%s", out_root, target, name);
  fuzz_write_file(path, data, n);
}

/* A data file as scan seed, each of its records as record seeds. */
static void emit_file(const char *tag, const unsigned char *f, size_t n) {
  char name[128];
  size_t off = CDB_FILE_HEADER_SIZE;
  int i = 0;
  snprintf(name, sizeof name, "%s.cask", tag);
  emit("fuzz_scan", name, f, n);
  while (off + CDB_REC_HEADER_SIZE <= n) {
    cdb_rec r;
    uint64_t size;
    if (cdb_rec_decode_header(f + off, &r) != CDB_DECODE_OK)
      break;
    size = cdb_rec_size(r.klen, r.vlen);
    if (off + size > n)
      break;
    snprintf(name, sizeof name, "%s-rec%02d", tag, i++);
    emit("fuzz_record", name, f + off, (size_t)size);
    off += (size_t)size;
  }
}

static unsigned char *db_file(const char *dir, uint32_t id, size_t *n) {
  char path[512];
  fuzz_data_path(path, sizeof path, dir, id);
  return fuzz_read_file(path, n);
}

/* Append one hand-made record (the engine has no batch API yet). */
static size_t add_rec(unsigned char *out, int type, const char *key,
                      const void *value, uint32_t vlen) {
  cdb_rec r;
  memset(&r, 0, sizeof r);
  r.type = (uint8_t)type;
  r.key_kind = CDB_KEY_BYTES;
  r.timestamp = FUZZ_NOW_MS;
  r.klen = (uint32_t)strlen(key);
  r.vlen = vlen;
  r.key = (const unsigned char *)key;
  r.value = value;
  cdb_rec_encode_header(out, &r);
  memcpy(out + CDB_REC_HEADER_SIZE, key, r.klen);
  if (vlen)
    memcpy(out + CDB_REC_HEADER_SIZE + r.klen, value, vlen);
  return CDB_REC_HEADER_SIZE + r.klen + vlen;
}

static void data_files(const char *scratch) {
  char dir[512];
  unsigned char *f, *g;
  size_t n, m;
  caskdb_options o;
  caskdb *db;
  int i;
  char hdr[CDB_FILE_HEADER_SIZE];
  cdb_file_header h;

  snprintf(dir, sizeof dir, "%s/template", scratch);
  mkdir(dir, 0755);
  fuzz_write_template(dir);
  f = db_file(dir, 1, &n);
  emit_file("template", f, n);
  emit("fuzz_get", "template-body", f + CDB_FILE_HEADER_SIZE,
       n - CDB_FILE_HEADER_SIZE);
  emit("fuzz_header", "data-header", f, CDB_FILE_HEADER_SIZE);
  /* Torn: cut inside the last record; zero tail; a flipped bit inside. */
  emit("fuzz_scan", "template-torn.cask", f, n - 3);
  g = calloc(1, n + 64);
  memcpy(g, f, n);
  emit("fuzz_scan", "template-zero-tail.cask", g, n + 64);
  g[CDB_FILE_HEADER_SIZE + 40] ^= 4;
  emit("fuzz_scan", "template-flipped.cask", g, n);
  free(g);
  /* The header alone: a file created, nothing written yet. */
  emit("fuzz_scan", "header-only.cask", f, CDB_FILE_HEADER_SIZE);

  /* A batch: two puts and a delete, committed, then an uncommitted one. */
  g = calloc(1, n + 4096);
  memcpy(g, f, n);
  m = n;
  m += add_rec(g + m, CDB_REC_BATCH_PUT, "b1", "one", 3);
  m += add_rec(g + m, CDB_REC_BATCH_PUT, "b2", "two", 3);
  m += add_rec(g + m, CDB_REC_BATCH_DELETE, "a", NULL, 0);
  {
    unsigned char count[4] = {3, 0, 0, 0};
    m += add_rec(g + m, CDB_REC_BATCH_END, "", count, 4);
  }
  emit_file("batch", g, m);
  m += add_rec(g + m, CDB_REC_BATCH_PUT, "b3", "three", 5);
  emit("fuzz_scan", "batch-unfinished.cask", g, m);
  free(g);
  free(f);
  fuzz_clear_dir(dir);
  rmdir(dir);

  /* A rotated database: several files, values over the file size limit. */
  snprintf(dir, sizeof dir, "%s/rotated", scratch);
  mkdir(dir, 0755);
  fuzz_options(&o);
  if (caskdb_open(dir, &o, &db, NULL, 0) != CASKDB_OK)
    abort();
  for (i = 0; i < 16; i++) {
    static char v[1500];
    memset(v, 'a' + i, sizeof v);
    caskdb_put(db, caskdb_key_int(i % 5), v, (size_t)(i * 377) % 1500, NULL);
  }
  caskdb_close(db);
  for (i = 1;; i++) {
    char tag[64], path[600];
    struct stat st;
    fuzz_data_path(path, sizeof path, dir, (uint32_t)i);
    if (stat(path, &st) != 0)
      break;
    snprintf(tag, sizeof tag, "rotated-%d", i);
    f = db_file(dir, (uint32_t)i, &n);
    emit_file(tag, f, n);
    free(f);
    cdb_file_name(tag, (uint32_t)i, 0, CDB_HINT_SUFFIX);
    snprintf(path, sizeof path, "%s/%s", dir, tag);
    if (stat(path, &st) == 0) {
      f = fuzz_read_file(path, &n);
      emit("fuzz_hint", tag, f, n);
      emit("fuzz_header", "hint-file-header", f, CDB_FILE_HEADER_SIZE);
      free(f);
    }
  }
  fuzz_clear_dir(dir);
  rmdir(dir);

  /* Headers the decoder must refuse or tell apart. */
  h.version = CDB_FORMAT_VERSION;
  h.kind = CDB_FILE_HINT;
  h.file_id = 7;
  h.part = 1;
  cdb_file_header_encode((unsigned char *)hdr, &h);
  emit("fuzz_header", "hint-header", hdr, sizeof hdr);
  h.version = CDB_FORMAT_VERSION + 1;
  h.kind = CDB_FILE_DATA;
  cdb_file_header_encode((unsigned char *)hdr, &h);
  emit("fuzz_header", "version2-header", hdr, sizeof hdr);
  emit("fuzz_header", "name", "0000000001.cask", 15);
}

/* ---- whole directories (fuzz_dir) ---------------------------------------
 * A directory is serialised as fuzz_dir.c reads it: a file count, then for
 * each file a selector byte (kind, id - 1, part), a 3-byte length and the
 * bytes.  Every name must be one a selector can stand for. */

static unsigned char dir_buf[256 * 1024];
static size_t dir_len;
static unsigned dir_count;

static void dir_begin(void) {
  dir_len = 1;
  dir_count = 0;
}

static void dir_add(uint8_t sel, const unsigned char *f, size_t n) {
  if (dir_len + 4 + n > sizeof dir_buf || n >= (1u << 24) || dir_count >= 16)
    abort();
  dir_buf[dir_len++] = sel;
  dir_buf[dir_len++] = (unsigned char)n;
  dir_buf[dir_len++] = (unsigned char)(n >> 8);
  dir_buf[dir_len++] = (unsigned char)(n >> 16);
  memcpy(dir_buf + dir_len, f, n);
  dir_len += n;
  dir_count++;
}

static uint8_t selector(unsigned kind, uint32_t id, uint32_t part) {
  if (id < 1 || id > 8 || part > 3)
    abort(); /* the seed database does not fit the input format */
  return (uint8_t)(kind | (id - 1) << 3 | part << 6);
}

/* Add every data and hint file of the database in dir, in name order. */
static void dir_add_db(const char *dir) {
  struct dirent **names;
  int i, n = scandir(dir, &names, NULL, alphasort);
  if (n < 0)
    abort();
  for (i = 0; i < n; i++) {
    const char *name = names[i]->d_name;
    uint32_t id, part;
    unsigned kind;
    char path[600];
    unsigned char *f;
    size_t len;
    if (cdb_parse_file_name(name, CDB_DATA_SUFFIX, &id, &part))
      kind = 0;
    else if (cdb_parse_file_name(name, CDB_HINT_SUFFIX, &id, &part))
      kind = 1;
    else
      kind = 8; /* LOCK, ".", "..": not part of the database */
    if (kind < 8) {
      snprintf(path, sizeof path, "%s/%s", dir, name);
      f = fuzz_read_file(path, &len);
      dir_add(selector(kind, id, part), f, len);
      free(f);
    }
    free(names[i]);
  }
  free(names);
}

static void dir_emit(const char *name) {
  dir_buf[0] = (unsigned char)dir_count;
  emit("fuzz_dir", name, dir_buf, dir_len);
}

/* Puts of int and byte keys over several files, overwrites across files,
 * deletes, a key that has expired and one that will. */
static void dir_workload(caskdb *db, int round) {
  char v[260], key[32];
  int i;
  memset(v, 'a' + round, sizeof v);
  for (i = 0; i < 40; i++) {
    caskdb_meta m;
    memset(&m, 0, sizeof m);
    m.type = (uint8_t)(i % 3 ? 128 + i : 0); /* user tags */
    if (i % 5 == 3)
      m.expiry = i % 2 ? FUZZ_NOW_MS - 10 : FUZZ_NOW_MS + 100000;
    snprintf(key, sizeof key, "k%02d", (i * 7 + round) % 11);
    if (caskdb_put(db, caskdb_key_bytes(key, strlen(key)), v,
                   (size_t)(i * 53 + round * 17) % 260, &m) != CASKDB_OK ||
        caskdb_put(db, caskdb_key_int(i % 6 - 2), key, strlen(key), NULL) !=
            CASKDB_OK)
      abort();
    if (i % 6 == 5) {
      /* Deletes of keys that may be gone already: either is fine. */
      int rc1 = caskdb_delete(db, caskdb_key_bytes("k03", 3));
      int rc2 = caskdb_delete(db, caskdb_key_int(1));
      if ((rc1 != CASKDB_OK && rc1 != CASKDB_ENOTFOUND) ||
          (rc2 != CASKDB_OK && rc2 != CASKDB_ENOTFOUND))
        abort();
    }
  }
}

static caskdb *dir_open(const char *dir) {
  caskdb_options o;
  caskdb *db;
  fuzz_options(&o);
  if (caskdb_open(dir, &o, &db, NULL, 0) != CASKDB_OK)
    abort();
  return db;
}

static void dir_seeds(const char *scratch) {
  char dir[512], path[600], name[CDB_FILE_NAME_MAX];
  caskdb *db;
  caskdb_batch *b;
  unsigned char *f;
  size_t n;
  int i;

  snprintf(dir, sizeof dir, "%s/dirseed", scratch);
  mkdir(dir, 0755);

  /* Rotated: several immutable files, each with its sorted hint. */
  db = dir_open(dir);
  dir_workload(db, 0);
  dir_workload(db, 1);
  caskdb_close(db);
  dir_begin();
  dir_add_db(dir);
  dir_emit("rotated");

  /* The same with leftovers: .tmp files of a merge and of a hint writer,
   * a LOCK, names that are not database files. */
  dir_begin();
  dir_add_db(dir);
  cdb_file_name(name, 1, 0, CDB_DATA_SUFFIX);
  snprintf(path, sizeof path, "%s/%s", dir, name);
  f = fuzz_read_file(path, &n);
  dir_add(selector(2, 3, 1), f, n);
  dir_add(selector(5, 1, 0), f, n / 2);
  free(f);
  cdb_file_name(name, 1, 0, CDB_HINT_SUFFIX);
  snprintf(path, sizeof path, "%s/%s", dir, name);
  f = fuzz_read_file(path, &n);
  dir_add(selector(3, 2, 0), f, n);
  free(f);
  dir_add(selector(4, 1, 0), (const unsigned char *)"", 0);
  dir_emit("leftovers");

  /* A damaged hint in the middle of the run: the engine falls back to
   * applying the files one by one. */
  dir_begin();
  dir_add_db(dir);
  cdb_file_name(name, 2, 0, CDB_HINT_SUFFIX);
  snprintf(path, sizeof path, "%s/%s", dir, name);
  f = fuzz_read_file(path, &n);
  f[n / 2] ^= 0x10;
  dir_add(selector(1, 2, 0), f, n); /* replaces the good hint */
  free(f);
  dir_emit("damaged-hint");

  /* Merged, then written again: merge outputs with parts and hints. */
  db = dir_open(dir);
  if (caskdb_merge(db) != CASKDB_OK)
    abort();
  caskdb_close(db);
  dir_begin();
  dir_add_db(dir);
  dir_emit("merged");
  db = dir_open(dir);
  dir_workload(db, 2);
  caskdb_close(db);
  dir_begin();
  dir_add_db(dir);
  dir_emit("merged-then-written");
  fuzz_clear_dir(dir);

  /* Batches across rotation, with deletes, and a hint per file. */
  db = dir_open(dir);
  if (caskdb_batch_new(&b) != CASKDB_OK)
    abort();
  for (i = 0; i < 60; i++) {
    char v[300], key[16];
    memset(v, 'B', sizeof v);
    snprintf(key, sizeof key, "b%d", i % 9);
    if (caskdb_batch_put(b, caskdb_key_bytes(key, strlen(key)), v,
                         (size_t)(i * 41) % 300, NULL) != CASKDB_OK ||
        (i % 4 == 3 &&
         caskdb_batch_delete(b, caskdb_key_bytes("b1", 2)) != CASKDB_OK))
      abort();
    if (i % 5 == 4) {
      if (caskdb_batch_commit(db, b) != CASKDB_OK)
        abort();
      caskdb_batch_clear(b);
    }
  }
  caskdb_batch_free(b);
  caskdb_close(db);
  dir_begin();
  dir_add_db(dir);
  dir_emit("batches");
  fuzz_clear_dir(dir);
  rmdir(dir);
}

/* ---- MessagePack seeds ------------------------------------------------- */

static const char *lua_values[] = {
    "return 0",
    "return -1",
    "return 127, 128, -32, -33",
    "return 65536, -2147483649, math.maxinteger, math.mininteger",
    "return 1.5, -0.0, 1/0, 0/0",
    "return true",
    "return ''",
    "return 'caf\\xc3\\xa9'",
    "return '\\xff\\xfe binary'",
    "return string.rep('x', 40), string.rep('y', 300)",
    "return {}",
    "return {1, 2, 3}",
    "return {a = 1, b = {c = {true, false}}, [3] = 'x', [1.5] = 2}",
    "return {[true] = 1, [false] = 0}",
    "local t = {} for i = 1, 20 do t[i] = i * i end return t",
    "local t = {} for i = 1, 20 do t['k' .. i] = i end return t",
    "local t = {} local c = t for i = 1, 30 do c[1] = {} c = c[1] end return t",
};

static void msgpack_seeds(void) {
  lua_State *L = luaL_newstate();
  size_t i;
  int seq = 0;
  luaL_openlibs(L);
  for (i = 0; i < sizeof lua_values / sizeof lua_values[0]; i++) {
    int top, j;
    if (luaL_dostring(L, lua_values[i]) != LUA_OK)
      abort();
    top = lua_gettop(L);
    for (j = 1; j <= top; j++) {
      lmsgpack_buf *b = lmsgpack_newbuf(L);
      char name[32];
      if (lmsgpack_encode(L, j, b) != NULL)
        abort();
      snprintf(name, sizeof name, "value-%02d", seq++);
      emit("fuzz_msgpack", name, b->data, b->len);
      lua_settop(L, top);
    }
    lua_settop(L, 0);
  }
  lua_close(L);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: gen_corpus <fuzz/corpus>\n");
    return 2;
  }
  out_root = argv[1];
  mkdir(out_root, 0755);
  fuzz_install_os();
  data_files(fuzz_scratch());
  dir_seeds(fuzz_scratch());
  msgpack_seeds();
  return 0;
}

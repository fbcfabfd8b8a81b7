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
  msgpack_seeds();
  return 0;
}

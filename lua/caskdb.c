/*
 * caskdb.c -- the Lua binding of the CaskDB engine: `require "caskdb"`.
 *
 * The shape follows liolib.c.  A database handle is a full userdata
 * ("caskdb.db") that is born closed: it exists, with its metatable, before
 * caskdb_open() is called, so an error half-way leaves nothing to clean up.
 * One close function serves db:close(), __close and __gc, and closing twice
 * is harmless.  Every method checks twice: the type (the registry name), then
 * liveness ("caskdb: database is closed").
 *
 * Errors follow DESIGN.md section 5.  A programmer's mistake (a bad argument,
 * a closed handle, a key over the size limit, a value that cannot be stored)
 * raises "caskdb: ...".  A failure of the world returns nil, message, code,
 * where code is caskdb_code_name() of the engine's return code ("io",
 * "corrupt", "locked", "readonly", ...).  Where nothing can be returned
 * (db[k] = v, a step of a for loop) a failure of the world raises too.
 *
 * Keys: a Lua string is a byte key; an integer is an integer key; a float
 * with an exact integer value is that integer (as in a Lua table); any other
 * key is an argument error.
 *
 * Values are stored with a type tag (caskdb_meta.type), listed in FORMAT.md:
 *   0 string   the bytes of the string
 *   1 integer  8 bytes, little-endian two's complement
 *   2 float    8 bytes, little-endian IEEE-754 binary64 (bit-exact: NaN,
 *              infinities and -0.0 come back as they went in)
 *   3 boolean  1 byte, 0x00 or 0x01
 *   4 table    one MessagePack object (see lmsgpack.h)
 * Tags 5..127 are reserved for CaskDB, 128..255 are the application's.  A
 * record with a tag this binding does not know reads as its raw bytes, as a
 * string.
 *
 * Time to live (db:set(k, v, ttl), db:ttl(k), db:expire(k, ttl)) follows
 * ngx.shared.DICT: seconds as a number (millisecond resolution), 0 or nil
 * for "never expires".  The expiry stored is absolute: the binding's clock
 * plus the ttl.  Every handle is opened with the binding's clock (clock_fn
 * below): the system clock (CLOCK_REALTIME), or the fixed time a test set
 * with caskdb._testing.set_time(ms).  The clock is plain C and never calls
 * into Lua.  A handle can also ask its clock to say "the epoch" (time 0)
 * for the length of one engine call: then no key has expired, which is how
 * get_stale, ttl, expire and flush_expired see keys whose time has passed
 * but that are still in the keydir (as DICT's expired-but-not-yet-freed
 * items).
 *
 * The ngx.shared.DICT method set (get, get_stale, set, safe_set, add,
 * safe_add, replace, delete, incr, get_keys, flush_expired, ttl, expire,
 * capacity, free_space) has DICT's names, arguments and result shapes;
 * the flags argument is caskdb_meta.flags.  Where DICT returns an error
 * for a bad argument ("nil key", "bad value type"), CaskDB raises, by the
 * rule above.
 *
 * Atomic batches (db:batch(fn)) wrap a caskdb_batch in a "caskdb.batch"
 * userdata whose __gc frees it, so an error raised anywhere never leaks it.
 *
 * Iterators (pairs, range, prefix) are C closures over a "caskdb.iter"
 * userdata wrapping a caskdb_iter.  The engine wants every iterator closed
 * before its handle, so the handle keeps a list of its live iterators and
 * closes them when it closes, whatever the order of close, __close and
 * __gc.  The list nodes are malloc'd and owned by the list, not by the
 * iterator userdata: an iterator collected while the binding holds bytes
 * the engine handed out (a Lua allocation can run finalizers) only marks its
 * node as an orphan, closed at the next call on the handle.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "caskdb.h"
#include "compat.h"
#include "lauxlib.h"
#include "lmsgpack.h"
#include "lua.h"

#define DB_MT "caskdb.db"
#define ITER_MT "caskdb.iter"
#define BATCH_MT "caskdb.batch"

/* The value type tags of this binding (caskdb_meta.type). */
#define TAG_STRING 0
#define TAG_INTEGER 1
#define TAG_FLOAT 2
#define TAG_BOOLEAN 3
#define TAG_TABLE 4

typedef struct lnode lnode;
typedef struct literator literator;

/* A database handle.  db == NULL: closed. */
typedef struct ldb {
  caskdb *db;
  lnode *iters; /* live iterators, orphans included */
  int busy;     /* the binding holds bytes the engine handed out */
  int orphans;  /* nodes in iters whose userdata was collected */
  int stale;    /* the clock says 0 (nothing has expired) while set */
} ldb;

/* One live caskdb_iter, in the list of its handle. */
struct lnode {
  caskdb_iter *it;
  lnode *prev, *next;
  literator *owner; /* NULL: the userdata was collected (an orphan) */
};

/* An iterator userdata; its user value 1 is the database userdata. */
struct literator {
  ldb *d;
  lnode *node; /* NULL: finished or closed */
};

/* A batch userdata, handed to the function of db:batch(fn).  b == NULL:
 * finished (committed, abandoned or never made). */
typedef struct lbatch {
  caskdb_batch *b;
} lbatch;

/* ---------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------- */

/* Raise a message made as by lua_pushfstring.  Unlike luaL_error it adds no
 * "file:line:" in front: every message of the binding starts with
 * "caskdb:" (the traceback still shows where). */
static int raisef(lua_State *L, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  return lua_error(L);
}

/* Raise "caskdb: bad argument #arg to 'fname' (msg)", counting as Lua does:
 * in a method call (db:get(k)) the handle is not counted. */
static int argerror(lua_State *L, int arg, const char *fname, const char *msg) {
  lua_Debug ar;
  if (lua_getstack(L, 0, &ar) && lua_getinfo(L, "n", &ar) &&
      ar.namewhat != NULL && strcmp(ar.namewhat, "method") == 0) {
    arg--;
    if (arg == 0)
      return raisef(L, "caskdb: calling '%s' on bad self (%s)", fname, msg);
  }
  return raisef(L, "caskdb: bad argument #%d to '%s' (%s)", arg, fname, msg);
}

static int typeerror(lua_State *L, int arg, const char *fname,
                     const char *expected) {
  const char *got = luaL_typename(L, arg);
  if (lua_type(L, arg) == LUA_TNUMBER && !lua_isinteger(L, arg))
    got = "float";
  return argerror(L, arg, fname,
                  lua_pushfstring(L, "%s expected, got %s", expected, got));
}

/* The message of a failure: the engine's detail if it gave one. */
static void push_message(lua_State *L, caskdb *db, int rc) {
  const char *msg = db != NULL ? caskdb_errmsg(db) : "";
  if (msg == NULL || *msg == '\0')
    msg = caskdb_strerror(rc);
  lua_pushfstring(L, "caskdb: %s", msg);
}

/* Return nil, message, code for a failure of the world; raise for
 * CASKDB_EINVAL and CASKDB_ETOOLARGE, which only a bad argument causes. */
static int fail(lua_State *L, caskdb *db, int rc) {
  push_message(L, db, rc);
  if (rc == CASKDB_EINVAL || rc == CASKDB_ETOOLARGE)
    return lua_error(L);
  lua_pushnil(L);
  lua_insert(L, -2);
  lua_pushstring(L, caskdb_code_name(rc));
  return 3;
}

/* Raise the failure (where nothing can be returned). */
static int raise_failure(lua_State *L, caskdb *db, int rc) {
  push_message(L, db, rc);
  return lua_error(L);
}

/* ---------------------------------------------------------------------------
 * Iterator bookkeeping
 * ------------------------------------------------------------------------- */

static void unlink_node(ldb *d, lnode *n) {
  if (n->prev != NULL)
    n->prev->next = n->next;
  else
    d->iters = n->next;
  if (n->next != NULL)
    n->next->prev = n->prev;
  caskdb_iter_close(n->it);
  free(n);
}

/* Close the iterator of `li`, now or (while the engine's bytes are held)
 * at the next call on its handle. */
static void iter_release(literator *li) {
  lnode *n = li->node;
  if (n == NULL)
    return;
  li->node = NULL;
  if (li->d->busy) {
    n->owner = NULL;
    li->d->orphans++;
  } else {
    unlink_node(li->d, n);
  }
}

static void sweep_orphans(ldb *d) {
  lnode *n = d->iters;
  while (d->orphans > 0 && n != NULL) {
    lnode *next = n->next;
    if (n->owner == NULL) {
      unlink_node(d, n);
      d->orphans--;
    }
    n = next;
  }
  d->orphans = 0;
}

/* Close every iterator of the handle (before the handle itself). */
static void close_iters(ldb *d) {
  while (d->iters != NULL) {
    if (d->iters->owner != NULL)
      d->iters->owner->node = NULL;
    unlink_node(d, d->iters);
  }
  d->orphans = 0;
}

/* ---------------------------------------------------------------------------
 * Checking arguments
 * ------------------------------------------------------------------------- */

static ldb *todb(lua_State *L, const char *fname) {
  ldb *d = (ldb *)luaL_testudata(L, 1, DB_MT);
  if (d == NULL)
    typeerror(L, 1, fname, "caskdb database");
  return d;
}

/* The open handle at index 1 (raises for anything else). */
static ldb *checkdb(lua_State *L, const char *fname) {
  ldb *d = todb(L, fname);
  if (d->db == NULL)
    raisef(L, "caskdb: database is closed");
  d->busy = 0; /* no engine bytes are held across calls */
  if (d->orphans > 0)
    sweep_orphans(d);
  return d;
}

/* The key at index arg: a string or an integer (or a float with an exact
 * integer value).  A string key stays valid while it is on the stack. */
static caskdb_key checkkey(lua_State *L, int arg, const char *fname) {
  size_t len;
  const char *s;
  if (lua_type(L, arg) == LUA_TNUMBER) {
    int isint;
    lua_Integer n = lua_tointegerx(L, arg, &isint);
    if (isint)
      return caskdb_key_int((int64_t)n);
  } else if (lua_type(L, arg) == LUA_TSTRING) {
    s = lua_tolstring(L, arg, &len);
    if (len > CASKDB_MAX_KEY_SIZE)
      argerror(L, arg, fname,
               lua_pushfstring(L, "key of %I bytes, the limit is %I",
                               (lua_Integer)len,
                               (lua_Integer)CASKDB_MAX_KEY_SIZE));
    return caskdb_key_bytes(s, len);
  }
  typeerror(L, arg, fname, "string or integer key");
  return caskdb_key_int(0); /* not reached */
}

/* ---------------------------------------------------------------------------
 * Values: Lua value <-> tag and bytes
 * ------------------------------------------------------------------------- */

static void put_le64(unsigned char *p, uint64_t v) {
  int i;
  for (i = 0; i < 8; i++)
    p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le64(const unsigned char *p) {
  uint64_t v = 0;
  int i;
  for (i = 7; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

/* An encoded value: bytes, length, tag; scalars live in `small`. */
typedef struct value {
  const void *data;
  size_t len;
  uint8_t tag;
  unsigned char small[8];
} value;

static void encode_number(lua_State *L, int arg, value *v) {
  uint64_t bits;
  if (lua_isinteger(L, arg)) {
    bits = (uint64_t)lua_tointeger(L, arg);
    v->tag = TAG_INTEGER;
  } else {
    double x = (double)lua_tonumber(L, arg);
    memcpy(&bits, &x, sizeof bits);
    v->tag = TAG_FLOAT;
  }
  put_le64(v->small, bits);
  v->data = v->small;
  v->len = 8;
}

/* Encode the table at arg into a buffer pushed on the stack. */
static void encode_table(lua_State *L, int arg, const char *fname, value *v) {
  lmsgpack_buf *b = lmsgpack_newbuf(L);
  const char *err = lmsgpack_encode(L, arg, b);
  if (err != NULL)
    argerror(L, arg, fname, err);
  v->data = b->data;
  v->len = b->len;
  v->tag = TAG_TABLE;
}

/* Encode the non-nil value at arg.  May push one slot (a table's buffer),
 * which must stay on the stack while v is used. */
static void checkvalue(lua_State *L, int arg, const char *fname, value *v) {
  switch (lua_type(L, arg)) {
  case LUA_TSTRING:
    v->data = lua_tolstring(L, arg, &v->len);
    v->tag = TAG_STRING;
    break;
  case LUA_TNUMBER:
    encode_number(L, arg, v);
    break;
  case LUA_TBOOLEAN:
    v->small[0] = (unsigned char)lua_toboolean(L, arg);
    v->data = v->small;
    v->len = 1;
    v->tag = TAG_BOOLEAN;
    break;
  case LUA_TTABLE:
    encode_table(L, arg, fname, v);
    break;
  default:
    typeerror(L, arg, fname, "string, number, boolean, table or nil");
  }
  if (v->len > CASKDB_MAX_VALUE_SIZE)
    argerror(L, arg, fname,
             lua_pushfstring(L, "value of %I bytes, the limit is %I",
                             (lua_Integer)v->len,
                             (lua_Integer)CASKDB_MAX_VALUE_SIZE));
}

/* Turn the string on top (the stored bytes of a record tagged `tag`) into
 * its Lua value, in place.  Returns 0, or -1 with the top replaced by a
 * message if the bytes are not a valid value of their tag. */
static int decode_top(lua_State *L, uint8_t tag) {
  size_t len;
  const unsigned char *p = (const unsigned char *)lua_tolstring(L, -1, &len);
  const char *kind = NULL;
  uint64_t bits;
  double x;
  switch (tag) {
  case TAG_INTEGER:
    if (len != 8) {
      kind = "integer";
      break;
    }
    lua_pushinteger(L, (lua_Integer)get_le64(p));
    break;
  case TAG_FLOAT:
    if (len != 8) {
      kind = "float";
      break;
    }
    bits = get_le64(p);
    memcpy(&x, &bits, sizeof x);
    lua_pushnumber(L, (lua_Number)x);
    break;
  case TAG_BOOLEAN:
    if (len != 1 || p[0] > 1) {
      kind = "boolean";
      break;
    }
    lua_pushboolean(L, p[0]);
    break;
  case TAG_TABLE:
    if (!lmsgpack_decode(L, (const char *)p, len)) {
      kind = "table";
    } else if (!lua_istable(L, -1)) { /* valid MessagePack, not a table */
      lua_pop(L, 1);
      kind = "table";
    }
    break;
  default: /* a string, or a tag unknown here: the raw bytes */
    return 0;
  }
  if (kind != NULL) {
    lua_pushfstring(L, "caskdb: corrupt %s value", kind);
    lua_replace(L, -2);
    return -1;
  }
  lua_replace(L, -2);
  return 0;
}

/* ---------------------------------------------------------------------------
 * Time to live
 * ------------------------------------------------------------------------- */

/* Milliseconds since the Unix epoch by the system clock. */
static uint64_t system_ms(void) {
#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
  struct timespec ts;
  if (timespec_get(&ts, TIME_UTC) == TIME_UTC)
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
#endif
  return (uint64_t)time(NULL) * 1000u;
}

/* The test clock (caskdb._testing.set_time): when set, every handle of the
 * process reads this fixed time.  Test-only, and not thread-safe. */
static int test_time_set = 0;
static uint64_t test_time = 0;

/* The binding's time, in milliseconds since the Unix epoch. */
static uint64_t now_ms(void) { return test_time_set ? test_time : system_ms(); }

/* The engine's clock for every handle; ctx is the handle's ldb. */
static uint64_t clock_fn(void *ctx) {
  const ldb *d = (const ldb *)ctx;
  if (d != NULL && d->stale)
    return 0; /* expiry <= 0 never holds: nothing has expired */
  return now_ms();
}

/* The absolute expiry for the ttl at arg (seconds; nil or 0: never). */
static uint64_t checkttl(lua_State *L, int arg, const char *fname) {
  lua_Number ttl;
  uint64_t ms;
  if (lua_isnoneornil(L, arg))
    return 0;
  if (lua_type(L, arg) != LUA_TNUMBER)
    typeerror(L, arg, fname, "time to live in seconds");
  ttl = lua_tonumber(L, arg);
  if (!(ttl >= 0) || ttl > 1e12) /* NaN fails too; 1e12 s: 31,000 years */
    argerror(L, arg, fname, "time to live from 0 to 1e12 seconds expected");
  if (ttl == 0)
    return 0;
  ms = (uint64_t)(ttl * 1000);
  if ((lua_Number)ms < ttl * 1000) /* round up: a ttl never ends early */
    ms++;
  return now_ms() + ms;
}

/* Whether `expiry` has passed by the binding's clock. */
static int expired(uint64_t expiry) {
  return expiry != 0 && expiry <= now_ms();
}

/* Push the seconds left before `expiry`: 0 if it never expires, negative
 * if it has passed (as DICT's ttl of an expired item not yet freed). */
static void push_ttl(lua_State *L, uint64_t expiry) {
  if (expiry == 0)
    lua_pushinteger(L, 0);
  else
    lua_pushnumber(L, (lua_Number)(int64_t)(expiry - now_ms()) / 1000);
}

/* The user flags at arg (nil: 0), an integer from 0 to 2^32-1. */
static uint32_t checkflags(lua_State *L, int arg, const char *fname) {
  lua_Integer n = 0;
  int isint = 0;
  if (lua_isnoneornil(L, arg))
    return 0;
  if (lua_type(L, arg) == LUA_TNUMBER)
    n = lua_tointegerx(L, arg, &isint);
  if (!isint)
    typeerror(L, arg, fname, "integer flags");
  if (n < 0 || n > (lua_Integer)UINT32_MAX)
    argerror(L, arg, fname, "flags from 0 to 4294967295 expected");
  return (uint32_t)n;
}

/* caskdb_get with the handle's clock at 0: an expired key still in the
 * keydir is found too. */
static int get_stale(ldb *d, caskdb_key k, const void **data, size_t *len,
                     caskdb_meta *meta) {
  int rc;
  d->stale = 1;
  rc = caskdb_get(d->db, k, data, len, meta);
  d->stale = 0;
  return rc;
}

/* ---------------------------------------------------------------------------
 * Opening
 * ------------------------------------------------------------------------- */

static int opterror(lua_State *L, const char *name, const char *why) {
  return raisef(L, "caskdb: bad option '%s' (%s)", name, why);
}

static int opt_boolean(lua_State *L, const char *name) {
  if (!lua_isboolean(L, -1))
    opterror(
        L, name,
        lua_pushfstring(L, "boolean expected, got %s", luaL_typename(L, -1)));
  return lua_toboolean(L, -1);
}

static lua_Integer opt_integer(lua_State *L, const char *name, lua_Integer min,
                               lua_Integer max) {
  int isint = 0;
  lua_Integer n = 0;
  if (lua_type(L, -1) == LUA_TNUMBER)
    n = lua_tointegerx(L, -1, &isint);
  if (!isint || n < min || n > max)
    opterror(L, name,
             lua_pushfstring(L, "integer from %I to %I expected, got %s", min,
                             max, luaL_tolstring(L, -1, NULL)));
  return n;
}

static int opt_sync(lua_State *L) {
  static const char *const names[] = {"none", "always", "interval", NULL};
  static const int modes[] = {CASKDB_SYNC_NONE, CASKDB_SYNC_ALWAYS,
                              CASKDB_SYNC_INTERVAL};
  int i;
  if (lua_type(L, -1) == LUA_TSTRING)
    for (i = 0; names[i] != NULL; i++)
      if (strcmp(lua_tostring(L, -1), names[i]) == 0)
        return modes[i];
  return opterror(L, "sync",
                  lua_pushfstring(L,
                                  "\"none\", \"always\" or \"interval\" "
                                  "expected, got %s",
                                  luaL_tolstring(L, -1, NULL)));
}

static int opt_cache_policy(lua_State *L) {
  static const char *const names[] = {"sieve", "lru", NULL};
  static const int policies[] = {CASKDB_CACHE_SIEVE, CASKDB_CACHE_LRU};
  int i;
  if (lua_type(L, -1) == LUA_TSTRING)
    for (i = 0; names[i] != NULL; i++)
      if (strcmp(lua_tostring(L, -1), names[i]) == 0)
        return policies[i];
  return opterror(L, "cache_policy",
                  lua_pushfstring(L, "\"sieve\" or \"lru\" expected, got %s",
                                  luaL_tolstring(L, -1, NULL)));
}

/* A number from 0 to 1 (a fraction). */
static double opt_ratio(lua_State *L, const char *name) {
  double x;
  if (lua_type(L, -1) != LUA_TNUMBER)
    opterror(L, name, "number from 0 to 1 expected");
  x = (double)lua_tonumber(L, -1);
  if (!(x >= 0.0 && x <= 1.0))
    opterror(L, name, "number from 0 to 1 expected");
  return x;
}

/* Set one option from the pair on top of the stack: ..., name, value. */
static void set_option(lua_State *L, caskdb_options *o) {
  const char *name;
  if (lua_type(L, -2) != LUA_TSTRING)
    raisef(L, "caskdb: bad option (names are strings, got %s)",
           luaL_typename(L, -2));
  name = lua_tostring(L, -2);
  if (strcmp(name, "sync") == 0)
    o->sync = opt_sync(L);
  else if (strcmp(name, "sync_interval_ms") == 0)
    o->sync_interval_ms = (uint32_t)opt_integer(L, name, 1, UINT32_MAX);
  else if (strcmp(name, "max_file_size") == 0)
    o->max_file_size = (uint64_t)opt_integer(L, name, CASKDB_MIN_FILE_SIZE,
                                             CASKDB_MAX_FILE_SIZE);
  else if (strcmp(name, "readonly") == 0)
    o->readonly = opt_boolean(L, name);
  else if (strcmp(name, "create") == 0)
    o->create = opt_boolean(L, name);
  else if (strcmp(name, "salvage") == 0)
    o->salvage = opt_boolean(L, name);
  else if (strcmp(name, "shared") == 0)
    o->shared = opt_boolean(L, name);
  else if (strcmp(name, "auto_merge") == 0)
    o->auto_merge = opt_boolean(L, name);
  else if (strcmp(name, "merge_trigger_dead_ratio") == 0)
    o->merge_trigger_dead_ratio = opt_ratio(L, name);
  else if (strcmp(name, "merge_trigger_dead_bytes") == 0)
    o->merge_trigger_dead_bytes =
        (uint64_t)opt_integer(L, name, 0, LUA_MAXINTEGER);
  else if (strcmp(name, "auto_merge_step_bytes") == 0)
    o->auto_merge_step_bytes =
        (uint64_t)opt_integer(L, name, 1, LUA_MAXINTEGER);
  else if (strcmp(name, "mmap") == 0)
    o->use_mmap = opt_boolean(L, name);
  else if (strcmp(name, "cache_size") == 0)
    o->cache_size = (uint64_t)opt_integer(L, name, 0, LUA_MAXINTEGER);
  else if (strcmp(name, "cache_policy") == 0)
    o->cache_policy = opt_cache_policy(L);
  else
    opterror(L, name, "unknown option");
}

static void check_options(lua_State *L, int arg, caskdb_options *o) {
  caskdb_options_init(o);
  if (lua_isnoneornil(L, arg))
    return;
  if (!lua_istable(L, arg))
    typeerror(L, arg, "open", "table of options");
  lua_pushnil(L);
  while (lua_next(L, arg) != 0) { /* ..., name, value */
    set_option(L, o);
    lua_pop(L, 1);
  }
}

static int db_open(lua_State *L) {
  char errbuf[512];
  caskdb_options opts;
  size_t len;
  const char *path;
  ldb *d;
  int rc;
  if (lua_type(L, 1) != LUA_TSTRING)
    typeerror(L, 1, "open", "string path");
  path = lua_tolstring(L, 1, &len);
  if (strlen(path) != len)
    argerror(L, 1, "open", "path contains a zero byte");
  check_options(L, 2, &opts);
  lua_settop(L, 1);
  d = (ldb *)lua_newuserdatauv(L, sizeof *d, 1); /* path, db */
  memset(d, 0, sizeof *d);                       /* born closed */
  opts.clock = clock_fn;
  opts.clock_ctx = d; /* a full userdata never moves */
  luaL_setmetatable(L, DB_MT);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, 2, 1); /* the path, for __tostring */
  errbuf[0] = '\0';
  rc = caskdb_open(path, &opts, &d->db, errbuf, sizeof errbuf);
  if (rc == CASKDB_OK)
    return 1;
  d->db = NULL;
  lua_pushfstring(L, "caskdb: %s", errbuf[0] ? errbuf : caskdb_strerror(rc));
  if (rc == CASKDB_EINVAL)
    return lua_error(L);
  lua_pushnil(L);
  lua_insert(L, -2);
  lua_pushstring(L, caskdb_code_name(rc));
  return 3;
}

/* ---------------------------------------------------------------------------
 * Closing
 * ------------------------------------------------------------------------- */

/* close, __close and __gc: true, or nil, message, code if the final flush
 * failed (the handle is closed all the same). */
static int db_close(lua_State *L) {
  ldb *d = todb(L, "close");
  int rc;
  if (d->db == NULL) {
    lua_pushboolean(L, 1);
    return 1;
  }
  close_iters(d);
  rc = caskdb_close(d->db);
  d->db = NULL;
  if (rc != CASKDB_OK)
    return fail(L, NULL, rc); /* the handle is gone: strerror only */
  lua_pushboolean(L, 1);
  return 1;
}

static int db_tostring(lua_State *L) {
  ldb *d = todb(L, "tostring");
  lua_getiuservalue(L, 1, 1);
  lua_pushfstring(L, "caskdb: %s (%s)", lua_tostring(L, -1),
                  d->db != NULL ? "open" : "closed");
  return 1;
}

/* ---------------------------------------------------------------------------
 * Reading and writing
 * ------------------------------------------------------------------------- */

/* Push the stored bytes of a record read by the engine (copied before
 * anything else) and decode them.  Returns 1, or 3 (nil, message, code) if
 * they are not a valid value of their tag. */
static int push_value(lua_State *L, ldb *d, const void *data, size_t len,
                      uint8_t tag) {
  d->busy = 1;
  lua_pushlstring(L, (const char *)data, len); /* copy before anything */
  d->busy = 0;
  if (decode_top(L, tag) != 0) {
    lua_pushnil(L);
    lua_insert(L, -2);
    lua_pushstring(L, caskdb_code_name(CASKDB_ECORRUPT));
    return 3;
  }
  return 1;
}

/* Push the value of key k of d: the value (nil if missing), then, if
 * with_flags and they are not 0, its flags (DICT's get); or nil, message,
 * code. */
static int push_get(lua_State *L, ldb *d, caskdb_key k, int with_flags) {
  const void *data;
  size_t len;
  caskdb_meta meta;
  int rc = caskdb_get(d->db, k, &data, &len, &meta);
  if (rc == CASKDB_ENOTFOUND) {
    lua_pushnil(L);
    return 1;
  }
  if (rc != CASKDB_OK)
    return fail(L, d->db, rc);
  if (meta.type == CASKDB_TYPE_LIST) {
    lua_pushnil(L);
    lua_pushliteral(L, "value is a list");
    return 2;
  }
  if (push_value(L, d, data, len, meta.type) != 1)
    return 3;
  if (!with_flags || meta.flags == 0)
    return 1;
  lua_pushinteger(L, (lua_Integer)meta.flags);
  return 2;
}

/* db:get(k): value [, flags]; nil if missing; or nil, message, code. */
static int db_get(lua_State *L) {
  ldb *d = checkdb(L, "get");
  caskdb_key k = checkkey(L, 2, "get");
  return push_get(L, d, k, 1);
}

/* db:get_stale(k): value, flags (nil for 0), stale: an expired key still
 * in the keydir is given too, with stale true.  nil if missing. */
static int db_get_stale(lua_State *L) {
  ldb *d = checkdb(L, "get_stale");
  caskdb_key k = checkkey(L, 2, "get_stale");
  const void *data;
  size_t len;
  caskdb_meta meta;
  int rc = get_stale(d, k, &data, &len, &meta);
  if (rc == CASKDB_ENOTFOUND) {
    lua_pushnil(L);
    return 1;
  }
  if (rc != CASKDB_OK)
    return fail(L, d->db, rc);
  if (push_value(L, d, data, len, meta.type) != 1)
    return 3;
  if (meta.flags != 0)
    lua_pushinteger(L, (lua_Integer)meta.flags);
  else
    lua_pushnil(L);
  lua_pushboolean(L, expired(meta.expiry));
  return 3;
}

/* Store (or, for nil, delete) the value at index 3 under the key at 2, to
 * expire at `expiry` (0: never) with user flags `flags`.  Returns the
 * engine's code (CASKDB_ENOTFOUND from a delete is OK). */
static int store(lua_State *L, ldb *d, const char *fname, uint64_t expiry,
                 uint32_t flags) {
  caskdb_key k = checkkey(L, 2, fname);
  caskdb_meta meta;
  value v;
  int rc;
  if (lua_isnil(L, 3)) {
    rc = caskdb_delete(d->db, k);
    return rc == CASKDB_ENOTFOUND ? CASKDB_OK : rc;
  }
  checkvalue(L, 3, fname, &v); /* db, key, value[, buffer] */
  memset(&meta, 0, sizeof meta);
  meta.type = v.tag;
  meta.flags = flags;
  meta.expiry = expiry;
  return caskdb_put(d->db, k, v.data, v.len, &meta);
}

/* What a DICT-style store does when the key exists or not. */
enum { STORE_SET, STORE_ADD, STORE_REPLACE };

/* DICT's "not stored" result: false, why, false (forcible). */
static int not_stored(lua_State *L, const char *why) {
  lua_pushboolean(L, 0);
  lua_pushstring(L, why);
  lua_pushboolean(L, 0);
  return 3;
}

/* set, safe_set, add, safe_add, replace: (k, v [, ttl [, flags]]).  DICT's
 * shape: true, nil, false (nothing is ever evicted, so forcible is always
 * false); false, "exists" | "not found", false when add or replace does not
 * apply; nil, message, code for a failure of the world. */
static int dict_store(lua_State *L, const char *fname, int op) {
  ldb *d = checkdb(L, fname);
  uint64_t expiry;
  uint32_t flags;
  int rc;
  if (lua_isnone(L, 3))
    typeerror(L, 3, fname, op == STORE_SET ? "value (nil deletes)" : "value");
  if (op != STORE_SET && lua_isnil(L, 3))
    typeerror(L, 3, fname, "string, number, boolean or table");
  expiry = checkttl(L, 4, fname);
  flags = checkflags(L, 5, fname);
  lua_settop(L, 3);
  switch (lua_type(L, 3)) { /* a bad value raises, whether the key exists */
  case LUA_TNIL:
  case LUA_TSTRING:
  case LUA_TNUMBER:
  case LUA_TBOOLEAN:
  case LUA_TTABLE:
    break;
  default:
    typeerror(L, 3, fname, "string, number, boolean, table or nil");
  }
  if (op != STORE_SET) {
    rc = caskdb_exists(d->db, checkkey(L, 2, fname));
    if (rc != CASKDB_OK && rc != CASKDB_ENOTFOUND)
      return fail(L, d->db, rc);
    if (op == STORE_ADD && rc == CASKDB_OK)
      return not_stored(L, "exists");
    if (op == STORE_REPLACE && rc == CASKDB_ENOTFOUND)
      return not_stored(L, "not found");
  }
  rc = store(L, d, fname, expiry, flags);
  if (rc != CASKDB_OK)
    return fail(L, d->db, rc);
  lua_pushboolean(L, 1);
  lua_pushnil(L);
  lua_pushboolean(L, 0);
  return 3;
}

/* db:set(k, v [, ttl [, flags]]): v == nil deletes. */
static int db_set(lua_State *L) { return dict_store(L, "set", STORE_SET); }

static int db_safe_set(lua_State *L) {
  return dict_store(L, "safe_set", STORE_SET);
}

static int db_add(lua_State *L) { return dict_store(L, "add", STORE_ADD); }

static int db_safe_add(lua_State *L) {
  return dict_store(L, "safe_add", STORE_ADD);
}

static int db_replace(lua_State *L) {
  return dict_store(L, "replace", STORE_REPLACE);
}

static int db_delete(lua_State *L) {
  ldb *d = checkdb(L, "delete");
  caskdb_key k = checkkey(L, 2, "delete");
  int rc = caskdb_delete(d->db, k);
  if (rc != CASKDB_OK && rc != CASKDB_ENOTFOUND)
    return fail(L, d->db, rc);
  lua_pushboolean(L, rc == CASKDB_OK);
  return 1;
}

static int db_has(lua_State *L) {
  ldb *d = checkdb(L, "has");
  caskdb_key k = checkkey(L, 2, "has");
  int rc = caskdb_exists(d->db, k);
  if (rc != CASKDB_OK && rc != CASKDB_ENOTFOUND)
    return raise_failure(L, d->db, rc);
  lua_pushboolean(L, rc == CASKDB_OK);
  return 1;
}

/* DICT's answer for a missing key: nil, "not found". */
static int not_found(lua_State *L) {
  lua_pushnil(L);
  lua_pushliteral(L, "not found");
  return 2;
}

/* db:incr(k, value [, init [, init_ttl]]): add value to the number under
 * k, keeping its ttl and flags; the sum is an integer if both are, as in
 * Lua 5.4 (integers wrap around).  A missing (or expired) key: nil, "not
 * found", or, with init, a new key holding init + value, with no flags,
 * expiring after init_ttl.  A value that is not a number: nil, "not a
 * number".  Returns the new value, then (with init) nil, false as DICT. */
static int db_incr(lua_State *L) {
  ldb *d = checkdb(L, "incr");
  caskdb_key k = checkkey(L, 2, "incr");
  const void *data;
  size_t len;
  caskdb_meta meta;
  uint64_t expiry = 0;
  int has_init, rc;
  value v;
  if (lua_type(L, 3) != LUA_TNUMBER)
    typeerror(L, 3, "incr", "number");
  has_init = !lua_isnoneornil(L, 4);
  if (has_init && lua_type(L, 4) != LUA_TNUMBER)
    typeerror(L, 4, "incr", "number or nil");
  if (!lua_isnoneornil(L, 5)) {
    if (!has_init)
      argerror(L, 5, "incr", "init_ttl given without init");
    expiry = checkttl(L, 5, "incr");
  }
  lua_settop(L, 4); /* db, key, value, init */
  rc = caskdb_get(d->db, k, &data, &len, &meta);
  if (rc == CASKDB_ENOTFOUND) {
    if (!has_init)
      return not_found(L);
    memset(&meta, 0, sizeof meta);
    meta.expiry = expiry;
    lua_pushvalue(L, 4);
  } else if (rc != CASKDB_OK) {
    return fail(L, d->db, rc);
  } else if (meta.type != TAG_INTEGER && meta.type != TAG_FLOAT) {
    lua_pushnil(L);
    lua_pushliteral(L, "not a number");
    return 2;
  } else if (push_value(L, d, data, len, meta.type) != 1) {
    return 3;
  }
  lua_pushvalue(L, 3);
  lua_arith(L, LUA_OPADD); /* db, key, value, init, sum */
  encode_number(L, 5, &v);
  meta.type = v.tag;
  rc = caskdb_put(d->db, k, v.data, v.len, &meta);
  if (rc != CASKDB_OK)
    return fail(L, d->db, rc);
  if (!has_init)
    return 1;
  lua_pushnil(L);
  lua_pushboolean(L, 0);
  return 3;
}

/* db:ttl(k): seconds left (0: never expires; negative: expired, not yet
 * flushed), or nil, "not found", or nil, message, code. */
static int db_ttl(lua_State *L) {
  ldb *d = checkdb(L, "ttl");
  caskdb_key k = checkkey(L, 2, "ttl");
  const void *data;
  size_t len;
  caskdb_meta meta;
  int rc = get_stale(d, k, &data, &len, &meta);
  if (rc == CASKDB_ENOTFOUND)
    return not_found(L);
  if (rc != CASKDB_OK)
    return fail(L, d->db, rc);
  push_ttl(L, meta.expiry);
  return 1;
}

/* db:expire(k, ttl): give a key a new time to live (0: never expires) by
 * writing its value again.  As DICT, a key that has expired but is not
 * flushed yet is found (and so made live again).  true, or nil, "not
 * found", or nil, message, code. */
static int db_expire(lua_State *L) {
  ldb *d = checkdb(L, "expire");
  caskdb_key k = checkkey(L, 2, "expire");
  const void *data;
  size_t len;
  caskdb_meta meta;
  uint64_t expiry;
  int rc;
  if (lua_isnoneornil(L, 3))
    typeerror(L, 3, "expire", "time to live in seconds");
  expiry = checkttl(L, 3, "expire");
  rc = get_stale(d, k, &data, &len, &meta);
  if (rc == CASKDB_ENOTFOUND)
    return not_found(L);
  if (rc != CASKDB_OK)
    return fail(L, d->db, rc);
  d->busy = 1;
  lua_pushlstring(L, (const char *)data, len); /* a copy: put needs it */
  d->busy = 0;
  meta.expiry = expiry;
  rc = caskdb_put(d->db, k, lua_tostring(L, -1), len, &meta);
  if (rc != CASKDB_OK)
    return fail(L, d->db, rc);
  lua_pushboolean(L, 1);
  return 1;
}

static int db_count(lua_State *L) {
  ldb *d = checkdb(L, "count");
  lua_pushinteger(L, (lua_Integer)caskdb_count(d->db));
  return 1;
}

static int db_sync(lua_State *L) {
  ldb *d = checkdb(L, "sync");
  int rc = caskdb_sync(d->db);
  if (rc != CASKDB_OK)
    return fail(L, d->db, rc);
  lua_pushboolean(L, 1);
  return 1;
}

static void set_figure(lua_State *L, const char *name, uint64_t v) {
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, name);
}

/* stats().files: one table per data file, oldest first. */
static void push_file_stats(lua_State *L, ldb *d) {
  caskdb_file_stats *fs;
  size_t n = caskdb_get_file_stats(d->db, NULL, 0), i;
  fs = (caskdb_file_stats *)lua_newuserdata(L, (n ? n : 1) * sizeof *fs);
  n = caskdb_get_file_stats(d->db, fs, n);
  lua_createtable(L, (int)n, 0); /* ..., buffer, files */
  for (i = 0; i < n; i++) {
    lua_createtable(L, 0, 6);
    set_figure(L, "id", fs[i].id);
    set_figure(L, "part", fs[i].part);
    set_figure(L, "bytes", fs[i].bytes);
    set_figure(L, "live_bytes", fs[i].live_bytes);
    set_figure(L, "dead_bytes", fs[i].dead_bytes);
    lua_pushboolean(L, fs[i].active);
    lua_setfield(L, -2, "active");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_remove(L, -2); /* the buffer */
}

static int db_stats(lua_State *L) {
  ldb *d = checkdb(L, "stats");
  caskdb_stats st;
  int rc = caskdb_get_stats(d->db, &st);
  if (rc != CASKDB_OK)
    return fail(L, d->db, rc);
  lua_createtable(L, 0, 14);
  set_figure(L, "keys", st.keys);
  set_figure(L, "data_files", st.data_files);
  set_figure(L, "disk_bytes", st.disk_bytes);
  set_figure(L, "live_bytes", st.live_bytes);
  set_figure(L, "dead_bytes", st.dead_bytes);
  set_figure(L, "truncated_bytes", st.truncated_bytes);
  set_figure(L, "corrupt_records", st.corrupt_records);
  set_figure(L, "keydir_bytes", st.keydir_bytes);
  set_figure(L, "active_file_id", st.active_file_id);
  set_figure(L, "cache_hits", st.cache_hits);
  set_figure(L, "cache_misses", st.cache_misses);
  set_figure(L, "cache_bytes", st.cache_bytes);
  set_figure(L, "cache_entries", st.cache_entries);
  push_file_stats(L, d);
  lua_setfield(L, -2, "files");
  return 1;
}

/* db:capacity(): the bytes the data files take on disk (stats().disk_bytes).
 * DICT gives the size of its shared memory zone; a CaskDB directory has no
 * fixed size, so this is what it holds now. */
static int db_capacity(lua_State *L) {
  ldb *d = checkdb(L, "capacity");
  caskdb_stats st;
  int rc = caskdb_get_stats(d->db, &st);
  if (rc != CASKDB_OK)
    return fail(L, d->db, rc);
  lua_pushinteger(L, (lua_Integer)st.disk_bytes);
  return 1;
}

/* db:free_space(): the bytes of the data files that hold nothing live
 * (stats().dead_bytes: overwritten and deleted records, tombstones, file
 * headers), which a merge gives back.  Always <= capacity(). */
static int db_free_space(lua_State *L) {
  ldb *d = checkdb(L, "free_space");
  caskdb_stats st;
  int rc = caskdb_get_stats(d->db, &st);
  if (rc != CASKDB_OK)
    return fail(L, d->db, rc);
  lua_pushinteger(L, (lua_Integer)st.dead_bytes);
  return 1;
}

/* ---------------------------------------------------------------------------
 * Dictionary style
 * ------------------------------------------------------------------------- */

/* __index(db, key): a method of that name, else the value of the key. */
static int db_index(lua_State *L) {
  ldb *d;
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
    return 1;
  lua_pop(L, 1);
  d = checkdb(L, "__index");
  return push_get(L, d, checkkey(L, 2, "__index"), 0);
}

/* __newindex(db, key, value): set, or delete for nil; raises on failure. */
static int db_newindex(lua_State *L) {
  ldb *d = checkdb(L, "__newindex");
  int rc;
  lua_settop(L, 3);
  rc = store(L, d, "__newindex", 0, 0);
  if (rc != CASKDB_OK)
    return raise_failure(L, d->db, rc);
  return 0;
}

static int db_len(lua_State *L) { return db_count(L); }

/* ---------------------------------------------------------------------------
 * Iteration
 * ------------------------------------------------------------------------- */

static void push_key(lua_State *L, const caskdb_key *k) {
  if (k->is_int)
    lua_pushinteger(L, (lua_Integer)k->num);
  else
    lua_pushlstring(L, (const char *)k->data, k->len);
}

/* The step function of a for loop: the next key and value, or nil at the
 * end.  Upvalue 1 is the iterator userdata.  A failure raises. */
static int iter_step(lua_State *L) {
  literator *li = (literator *)lua_touserdata(L, lua_upvalueindex(1));
  ldb *d = li->d;
  caskdb_key k;
  const void *data;
  size_t len;
  caskdb_meta meta;
  int rc;
  if (d->db == NULL)
    return raisef(L, "caskdb: database is closed");
  if (li->node == NULL)
    return 0; /* finished */
  rc = caskdb_iter_next(li->node->it, &k, &data, &len, &meta);
  if (rc == CASKDB_DONE) {
    iter_release(li);
    return 0;
  }
  if (rc != CASKDB_OK)
    return raise_failure(L, d->db, rc);
  d->busy = 1;
  push_key(L, &k);
  lua_pushlstring(L, (const char *)data, len); /* key, bytes */
  d->busy = 0;
  if (decode_top(L, meta.type) != 0)
    return lua_error(L);
  return 2;
}

static int iter_gc(lua_State *L) {
  iter_release((literator *)luaL_checkudata(L, 1, ITER_MT));
  return 0;
}

/* Push a new iterator userdata over `r` (the database is at index 1); its
 * caskdb_iter is owned by the handle's list, so an error raised at any
 * point leaves nothing behind. */
static literator *new_iter(lua_State *L, ldb *d, const caskdb_range *r) {
  literator *li = (literator *)lua_newuserdatauv(L, sizeof *li, 1);
  lnode *n;
  int rc;
  li->d = d;
  li->node = NULL;
  luaL_setmetatable(L, ITER_MT);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1); /* the iterator keeps its database alive */
  n = (lnode *)calloc(1, sizeof *n);
  if (n == NULL)
    raisef(L, "caskdb: not enough memory");
  n->owner = li;
  n->next = d->iters;
  if (d->iters != NULL)
    d->iters->prev = n;
  d->iters = n;
  li->node = n; /* owned by the list from here on */
  rc = caskdb_iter_open(d->db, r, &n->it);
  if (rc != CASKDB_OK)
    raise_failure(L, d->db, rc);
  return li;
}

/* Push the 4 values of a generic for over `r` (the database is at index 1):
 * step function, nil, nil, and the iterator as the to-be-closed value. */
static int push_iter(lua_State *L, ldb *d, const caskdb_range *r) {
  new_iter(L, d, r);
  lua_pushvalue(L, -1);
  lua_pushcclosure(L, iter_step, 1); /* iterator, step */
  lua_insert(L, -2);
  lua_pushnil(L);
  lua_insert(L, -2);
  lua_pushnil(L);
  lua_insert(L, -2); /* step, nil, nil, iterator */
  return 4;
}

static int db_pairs(lua_State *L) {
  ldb *d = checkdb(L, "pairs");
  lua_settop(L, 1);
  return push_iter(L, d, NULL);
}

/* db:range(from, to): from <= key < to; either may be nil. */
static int db_range(lua_State *L) {
  ldb *d = checkdb(L, "range");
  caskdb_range r;
  caskdb_key from, to;
  memset(&r, 0, sizeof r);
  lua_settop(L, 3);
  if (!lua_isnil(L, 2)) {
    from = checkkey(L, 2, "range");
    r.from = &from;
  }
  if (!lua_isnil(L, 3)) {
    to = checkkey(L, 3, "range");
    r.to = &to;
  }
  return push_iter(L, d, &r);
}

/* db:prefix(p): the byte keys starting with p (never an integer key). */
static int db_prefix(lua_State *L) {
  ldb *d = checkdb(L, "prefix");
  caskdb_range r;
  memset(&r, 0, sizeof r);
  if (lua_type(L, 2) != LUA_TSTRING)
    typeerror(L, 2, "prefix", "string");
  lua_settop(L, 2);
  r.prefix = lua_tolstring(L, 2, &r.prefix_len);
  return push_iter(L, d, &r);
}

/* The count argument at arg of get_keys and flush_expired: nil for dflt,
 * else an integer >= 0 (0: no limit). */
static lua_Integer checkcount(lua_State *L, int arg, const char *fname,
                              lua_Integer dflt) {
  lua_Integer n = 0;
  int isint = 0;
  if (lua_isnoneornil(L, arg))
    return dflt;
  if (lua_type(L, arg) == LUA_TNUMBER)
    n = lua_tointegerx(L, arg, &isint);
  if (!isint)
    typeerror(L, arg, fname, "integer count");
  if (n < 0)
    argerror(L, arg, fname, "count >= 0 expected (0: no limit)");
  return n;
}

/* db:get_keys([max_count]): a list of at most max_count (default 1024; 0:
 * no limit) live keys, in key order.  A failure raises. */
static int db_get_keys(lua_State *L) {
  ldb *d = checkdb(L, "get_keys");
  lua_Integer max = checkcount(L, 2, "get_keys", 1024), n = 0;
  caskdb_range r;
  caskdb_key k;
  literator *li;
  int rc;
  memset(&r, 0, sizeof r);
  r.keys_only = 1;
  lua_settop(L, 1);
  li = new_iter(L, d, &r);
  lua_newtable(L); /* db, iterator, keys */
  while (max == 0 || n < max) {
    rc = caskdb_iter_next(li->node->it, &k, NULL, NULL, NULL);
    if (rc == CASKDB_DONE)
      break;
    if (rc != CASKDB_OK)
      return raise_failure(L, d->db, rc);
    d->busy = 1;
    push_key(L, &k);
    d->busy = 0;
    lua_rawseti(L, 3, ++n);
  }
  iter_release(li);
  return 1;
}

/* Delete, as one atomic batch of tombstones, the keys that are expired
 * (only_expired) or all keys, at most max of them (0: no limit); the
 * expired keys are seen too.  Stores how many in *n.  No Lua call happens
 * inside, so nothing can raise and leak the batch or the iterator. */
static int delete_keys(ldb *d, int only_expired, lua_Integer max,
                       lua_Integer *n) {
  caskdb_batch *b = NULL;
  caskdb_iter *it = NULL;
  caskdb_range r;
  caskdb_meta meta;
  caskdb_key k;
  int rc;
  *n = 0;
  memset(&r, 0, sizeof r);
  r.keys_only = 1;
  rc = caskdb_batch_new(&b);
  if (rc == CASKDB_OK)
    rc = caskdb_iter_open(d->db, &r, &it);
  while (rc == CASKDB_OK && (max == 0 || *n < max)) {
    d->stale = 1; /* see the expired keys too */
    rc = caskdb_iter_next(it, &k, NULL, NULL, &meta);
    d->stale = 0;
    if (rc == CASKDB_OK && (!only_expired || expired(meta.expiry))) {
      rc = caskdb_batch_delete(b, k);
      (*n)++;
    }
  }
  caskdb_iter_close(it);
  if (rc == CASKDB_DONE || rc == CASKDB_OK)
    rc = *n > 0 ? caskdb_batch_commit(d->db, b) : CASKDB_OK;
  caskdb_batch_free(b);
  return rc;
}

/* db:flush_expired([max_count]): delete keys whose time has passed (at
 * most max_count; nil or 0: all) with one atomic batch of tombstones, so
 * that they stay gone whatever the clock does later.  Returns how many, or
 * nil, message, code. */
static int db_flush_expired(lua_State *L) {
  ldb *d = checkdb(L, "flush_expired");
  lua_Integer max = checkcount(L, 2, "flush_expired", 0), n;
  int rc = delete_keys(d, 1, max, &n);
  if (rc != CASKDB_OK)
    return fail(L, d->db, rc);
  lua_pushinteger(L, n);
  return 1;
}

/* db:flush_all(): delete every key (ngx.shared.DICT's flush_all), as one
 * atomic batch of tombstones.  Returns nothing, or nil, message, code. */
static int db_flush_all(lua_State *L) {
  ldb *d = checkdb(L, "flush_all");
  lua_Integer n;
  int rc = delete_keys(d, 0, 0, &n);
  if (rc != CASKDB_OK)
    return fail(L, d->db, rc);
  return 0;
}

/* db:merge(): compact every file, blocking; db:merge{max_bytes = n}: one
 * step of about n bytes.  Returns true (and, for a step, whether work
 * remains), or nil, message, code. */
static int db_merge(lua_State *L) {
  ldb *d = checkdb(L, "merge");
  lua_Integer max = 0;
  int rc, more = 0;
  if (!lua_isnoneornil(L, 2)) {
    int isint = 0;
    if (!lua_istable(L, 2))
      typeerror(L, 2, "merge", "table of options");
    lua_pushnil(L);
    while (lua_next(L, 2) != 0) { /* ..., name, value */
      if (lua_type(L, -2) != LUA_TSTRING ||
          strcmp(lua_tostring(L, -2), "max_bytes") != 0)
        argerror(L, 2, "merge", "unknown option (only max_bytes)");
      lua_pop(L, 1);
    }
    lua_getfield(L, 2, "max_bytes");
    max = lua_tointegerx(L, -1, &isint);
    if (!isint || max <= 0)
      argerror(L, 2, "merge", "max_bytes: integer > 0 expected");
    lua_pop(L, 1);
  }
  rc = max > 0 ? caskdb_merge_step(d->db, (uint64_t)max, &more)
               : caskdb_merge(d->db);
  if (rc != CASKDB_OK)
    return fail(L, d->db, rc);
  lua_pushboolean(L, 1);
  if (max == 0)
    return 1;
  lua_pushboolean(L, more);
  return 2;
}

/* db:merge_needed(): whether the merge triggers say a merge pays off. */
static int db_merge_needed(lua_State *L) {
  ldb *d = checkdb(L, "merge_needed");
  lua_pushboolean(L, caskdb_merge_needed(d->db));
  return 1;
}

/* db:backup(dir): a consistent copy in dir (which must not exist). */
static int db_backup(lua_State *L) {
  ldb *d = checkdb(L, "backup");
  const char *dir;
  int rc;
  if (lua_type(L, 2) != LUA_TSTRING)
    typeerror(L, 2, "backup", "directory name");
  dir = lua_tostring(L, 2);
  if (*dir == '\0')
    argerror(L, 2, "backup", "empty directory name");
  rc = caskdb_backup(d->db, dir);
  if (rc == CASKDB_EINVAL) { /* the directory exists: the world, not a bug */
    lua_pushnil(L);
    lua_pushfstring(L, "caskdb: backup directory %s exists", dir);
    lua_pushliteral(L, "exists");
    return 3;
  }
  if (rc != CASKDB_OK)
    return fail(L, d->db, rc);
  lua_pushboolean(L, 1);
  return 1;
}

/* ---------------------------------------------------------------------------
 * Lists (ngx.shared.DICT's lpush, rpush, lpop, rpop, llen)
 * ------------------------------------------------------------------------- */

/* DICT's answer for a list operation on a key holding another value. */
static int not_a_list(lua_State *L) {
  lua_pushnil(L);
  lua_pushliteral(L, "value not a list");
  return 2;
}

/* db:lpush(k, v) / db:rpush(k, v): the new length. */
static int list_push(lua_State *L, const char *fname, int left) {
  ldb *d = checkdb(L, fname);
  caskdb_key k = checkkey(L, 2, fname);
  caskdb_meta meta = {0, 0, 0};
  uint64_t len = 0;
  value v;
  int rc;
  if (lua_isnoneornil(L, 3))
    typeerror(L, 3, fname, "string, number, boolean or table");
  checkvalue(L, 3, fname, &v);
  meta.type = v.tag;
  rc = caskdb_list_push(d->db, k, left, v.data, v.len, &meta, &len);
  if (rc == CASKDB_ENOTLIST)
    return not_a_list(L);
  if (rc != CASKDB_OK)
    return fail(L, d->db, rc);
  lua_pushinteger(L, (lua_Integer)len);
  return 1;
}

static int db_lpush(lua_State *L) { return list_push(L, "lpush", 1); }
static int db_rpush(lua_State *L) { return list_push(L, "rpush", 0); }

/* db:lpop(k) / db:rpop(k): the value, or nil for a missing list. */
static int list_pop(lua_State *L, const char *fname, int left) {
  ldb *d = checkdb(L, fname);
  caskdb_key k = checkkey(L, 2, fname);
  const void *data;
  size_t len;
  caskdb_meta meta;
  int rc = caskdb_list_pop(d->db, k, left, &data, &len, &meta);
  if (rc == CASKDB_ENOTFOUND) {
    lua_pushnil(L);
    return 1;
  }
  if (rc == CASKDB_ENOTLIST)
    return not_a_list(L);
  if (rc != CASKDB_OK)
    return fail(L, d->db, rc);
  return push_value(L, d, data, len, meta.type);
}

static int db_lpop(lua_State *L) { return list_pop(L, "lpop", 1); }
static int db_rpop(lua_State *L) { return list_pop(L, "rpop", 0); }

/* db:llen(k): the length (0 for a missing key). */
static int db_llen(lua_State *L) {
  ldb *d = checkdb(L, "llen");
  caskdb_key k = checkkey(L, 2, "llen");
  uint64_t len;
  int rc = caskdb_list_len(d->db, k, &len);
  if (rc == CASKDB_ENOTLIST)
    return not_a_list(L);
  if (rc != CASKDB_OK)
    return fail(L, d->db, rc);
  lua_pushinteger(L, (lua_Integer)len);
  return 1;
}

/* ---------------------------------------------------------------------------
 * Atomic batches: db:batch(function(b) b:set(k, v); b:delete(k) end)
 * ------------------------------------------------------------------------- */

/* The batch at index 1, still open (raises for anything else). */
static lbatch *checkbatch(lua_State *L, const char *fname) {
  lbatch *lb = (lbatch *)luaL_testudata(L, 1, BATCH_MT);
  if (lb == NULL)
    typeerror(L, 1, fname, "caskdb batch");
  if (lb->b == NULL)
    raisef(L, "caskdb: batch is finished");
  return lb;
}

/* An engine failure while adding to a batch raises (from inside the
 * function of db:batch, which then applies nothing). */
static void batch_check(lua_State *L, int rc) {
  if (rc != CASKDB_OK)
    raise_failure(L, NULL, rc);
}

/* b:set(k, v [, ttl [, flags]]): add a put (v == nil: a delete). */
static int batch_set(lua_State *L) {
  lbatch *lb = checkbatch(L, "set");
  caskdb_key k;
  caskdb_meta meta;
  uint64_t expiry;
  uint32_t flags;
  value v;
  if (lua_isnone(L, 3))
    typeerror(L, 3, "set", "value (nil deletes)");
  expiry = checkttl(L, 4, "set");
  flags = checkflags(L, 5, "set");
  lua_settop(L, 3);
  k = checkkey(L, 2, "set");
  if (lua_isnil(L, 3)) {
    batch_check(L, caskdb_batch_delete(lb->b, k));
    return 0;
  }
  checkvalue(L, 3, "set", &v); /* b, key, value[, buffer] */
  memset(&meta, 0, sizeof meta);
  meta.type = v.tag;
  meta.flags = flags;
  meta.expiry = expiry;
  batch_check(L, caskdb_batch_put(lb->b, k, v.data, v.len, &meta));
  return 0;
}

/* b:delete(k): add a delete (of a key that may not exist). */
static int batch_delete(lua_State *L) {
  lbatch *lb = checkbatch(L, "delete");
  caskdb_key k = checkkey(L, 2, "delete");
  batch_check(L, caskdb_batch_delete(lb->b, k));
  return 0;
}

static int batch_gc(lua_State *L) {
  lbatch *lb = (lbatch *)luaL_checkudata(L, 1, BATCH_MT);
  caskdb_batch_free(lb->b);
  lb->b = NULL;
  return 0;
}

static int batch_tostring(lua_State *L) {
  lbatch *lb = (lbatch *)luaL_checkudata(L, 1, BATCH_MT);
  if (lb->b == NULL)
    lua_pushliteral(L, "caskdb batch (finished)");
  else
    lua_pushfstring(L, "caskdb batch (%I operations)",
                    (lua_Integer)caskdb_batch_count(lb->b));
  return 1;
}

/* db:batch(fn): call fn(b), then apply every operation it added, all or
 * nothing.  If fn raises, nothing is applied and the error goes on.
 * Returns true, or nil, message, code (then nothing was applied). */
static int db_batch(lua_State *L) {
  ldb *d = checkdb(L, "batch");
  lbatch *lb;
  int rc, status;
  if (lua_type(L, 2) != LUA_TFUNCTION)
    typeerror(L, 2, "batch", "function");
  lua_settop(L, 2);
  lb = (lbatch *)lua_newuserdatauv(L, sizeof *lb, 0); /* db, fn, b */
  lb->b = NULL; /* born finished: __gc has nothing to free */
  luaL_setmetatable(L, BATCH_MT);
  rc = caskdb_batch_new(&lb->b);
  if (rc != CASKDB_OK)
    return fail(L, NULL, rc);
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 3); /* db, fn, b, fn, b */
  status = lua_pcall(L, 1, 0, 0);
  if (status == LUA_OK && d->db == NULL) { /* fn closed the handle */
    lua_pushliteral(L, "caskdb: database is closed");
    status = LUA_ERRRUN;
  }
  if (status != LUA_OK) { /* db, fn, b, error */
    caskdb_batch_free(lb->b);
    lb->b = NULL;
    return lua_error(L); /* the error object, unchanged */
  }
  d->busy = 0;
  if (d->orphans > 0)
    sweep_orphans(d);
  rc = caskdb_batch_commit(d->db, lb->b);
  caskdb_batch_free(lb->b);
  lb->b = NULL;
  if (rc != CASKDB_OK)
    return fail(L, d->db, rc);
  lua_pushboolean(L, 1);
  return 1;
}

/* ---------------------------------------------------------------------------
 * For the specs only: caskdb._testing.set_time(ms | nil)
 * ------------------------------------------------------------------------- */

/* Fix the clock of every handle of the process at `ms` milliseconds since
 * the Unix epoch (ttl, expiry, record timestamps); nil: the system clock
 * again.  Test-only: never call it in a program. */
static int testing_set_time(lua_State *L) {
  lua_Integer ms = 0;
  int isint = 0;
  if (lua_isnoneornil(L, 1)) {
    test_time_set = 0;
    return 0;
  }
  if (lua_type(L, 1) == LUA_TNUMBER)
    ms = lua_tointegerx(L, 1, &isint);
  if (!isint || ms < 1)
    return typeerror(L, 1, "set_time", "milliseconds >= 1 or nil");
  test_time = (uint64_t)ms;
  test_time_set = 1;
  return 0;
}

/* __pairs: pairs(db) takes only 3 values, so the iterator is closed by the
 * end of the loop or by __gc. */
static int db_mpairs(lua_State *L) {
  db_pairs(L);
  lua_pop(L, 1);
  return 3;
}

/* ---------------------------------------------------------------------------
 * MessagePack helpers: caskdb.msgpack_encode(v), caskdb.msgpack_decode(s)
 * ------------------------------------------------------------------------- */

static int mp_encode(lua_State *L) {
  lmsgpack_buf *b;
  const char *err;
  if (lua_isnone(L, 1))
    typeerror(L, 1, "msgpack_encode", "value");
  lua_settop(L, 1);
  b = lmsgpack_newbuf(L);
  err = lmsgpack_encode(L, 1, b);
  if (err != NULL)
    return argerror(L, 1, "msgpack_encode", err);
  lua_pushlstring(L, b->data, b->len);
  return 1;
}

static int mp_decode(lua_State *L) {
  size_t len;
  const char *s;
  if (lua_type(L, 1) != LUA_TSTRING)
    typeerror(L, 1, "msgpack_decode", "string");
  s = lua_tolstring(L, 1, &len);
  if (lmsgpack_decode(L, s, len))
    return 1;
  lua_pushnil(L);
  lua_pushstring(L, "caskdb: corrupt MessagePack data");
  lua_pushstring(L, caskdb_code_name(CASKDB_ECORRUPT));
  return 3;
}

/* ---------------------------------------------------------------------------
 * The module
 * ------------------------------------------------------------------------- */

static const luaL_Reg db_methods[] = {{"get", db_get},
                                      {"set", db_set},
                                      {"delete", db_delete},
                                      {"has", db_has},
                                      {"count", db_count},
                                      {"pairs", db_pairs},
                                      {"range", db_range},
                                      {"prefix", db_prefix},
                                      {"sync", db_sync},
                                      {"stats", db_stats},
                                      {"ttl", db_ttl},
                                      {"expire", db_expire},
                                      {"batch", db_batch},
                                      {"get_stale", db_get_stale},
                                      {"safe_set", db_safe_set},
                                      {"add", db_add},
                                      {"safe_add", db_safe_add},
                                      {"replace", db_replace},
                                      {"incr", db_incr},
                                      {"get_keys", db_get_keys},
                                      {"flush_expired", db_flush_expired},
                                      {"capacity", db_capacity},
                                      {"free_space", db_free_space},
                                      {"flush_all", db_flush_all},
                                      {"merge", db_merge},
                                      {"merge_needed", db_merge_needed},
                                      {"backup", db_backup},
                                      {"lpush", db_lpush},
                                      {"rpush", db_rpush},
                                      {"lpop", db_lpop},
                                      {"rpop", db_rpop},
                                      {"llen", db_llen},
                                      {"close", db_close},
                                      {NULL, NULL}};

static const luaL_Reg batch_methods[] = {
    {"set", batch_set}, {"delete", batch_delete}, {NULL, NULL}};

static const luaL_Reg db_metamethods[] = {{"__newindex", db_newindex},
                                          {"__len", db_len},
                                          {"__pairs", db_mpairs},
                                          {"__close", db_close},
                                          {"__gc", db_close},
                                          {"__tostring", db_tostring},
                                          {NULL, NULL}};

static const luaL_Reg module_functions[] = {{"open", db_open},
                                            {"msgpack_encode", mp_encode},
                                            {"msgpack_decode", mp_decode},
                                            {NULL, NULL}};

static void create_metatables(lua_State *L) {
  luaL_newmetatable(L, DB_MT);
  luaL_setfuncs(L, db_metamethods, 0);
  luaL_newlib(L, db_methods); /* metatable, methods */
  lua_pushcclosure(L, db_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newmetatable(L, ITER_MT);
  lua_pushcfunction(L, iter_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, iter_gc);
  lua_setfield(L, -2, "__close");
  lua_pop(L, 1);
  luaL_newmetatable(L, BATCH_MT);
  lua_pushcfunction(L, batch_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, batch_tostring);
  lua_setfield(L, -2, "__tostring");
  luaL_newlib(L, batch_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

/* The module's one exported symbol (the build hides the others). */
#if defined(__GNUC__)
#define CASKDB_EXPORT __attribute__((visibility("default")))
#else
#define CASKDB_EXPORT
#endif

CASKDB_EXPORT int luaopen_caskdb(lua_State *L);

CASKDB_EXPORT int luaopen_caskdb(lua_State *L) {
  create_metatables(L);
  luaL_newlib(L, module_functions);
  lua_pushstring(L, caskdb_version());
  lua_setfield(L, -2, "version");
  lua_pushfstring(L, "caskdb %s", caskdb_version());
  lua_setfield(L, -2, "_VERSION");
  lua_createtable(L, 0, 1); /* for the specs only */
  lua_pushcfunction(L, testing_set_time);
  lua_setfield(L, -2, "set_time");
  lua_setfield(L, -2, "_testing");
  return 1;
}

/*
 * lmsgpack.c -- MessagePack encoding and decoding of Lua values.
 *
 * The mapping between Lua and MessagePack is described in lmsgpack.h.  The
 * encoder walks a table twice: once to learn whether it is an array (keys
 * exactly 1..n) and how many pairs it has, once to write it.  It keeps the
 * tables on the current path in a "seen" table, so a cycle is found before
 * it could recurse forever.  The decoder reads from a cursor that knows how
 * many bytes remain, and asks it before every read.
 */
#include "lmsgpack.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "lauxlib.h"

#define BUF_MT "caskdb.buffer"

/* ---------------------------------------------------------------------------
 * The buffer
 * ------------------------------------------------------------------------- */

static int buf_gc(lua_State *L) {
  lmsgpack_buf *b = (lmsgpack_buf *)lua_touserdata(L, 1);
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
  return 0;
}

lmsgpack_buf *lmsgpack_newbuf(lua_State *L) {
  lmsgpack_buf *b = (lmsgpack_buf *)lua_newuserdatauv(L, sizeof *b, 0);
  b->data = NULL;
  b->len = b->cap = 0;
  if (luaL_newmetatable(L, BUF_MT)) {
    lua_pushcfunction(L, buf_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, buf_gc);
    lua_setfield(L, -2, "__close");
  }
  lua_setmetatable(L, -2);
  return b;
}

static void lmsgpack_nomem(lua_State *L) {
  lua_pushliteral(L, "caskdb: not enough memory");
  lua_error(L);
}

void lmsgpack_append(lua_State *L, lmsgpack_buf *b, const void *p, size_t len) {
  if (len > b->cap - b->len) {
    size_t cap = b->cap ? b->cap : 64;
    char *data;
    while (cap - b->len < len) {
      if (cap > SIZE_MAX / 2)
        lmsgpack_nomem(L);
      cap *= 2;
    }
    data = (char *)realloc(b->data, cap);
    if (data == NULL)
      lmsgpack_nomem(L);
    b->data = data;
    b->cap = cap;
  }
  if (len > 0)
    memcpy(b->data + b->len, p, len);
  b->len += len;
}

/* ---------------------------------------------------------------------------
 * Encoding
 * ------------------------------------------------------------------------- */

typedef struct encoder {
  lua_State *L;
  lmsgpack_buf *b;
  int seen; /* stack index of the table of tables on the current path */
} encoder;

/* Append a type byte followed by `n` bytes of `v`, big-endian. */
static void put_be(encoder *e, unsigned char type, uint64_t v, int n) {
  unsigned char out[9];
  int i;
  out[0] = type;
  for (i = 0; i < n; i++)
    out[1 + i] = (unsigned char)(v >> (8 * (n - 1 - i)));
  lmsgpack_append(e->L, e->b, out, (size_t)n + 1);
}

static void put_int(encoder *e, lua_Integer n) {
  uint64_t u = (uint64_t)n;
  if (n >= 0) {
    if (n <= 0x7f)
      put_be(e, (unsigned char)n, 0, 0);
    else if (n <= 0xff)
      put_be(e, 0xcc, u, 1);
    else if (n <= 0xffff)
      put_be(e, 0xcd, u, 2);
    else if (n <= 0xffffffffLL)
      put_be(e, 0xce, u, 4);
    else
      put_be(e, 0xcf, u, 8);
  } else if (n >= -32) {
    put_be(e, (unsigned char)(u & 0xff), 0, 0);
  } else if (n >= -128) {
    put_be(e, 0xd0, u, 1);
  } else if (n >= -32768) {
    put_be(e, 0xd1, u, 2);
  } else if (n >= -2147483647LL - 1) {
    put_be(e, 0xd2, u, 4);
  } else {
    put_be(e, 0xd3, u, 8);
  }
}

static void put_float(encoder *e, lua_Number x) {
  double d = (double)x;
  uint64_t bits;
  memcpy(&bits, &d, sizeof bits);
  put_be(e, 0xcb, bits, 8);
}

/* Is s[0..len) valid UTF-8 (no overlong forms, no surrogates, at most
 * U+10FFFF)?  Only then is it a MessagePack str. */
static int is_utf8(const unsigned char *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    unsigned c = s[i];
    size_t n, k;
    uint32_t cp, min;
    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      n = 1, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return 0;
    }
    if (len - i <= n)
      return 0;
    for (k = 1; k <= n; k++) {
      if ((s[i + k] & 0xc0) != 0x80)
        return 0;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return 0;
    i += n + 1;
  }
  return 1;
}

/* Append a header for a str (base 0xa0 fix, 0xd9 str8) or bin (0xc4 bin8,
 * no fix form) or array/map (fix form base, 16-bit, 32-bit codes). */
static void put_len(encoder *e, size_t len, int fixbase, size_t fixmax,
                    int code8, int code16) {
  if (fixbase >= 0 && len <= fixmax)
    put_be(e, (unsigned char)(fixbase + (int)len), 0, 0);
  else if (code8 >= 0 && len <= 0xff)
    put_be(e, (unsigned char)code8, len, 1);
  else if (len <= 0xffff)
    put_be(e, (unsigned char)code16, len, 2);
  else
    put_be(e, (unsigned char)(code16 + 1), len, 4);
}

static const char *put_string(encoder *e, int idx) {
  size_t len;
  const char *s = lua_tolstring(e->L, idx, &len);
  if (len > 0xffffffffu)
    return lua_pushstring(e->L, "string longer than 4 GiB in table");
  if (is_utf8((const unsigned char *)s, len))
    put_len(e, len, 0xa0, 31, 0xd9, 0xda);
  else
    put_len(e, len, -1, 0, 0xc4, 0xc5);
  lmsgpack_append(e->L, e->b, s, len);
  return NULL;
}

static const char *encode_value(encoder *e, int idx, int depth);

/* Count the pairs of the table at idx and tell whether its keys are exactly
 * 1..n, n >= 1 (then *array is set and the count is n). */
static size_t table_shape(lua_State *L, int idx, int *array) {
  lua_Unsigned n = lua_rawlen(L, idx);
  size_t count = 0;
  int in_range = 1;
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) { /* ..., key, value */
    lua_pop(L, 1);
    count++;
    if (in_range && lua_isinteger(L, -1)) {
      lua_Integer k = lua_tointeger(L, -1);
      in_range = k >= 1 && (lua_Unsigned)k <= n;
    } else {
      in_range = 0;
    }
  }
  *array = in_range && count > 0 && (lua_Unsigned)count == n;
  return count;
}

static const char *check_key(encoder *e, int idx) {
  int t = lua_type(e->L, idx);
  if (t == LUA_TSTRING || t == LUA_TNUMBER || t == LUA_TBOOLEAN)
    return NULL; /* a table key is never nil or NaN */
  return lua_pushfstring(e->L, "table contains a %s key",
                         lua_typename(e->L, t));
}

static const char *encode_pairs(encoder *e, int idx, size_t count, int depth) {
  lua_State *L = e->L;
  const char *err = NULL;
  put_len(e, count, 0x80, 15, -1, 0xde);
  lua_pushnil(L);
  while (err == NULL && lua_next(L, idx) != 0) { /* ..., key, value */
    int top = lua_gettop(L);
    err = check_key(e, top - 1);
    if (err == NULL)
      err = encode_value(e, top - 1, depth);
    if (err == NULL)
      err = encode_value(e, top, depth);
    if (err == NULL)
      lua_pop(L, 1);
  }
  return err;
}

static const char *encode_array(encoder *e, int idx, size_t n, int depth) {
  const char *err = NULL;
  size_t i;
  put_len(e, n, 0x90, 15, -1, 0xdc);
  for (i = 1; err == NULL && i <= n; i++) {
    lua_rawgeti(e->L, idx, (lua_Integer)i);
    err = encode_value(e, lua_gettop(e->L), depth);
    if (err == NULL)
      lua_pop(e->L, 1);
  }
  return err;
}

/* Encode the table at idx, which is at nesting level `depth`. */
static const char *encode_table(encoder *e, int idx, int depth) {
  lua_State *L = e->L;
  const char *err;
  size_t count;
  int array;
  if (depth > LMSGPACK_MAX_DEPTH)
    return lua_pushfstring(L, "table nested deeper than %d levels",
                           LMSGPACK_MAX_DEPTH);
  luaL_checkstack(L, 6, "caskdb: table nested too deep");
  lua_pushvalue(L, idx);
  if (lua_rawget(L, e->seen) != LUA_TNIL)
    return lua_pushstring(L, "table contains a cycle");
  lua_pop(L, 1);
  count = table_shape(L, idx, &array);
  if (count > 0xffffffffu)
    return lua_pushstring(L, "table with more than 2^32-1 pairs");
  lua_pushvalue(L, idx);
  lua_pushboolean(L, 1);
  lua_rawset(L, e->seen); /* on the path */
  if (array)
    err = encode_array(e, idx, count, depth + 1);
  else
    err = encode_pairs(e, idx, count, depth + 1);
  if (err != NULL)
    return err;
  lua_pushvalue(L, idx);
  lua_pushnil(L);
  lua_rawset(L, e->seen); /* off the path */
  return NULL;
}

static const char *encode_value(encoder *e, int idx, int depth) {
  lua_State *L = e->L;
  switch (lua_type(L, idx)) {
  case LUA_TBOOLEAN:
    put_be(e, lua_toboolean(L, idx) ? 0xc3 : 0xc2, 0, 0);
    return NULL;
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx))
      put_int(e, lua_tointeger(L, idx));
    else
      put_float(e, lua_tonumber(L, idx));
    return NULL;
  case LUA_TSTRING:
    return put_string(e, idx);
  case LUA_TTABLE:
    return encode_table(e, idx, depth);
  default:
    if (depth == 1)
      return lua_pushfstring(L, "cannot encode a %s", luaL_typename(L, idx));
    return lua_pushfstring(L, "table contains a %s value",
                           luaL_typename(L, idx));
  }
}

const char *lmsgpack_encode(lua_State *L, int idx, lmsgpack_buf *b) {
  encoder e;
  const char *err;
  idx = lua_absindex(L, idx);
  e.L = L;
  e.b = b;
  lua_newtable(L);
  e.seen = lua_gettop(L);
  err = encode_value(&e, idx, 1);
  if (err == NULL) {
    lua_settop(L, e.seen - 1);
    return NULL;
  }
  lua_replace(L, e.seen); /* keep only the message */
  lua_settop(L, e.seen);
  return lua_tostring(L, -1);
}

/* ---------------------------------------------------------------------------
 * Decoding
 * ------------------------------------------------------------------------- */

typedef struct decoder {
  lua_State *L;
  const unsigned char *p;   /* next byte */
  const unsigned char *end; /* one past the last byte */
} decoder;

/* Read an n-byte big-endian unsigned number; 0 if fewer bytes remain. */
static int get_be(decoder *d, int n, uint64_t *v) {
  int i;
  if ((size_t)(d->end - d->p) < (size_t)n)
    return 0;
  *v = 0;
  for (i = 0; i < n; i++)
    *v = (*v << 8) | d->p[i];
  d->p += n;
  return 1;
}

static int get_signed(decoder *d, int n) {
  uint64_t v;
  int64_t s;
  if (!get_be(d, n, &v))
    return 0;
  if (n < 8 && (v >> (8 * n - 1)) & 1) /* sign-extend */
    v |= ~(uint64_t)0 << (8 * n);
  memcpy(&s, &v, sizeof s);
  lua_pushinteger(d->L, (lua_Integer)s);
  return 1;
}

static int get_unsigned(decoder *d, int n) {
  uint64_t v;
  if (!get_be(d, n, &v))
    return 0;
  if (v > (uint64_t)INT64_MAX) /* no unsigned integers in Lua */
    lua_pushnumber(d->L, (lua_Number)v);
  else
    lua_pushinteger(d->L, (lua_Integer)v);
  return 1;
}

static int get_float(decoder *d, int n) {
  uint64_t v;
  if (!get_be(d, n, &v))
    return 0;
  if (n == 4) {
    uint32_t u = (uint32_t)v;
    float f;
    memcpy(&f, &u, sizeof f);
    lua_pushnumber(d->L, (lua_Number)f);
  } else {
    double x;
    memcpy(&x, &v, sizeof x);
    lua_pushnumber(d->L, (lua_Number)x);
  }
  return 1;
}

static int get_bytes(decoder *d, size_t len) {
  if ((size_t)(d->end - d->p) < len)
    return 0;
  lua_pushlstring(d->L, (const char *)d->p, len);
  d->p += len;
  return 1;
}

/* Read a length of n bytes then that many bytes of string. */
static int get_string(decoder *d, int n) {
  uint64_t len;
  return get_be(d, n, &len) && get_bytes(d, (size_t)len);
}

static int decode_value(decoder *d, int depth);

/* A count as a lua_createtable size hint (only a hint: clamp it). */
static int size_hint(uint64_t n) { return n > 1u << 24 ? 1 << 24 : (int)n; }

static int get_array(decoder *d, uint64_t n, int depth) {
  lua_State *L = d->L;
  uint64_t i;
  if (depth > LMSGPACK_MAX_DEPTH || n > (uint64_t)(d->end - d->p))
    return 0; /* every element takes at least one byte */
  luaL_checkstack(L, 4, "caskdb: table nested too deep");
  lua_createtable(L, size_hint(n), 0);
  for (i = 1; i <= n; i++) {
    if (!decode_value(d, depth + 1))
      return 0;
    lua_rawseti(L, -2, (lua_Integer)i); /* a nil leaves a hole */
  }
  return 1;
}

/* Can the value on top be a Lua table key? */
static int usable_key(lua_State *L) {
  int t = lua_type(L, -1);
  if (t == LUA_TNUMBER && !lua_isinteger(L, -1))
    return !isnan((double)lua_tonumber(L, -1));
  return t == LUA_TSTRING || t == LUA_TNUMBER || t == LUA_TBOOLEAN;
}

static int get_map(decoder *d, uint64_t n, int depth) {
  lua_State *L = d->L;
  uint64_t i;
  if (depth > LMSGPACK_MAX_DEPTH || n > (uint64_t)(d->end - d->p) / 2)
    return 0; /* every pair takes at least two bytes */
  luaL_checkstack(L, 4, "caskdb: table nested too deep");
  lua_createtable(L, 0, size_hint(n));
  for (i = 0; i < n; i++) { /* table */
    if (!decode_value(d, depth + 1) || !usable_key(L))
      return 0;
    if (!decode_value(d, depth + 1)) /* table, key, value */
      return 0;
    lua_rawset(L, -3); /* a nil value drops the pair */
  }
  return 1;
}

/* Decode a container whose length has n bytes; kind 0 = array, 1 = map. */
static int get_container(decoder *d, int n, int kind, int depth) {
  uint64_t len;
  if (!get_be(d, n, &len))
    return 0;
  return kind ? get_map(d, len, depth) : get_array(d, len, depth);
}

static int decode_value(decoder *d, int depth) {
  lua_State *L = d->L;
  unsigned c;
  if (d->p >= d->end)
    return 0;
  c = *d->p++;
  if (c <= 0x7f) {
    lua_pushinteger(L, (lua_Integer)c);
    return 1;
  }
  if (c >= 0xe0) {
    lua_pushinteger(L, (lua_Integer)c - 256);
    return 1;
  }
  if (c >= 0xa0 && c <= 0xbf)
    return get_bytes(d, c & 0x1f);
  if (c >= 0x90 && c <= 0x9f)
    return get_array(d, c & 0x0f, depth);
  if (c >= 0x80 && c <= 0x8f)
    return get_map(d, c & 0x0f, depth);
  switch (c) {
  case 0xc0:
    lua_pushnil(L);
    return 1;
  case 0xc2:
    lua_pushboolean(L, 0);
    return 1;
  case 0xc3:
    lua_pushboolean(L, 1);
    return 1;
  case 0xc4:
  case 0xd9:
    return get_string(d, 1);
  case 0xc5:
  case 0xda:
    return get_string(d, 2);
  case 0xc6:
  case 0xdb:
    return get_string(d, 4);
  case 0xca:
    return get_float(d, 4);
  case 0xcb:
    return get_float(d, 8);
  case 0xcc:
    return get_unsigned(d, 1);
  case 0xcd:
    return get_unsigned(d, 2);
  case 0xce:
    return get_unsigned(d, 4);
  case 0xcf:
    return get_unsigned(d, 8);
  case 0xd0:
    return get_signed(d, 1);
  case 0xd1:
    return get_signed(d, 2);
  case 0xd2:
    return get_signed(d, 4);
  case 0xd3:
    return get_signed(d, 8);
  case 0xdc:
    return get_container(d, 2, 0, depth);
  case 0xdd:
    return get_container(d, 4, 0, depth);
  case 0xde:
    return get_container(d, 2, 1, depth);
  case 0xdf:
    return get_container(d, 4, 1, depth);
  default:
    return 0; /* 0xc1 (never used) and the ext types */
  }
}

int lmsgpack_decode(lua_State *L, const char *s, size_t len) {
  decoder d;
  int top = lua_gettop(L);
  d.L = L;
  d.p = (const unsigned char *)s;
  d.end = d.p + len;
  luaL_checkstack(L, 4, "caskdb: not enough stack");
  if (decode_value(&d, 1) && d.p == d.end)
    return 1;         /* exactly one value was pushed */
  lua_settop(L, top); /* drop whatever a failed path left */
  return 0;
}

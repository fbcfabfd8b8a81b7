/*
 * fuzz_msgpack.c -- the MessagePack decoder of the Lua binding
 * (lua/lmsgpack.c), which reads table values back from disk.
 *
 * The input is pushed as a Lua string (as the binding does) and decoded in
 * protected mode.  When it decodes, the value is encoded again, that
 * encoding must decode, and the two decoded values must be equal (deep
 * comparison; floats by bits).  A Lua error is allowed only for memory.
 */
#include "lmsgpack.h"

#include "lauxlib.h"
#include "lualib.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ASSERT(cond)                                                      \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__,     \
              #cond);                                                          \
      abort();                                                                 \
    }                                                                          \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *L;

/* Deep equality of the values at a and b (absolute indices). */
static int same(lua_State *S, int a, int b, int depth) {
  int t = lua_type(S, a);
  if (t != lua_type(S, b) || depth > LMSGPACK_MAX_DEPTH + 1)
    return 0;
  switch (t) {
  case LUA_TNUMBER:
    if (lua_isinteger(S, a) != lua_isinteger(S, b))
      return 0;
    if (lua_isinteger(S, a))
      return lua_tointeger(S, a) == lua_tointeger(S, b);
    {
      lua_Number x = lua_tonumber(S, a), y = lua_tonumber(S, b);
      return memcmp(&x, &y, sizeof x) == 0;
    }
  case LUA_TTABLE: {
    int ok = 1;
    luaL_checkstack(S, 6, "deep");
    lua_pushnil(S);
    while (ok && lua_next(S, a) != 0) { /* key, value */
      lua_pushvalue(S, -2);             /* key, value, key */
      lua_rawget(S, b);                 /* key, value, value in b */
      ok = same(S, lua_absindex(S, -2), lua_absindex(S, -1), depth + 1);
      lua_pop(S, 2);
    }
    if (!ok) {
      lua_pop(S, 1);
      return 0;
    }
    /* Same number of pairs. */
    {
      size_t na = 0, nb = 0;
      lua_pushnil(S);
      while (lua_next(S, a) != 0) {
        lua_pop(S, 1);
        na++;
      }
      lua_pushnil(S);
      while (lua_next(S, b) != 0) {
        lua_pop(S, 1);
        nb++;
      }
      return na == nb;
    }
  }
  default:
    return lua_rawequal(S, a, b);
  }
}

/* input string -> decoded?, [value, re-decoded value] */
static int run(lua_State *S) {
  size_t len;
  const char *s = lua_tolstring(S, 1, &len);
  lmsgpack_buf *b;
  const char *err;
  int v;
  if (!lmsgpack_decode(S, s, len)) {
    lua_pushboolean(S, 0);
    return 1;
  }
  v = lua_gettop(S);
  if (lua_isnil(S, v)) { /* a lone nil (0xc0): nothing to encode back; the
                            binding refuses it where a table is expected */
    lua_pushboolean(S, 1);
    return 1;
  }
  b = lmsgpack_newbuf(S);
  err = lmsgpack_encode(S, v, b);
  if (err != NULL) {
    fprintf(stderr, "decoded value does not encode: %s\n", err);
    abort();
  }
  lua_pushlstring(S, b->data, b->len); /* value, buf, encoding */
  s = lua_tostring(S, -1);
  FUZZ_ASSERT(lmsgpack_decode(S, s, b->len));
  FUZZ_ASSERT(same(S, v, lua_gettop(S), 0));
  lua_pushboolean(S, 1);
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int rc;
  if (L == NULL) {
    L = luaL_newstate();
    FUZZ_ASSERT(L != NULL);
  }
  lua_settop(L, 0);
  lua_pushcfunction(L, run);
  lua_pushlstring(L, (const char *)data, size);
  rc = lua_pcall(L, 1, 1, 0);
  if (rc != LUA_OK)
    FUZZ_ASSERT(rc == LUA_ERRMEM);
  lua_settop(L, 0);
  return 0;
}

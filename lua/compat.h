/*
 * compat.h -- the differences between Lua versions, in one place.
 *
 * The binding is written for Lua 5.4.  This header maps the 5.4 calls it
 * uses onto Lua 5.3, 5.2, 5.1 and LuaJIT 2.1 (which has the 5.1 API plus a
 * few 5.2 functions), so that the rest of the code reads as plain 5.4.  A
 * missing function is given a replacement named caskdb_* and the 5.4 name
 * is #defined to it, so nothing clashes with what a header does declare
 * (LuaJIT declares luaL_testudata, 5.2 declares lua_tointegerx with other
 * semantics).
 *
 * What the versions lack, and what the binding does instead:
 *  - 5.3: no __close, and a userdata has exactly one user value.
 *  - 5.1, 5.2, LuaJIT: no integer subtype; every number is a double.  A
 *    number is an "integer" when it has an exact integer value in the
 *    range of int64 (-0.0 is not: it stays a float, so its sign survives),
 *    which is how values are tagged (integer or float) and table keys
 *    encoded; an integer read back becomes a double (exact up to 2^53).
 *    lua_tointegerx accepts only such numbers (5.2's and LuaJIT's truncate).
 *    lua_pushfstring has no %I: a replacement formats it.  A userdata's
 *    user value must be a table (5.1's environment, 5.2's user value): the
 *    one user value is kept in a table of one element.
 *  - 5.1, LuaJIT: no __pairs (use db:pairs()), no lua_arith, luaL_tolstring,
 *    luaL_testudata, luaL_setfuncs, lua_absindex, lua_rawlen (lua_objlen).
 */
#ifndef CASKDB_COMPAT_H
#define CASKDB_COMPAT_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lauxlib.h"
#include "lua.h"

#if !defined(LUA_VERSION_NUM) || LUA_VERSION_NUM < 501
#error "caskdb needs Lua 5.1 or newer (or LuaJIT 2.1)"
#endif

#if LUA_VERSION_NUM < 504
#define lua_newuserdatauv(L, size, nuv) lua_newuserdata((L), (size))
#endif

#if LUA_VERSION_NUM == 503
static inline int caskdb_setiuservalue(lua_State *L, int idx, int n) {
  (void)n;
  lua_setuservalue(L, idx);
  return 1;
}
#define lua_setiuservalue caskdb_setiuservalue
#define lua_getiuservalue(L, idx, n) lua_getuservalue((L), (idx))
#endif

/* ------------------------------------------------------------------------
 * Lua 5.1 (and LuaJIT): what 5.2 added to the C API
 * ---------------------------------------------------------------------- */
#if LUA_VERSION_NUM < 502

#ifndef LUA_OK
#define LUA_OK 0
#endif
#define LUA_OPADD 0

#define lua_rawlen(L, idx) lua_objlen((L), (idx))

/* lua_pushstring that returns the string, as it does from 5.2 on. */
static inline const char *caskdb_pushstring(lua_State *L, const char *s) {
  lua_pushstring(L, s);
  return lua_tostring(L, -1);
}
#define lua_pushstring caskdb_pushstring
#define lua_absindex(L, idx)                                                   \
  ((idx) > 0 || (idx) <= LUA_REGISTRYINDEX ? (idx) : lua_gettop(L) + (idx) + 1)
#define lua_getuservalue(L, idx) lua_getfenv((L), (idx))
#define lua_setuservalue(L, idx) lua_setfenv((L), (idx))

/* lua_arith for the one operation the binding uses: a + b. */
static inline void caskdb_arith(lua_State *L, int op) {
  lua_Number b = lua_tonumber(L, -1), a = lua_tonumber(L, -2);
  (void)op; /* LUA_OPADD */
  lua_pop(L, 2);
  lua_pushnumber(L, a + b);
}
#define lua_arith caskdb_arith

static inline void *caskdb_testudata(lua_State *L, int ud, const char *tname) {
  void *p = lua_touserdata(L, ud);
  if (p == NULL || !lua_getmetatable(L, ud))
    return NULL;
  luaL_getmetatable(L, tname);
  if (!lua_rawequal(L, -1, -2))
    p = NULL;
  lua_pop(L, 2);
  return p;
}
#define luaL_testudata caskdb_testudata

static inline void caskdb_setmetatable(lua_State *L, const char *tname) {
  luaL_getmetatable(L, tname);
  lua_setmetatable(L, -2);
}
#define luaL_setmetatable caskdb_setmetatable

static inline void caskdb_setfuncs(lua_State *L, const luaL_Reg *l, int nup) {
  int i;
  luaL_checkstack(L, nup, "too many upvalues");
  for (; l->name != NULL; l++) {
    for (i = 0; i < nup; i++)
      lua_pushvalue(L, -nup);
    lua_pushcclosure(L, l->func, nup);
    lua_setfield(L, -(nup + 2), l->name);
  }
  lua_pop(L, nup);
}
#define luaL_setfuncs caskdb_setfuncs
#undef luaL_newlib /* LuaJIT's is fine, but one definition for both */
#define luaL_newlib(L, l)                                                      \
  (lua_createtable((L), 0, (int)(sizeof(l) / sizeof((l)[0]) - 1)),             \
   luaL_setfuncs((L), (l), 0))

static inline const char *caskdb_tolstring(lua_State *L, int idx, size_t *len) {
  if (!luaL_callmeta(L, idx, "__tostring")) {
    switch (lua_type(L, idx)) {
    case LUA_TNUMBER:
    case LUA_TSTRING:
      lua_pushvalue(L, idx);
      break;
    case LUA_TBOOLEAN:
      lua_pushstring(L, lua_toboolean(L, idx) ? "true" : "false");
      break;
    case LUA_TNIL:
      lua_pushliteral(L, "nil");
      break;
    default:
      lua_pushfstring(L, "%s: %p", luaL_typename(L, idx),
                      lua_topointer(L, idx));
    }
  }
  return lua_tolstring(L, -1, len);
}
#define luaL_tolstring caskdb_tolstring

#endif /* LUA_VERSION_NUM < 502 */

/* ------------------------------------------------------------------------
 * Lua 5.1, 5.2 and LuaJIT: numbers are doubles; what 5.3 added
 * ---------------------------------------------------------------------- */
#if LUA_VERSION_NUM < 503

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
_Static_assert(sizeof(lua_Integer) == 8, "caskdb needs a 64-bit lua_Integer");
#endif

/* 5.3's lua_Unsigned is 64 bits wide (5.2's is 32, 5.1 has none). */
#define lua_Unsigned uint64_t
#define LUA_MAXINTEGER ((lua_Integer)INT64_MAX)

/* Is `n` an exact integer in the range of int64?  -0.0 is not. */
static inline int caskdb_exactint(lua_Number n, lua_Integer *out) {
  double x = (double)n;
  uint64_t bits;
  if (!(x >= -9223372036854775808.0 && x < 9223372036854775808.0))
    return 0; /* NaN fails too */
  if ((double)(int64_t)x != x)
    return 0;
  memcpy(&bits, &x, sizeof bits);
  if (bits == (uint64_t)1 << 63)
    return 0; /* -0.0 */
  *out = (lua_Integer)(int64_t)x;
  return 1;
}

static inline int caskdb_isinteger(lua_State *L, int idx) {
  lua_Integer i;
  return lua_type(L, idx) == LUA_TNUMBER &&
         caskdb_exactint(lua_tonumber(L, idx), &i);
}
#define lua_isinteger caskdb_isinteger

/* As 5.3: a number (or a string convertible to one) with an exact integer
 * value; -0.0 is 0, as a table key would be. */
static inline lua_Integer caskdb_tointegerx(lua_State *L, int idx, int *isnum) {
  lua_Integer i = 0;
  int ok = 0;
  if (lua_isnumber(L, idx)) {
    lua_Number n = lua_tonumber(L, idx);
    ok = n == 0 || caskdb_exactint(n, &i);
  }
  if (isnum != NULL)
    *isnum = ok;
  return ok ? i : 0;
}
#define lua_tointegerx caskdb_tointegerx

/* lua_rawget that returns the type of the value it pushed. */
static inline int caskdb_rawget(lua_State *L, int idx) {
  lua_rawget(L, idx);
  return lua_type(L, -1);
}
#define lua_rawget caskdb_rawget

/* lua_pushvfstring with 5.3's %I (a lua_Integer); %s %d %c %f %p %% are
 * passed on to the version's own. */
static inline const char *caskdb_pushvfstring(lua_State *L, const char *fmt,
                                              va_list ap) {
  char buf[32];
  int n = 0;
  const char *e;
  luaL_checkstack(L, 4, "format");
  while ((e = strchr(fmt, '%')) != NULL && e[1] != '\0') {
    lua_pushlstring(L, fmt, (size_t)(e - fmt));
    switch (e[1]) {
    case 'I':
      snprintf(buf, sizeof buf, "%lld", (long long)va_arg(ap, lua_Integer));
      lua_pushstring(L, buf);
      break;
    case 's':
      lua_pushfstring(L, "%s", va_arg(ap, const char *));
      break;
    case 'd':
    case 'c':
      lua_pushfstring(L, e[1] == 'd' ? "%d" : "%c", va_arg(ap, int));
      break;
    case 'f':
      lua_pushfstring(L, "%f", va_arg(ap, lua_Number));
      break;
    case 'p':
      lua_pushfstring(L, "%p", va_arg(ap, void *));
      break;
    default: /* %% and anything unknown: the character itself */
      lua_pushlstring(L, e + 1, 1);
    }
    lua_concat(L, n == 0 ? 2 : 3);
    n = 1;
    fmt = e + 2;
  }
  lua_pushstring(L, fmt);
  lua_concat(L, n + 1);
  return lua_tostring(L, -1);
}

static inline const char *caskdb_pushfstring(lua_State *L, const char *fmt,
                                             ...) {
  const char *s;
  va_list ap;
  va_start(ap, fmt);
  s = caskdb_pushvfstring(L, fmt, ap);
  va_end(ap);
  return s;
}
#define lua_pushvfstring caskdb_pushvfstring
#define lua_pushfstring caskdb_pushfstring

/* The one user value of a userdata (n == 1), kept in a table of one. */
static inline int caskdb_setiuservalue(lua_State *L, int idx, int n) {
  idx = lua_absindex(L, idx);
  lua_createtable(L, 1, 0);
  lua_insert(L, -2);
  lua_rawseti(L, -2, n);
  lua_setuservalue(L, idx);
  return 1;
}
#define lua_setiuservalue caskdb_setiuservalue

static inline int caskdb_getiuservalue(lua_State *L, int idx, int n) {
  lua_getuservalue(L, idx);
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    lua_pushnil(L);
    return LUA_TNIL;
  }
  lua_rawgeti(L, -1, n);
  lua_remove(L, -2);
  return lua_type(L, -1);
}
#define lua_getiuservalue caskdb_getiuservalue

#endif /* LUA_VERSION_NUM < 503 */

#endif /* CASKDB_COMPAT_H */

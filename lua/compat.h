/*
 * compat.h -- the differences between Lua versions, in one place.
 *
 * The binding is written for Lua 5.4.  This header maps the few 5.4 calls it
 * uses onto Lua 5.3 so that the rest of the code reads as plain 5.4.  (Under
 * 5.3 there is no __close and a userdata has exactly one user value.)
 */
#ifndef CASKDB_COMPAT_H
#define CASKDB_COMPAT_H

#include "lua.h"
#include "lauxlib.h"

#if !defined(LUA_VERSION_NUM) || LUA_VERSION_NUM < 503
#error "caskdb needs Lua 5.3 or newer"
#endif

#if LUA_VERSION_NUM < 504
#define lua_newuserdatauv(L, size, nuv) lua_newuserdata((L), (size))
#define lua_setiuservalue(L, idx, n) (lua_setuservalue((L), (idx)), 1)
#define lua_getiuservalue(L, idx, n) lua_getuservalue((L), (idx))
#endif

#endif /* CASKDB_COMPAT_H */

/*
 * lmsgpack.h -- MessagePack (https://msgpack.org) encoding of Lua values.
 *
 * CaskDB stores a Lua table as one MessagePack object, so that a program in
 * any language can read it.  The mapping, fixed by docs/FORMAT.md:
 *
 *  - a table whose keys are exactly the integers 1..n (n >= 1) is an array;
 *    every other table, the empty one included, is a map;
 *  - integers take the smallest MessagePack int form (positive fixint, uint8
 *    .. uint64 for n >= 0; negative fixint, int8 .. int64 for n < 0);
 *  - floats are always float64 (decoding also accepts float32);
 *  - strings are str when they are valid UTF-8, else bin; both decode to Lua
 *    strings;
 *  - booleans are true/false; nil never appears in what is encoded;
 *  - table keys may be strings, integers, floats or booleans;
 *  - tables nest at most LMSGPACK_MAX_DEPTH levels (the outer table is
 *    level 1);
 *  - decoding: a uint64 above 2^63-1 becomes a float (Lua has no unsigned
 *    integers); nil (0xc0) as a map value drops the pair and as an array
 *    element leaves a hole; ext types, nil or NaN map keys, map or array
 *    keys, trailing or missing bytes, nesting over the limit are all
 *    "corrupt".
 *
 * Tables are read raw (no metamethods).  The decoder treats its input as
 * untrusted: every length is checked against the bytes that remain, and it
 * never recurses deeper than the limit.
 */
#ifndef CASKDB_LMSGPACK_H
#define CASKDB_LMSGPACK_H

#include <stddef.h>

#include "lua.h"

#define LMSGPACK_MAX_DEPTH 64

/* A growable byte buffer owned by a userdata on the Lua stack, so that a
 * Lua error anywhere while it is filled leaks nothing (the userdata's __gc
 * frees the bytes). */
typedef struct lmsgpack_buf {
  char *data;
  size_t len;
  size_t cap;
} lmsgpack_buf;

/* Push a new, empty buffer userdata and return it. */
lmsgpack_buf *lmsgpack_newbuf(lua_State *L);

/* Append `len` bytes to `b`; raises a memory error if it cannot grow. */
void lmsgpack_append(lua_State *L, lmsgpack_buf *b, const void *p, size_t len);

/* Append the MessagePack encoding of the value at stack index `idx` to `b`.
 * Returns NULL on success.  If the value cannot be encoded (a function or
 * userdata inside, a cycle, nesting over the limit, a bad key) it pushes a
 * message saying why (e.g. "table contains a cycle") and returns it; the
 * caller raises.  `b` then holds a partial encoding; discard it. */
const char *lmsgpack_encode(lua_State *L, int idx, lmsgpack_buf *b);

/* Decode the one MessagePack object that fills the `len` bytes at `s` and
 * push it.  Returns 1 on success, 0 (nothing pushed) if the bytes are not
 * exactly one object this decoder accepts.  `s` must stay valid during the
 * call and must not be memory that a Lua allocation can move or free (pass
 * the bytes of a Lua string that is on the stack). */
int lmsgpack_decode(lua_State *L, const char *s, size_t len);

#endif /* CASKDB_LMSGPACK_H */

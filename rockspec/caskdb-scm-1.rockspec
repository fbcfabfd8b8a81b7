-- LuaRocks build of the caskdb module: `luarocks make rockspec/caskdb-scm-1.rockspec`
-- from the repository root.  The "builtin" build compiles the engine
-- (core/src/*.c) and the binding (lua/*.c) into one caskdb.so; it needs no
-- CMake.  Keep the source list in step with core/src/*.c.
rockspec_format = "3.0"
package = "caskdb"
version = "scm-1"

source = {
  url = "git+https://github.com/caskdb/caskdb.git",
  branch = "main",
}

description = {
  summary = "An embedded, persistent key-value store on the Bitcask design",
  detailed = [[
CaskDB stores string and integer keys with string, number, boolean and table
values in a directory of append-only data files, with an in-memory index:
one lookup and one read per get, ordered iteration, crash safety by CRC-32C.
The engine is C; this rock is its binding for Lua 5.1 to 5.4 and LuaJIT 2.1.
]],
  homepage = "https://github.com/caskdb/caskdb",
  license = "MIT",
  labels = { "database", "key-value", "storage" },
}

-- One source for every version: lua/compat.h maps the 5.4 API the binding
-- is written in onto 5.1 (and LuaJIT), 5.2 and 5.3.  For LuaJIT build with
-- --lua-version=5.1: LuaJIT loads modules built against the 5.1 headers.
dependencies = {
  "lua >= 5.1",
}

build = {
  type = "builtin",
  modules = {
    caskdb = {
      sources = {
        "core/src/backup.c",
        "core/src/batch.c",
        "core/src/cache.c",
        "core/src/crc32c.c",
        "core/src/datafile.c",
        "core/src/db.c",
        "core/src/hint.c",
        "core/src/hintrun.c",
        "core/src/iter.c",
        "core/src/key.c",
        "core/src/keydir.c",
        "core/src/list.c",
        "core/src/lock.c",
        "core/src/merge.c",
        "core/src/open.c",
        "core/src/os.c",
        "core/src/record.c",
        "core/src/shared.c",
        "core/src/syncer.c",
        "lua/caskdb.c",
        "lua/lmsgpack.c",
      },
      defines = { "_GNU_SOURCE" },
      incdirs = { "core/include", "core/src", "lua" },
      libraries = { "pthread", "m" },
    },
    ["caskdb.format"] = "lua/caskdb/format.lua",
    ["caskdb.msgpack"] = "lua/caskdb/msgpack.lua",
    ["caskdb.json"] = "lua/caskdb/json.lua",
    ["caskdb.cli"] = "lua/caskdb/cli.lua",
  },
  install = { bin = { caskdb = "bin/caskdb" } },
}

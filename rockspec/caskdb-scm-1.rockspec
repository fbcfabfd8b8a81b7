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
The engine is C; this rock is its Lua 5.4 binding.
]],
  homepage = "https://github.com/caskdb/caskdb",
  license = "MIT",
  labels = { "database", "key-value", "storage" },
}

dependencies = {
  "lua >= 5.4, < 5.5",
}

build = {
  type = "builtin",
  modules = {
    caskdb = {
      sources = {
        "core/src/backup.c",
        "core/src/batch.c",
        "core/src/crc32c.c",
        "core/src/datafile.c",
        "core/src/db.c",
        "core/src/hint.c",
        "core/src/iter.c",
        "core/src/key.c",
        "core/src/keydir.c",
        "core/src/list.c",
        "core/src/lock.c",
        "core/src/merge.c",
        "core/src/open.c",
        "core/src/os.c",
        "core/src/record.c",
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

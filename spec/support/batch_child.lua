-- The child of spec/16-batch_kill_spec.lua: writes large batches in a loop
-- until it is killed.  Batch g sets the keys 1..n and "gen" to generation g
-- (each value starts with "g:" and is padded to `size` bytes), so after any
-- crash every key must hold one and the same generation.
--   lua5.4 batch_child.lua DBPATH N SIZE MAX_FILE_SIZE (or lua5.1, luajit...)
local caskdb = require "caskdb"
local path, n, size, max_file_size = arg[1], tonumber(arg[2]),
  tonumber(arg[3]), tonumber(arg[4])

local db = assert(caskdb.open(path, { max_file_size = max_file_size, sync = "always" }))
local gen = db:get("gen") or 0
while true do
  gen = gen + 1
  local v = (gen .. ":"):rep(1 + math.floor(size / (#tostring(gen) + 1))):sub(1, size)
  assert(db:batch(function(b)
    for i = 1, n do
      b:set(i, v)
    end
    b:set("gen", gen)
  end))
end

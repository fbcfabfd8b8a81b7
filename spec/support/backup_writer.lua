-- A writer process for spec/25-backup_spec.lua: commits batches that set
-- "a<g>" and "b<g>" to g, and prints g after each commit returns, so the
-- parent knows what was acknowledged.  After 300 batches it slows down to
-- one a millisecond or so.  Usage: lua5.4 backup_writer.lua DIR N
local caskdb = require "caskdb"
local dir, n = arg[1], tonumber(arg[2])
local db = assert(caskdb.open(dir, { max_file_size = 64 * 1024 }))
io.stdout:setvbuf("line")
for g = 1, n do
  assert(db:batch(function(b)
    b:set("a" .. g, g)
    b:set("b" .. g, g)
  end))
  io.stdout:write(g, "\n")
  if g > 300 then -- slow down, so that the parent's backup runs meanwhile
    local t = os.clock() + 0.001
    while os.clock() < t do end
  end
end
db:close()

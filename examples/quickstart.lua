-- CaskDB quick start: lua5.4 examples/quickstart.lua [DIRECTORY]
--
-- Stores a few books, closes and reopens the database to show that they
-- persisted, scans a range, stores typed values and times 100,000 sets and
-- gets.  Without DIRECTORY it works in a temporary directory and removes it.
local caskdb = require "caskdb"

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- Where to work: arg[1] (kept), or a fresh temporary directory (removed).
local base, temporary = arg and arg[1], false
if not base then
  base = os.tmpname()
  os.remove(base)
  assert(os.execute("mkdir -m 700 " .. quote(base)))
  temporary = true
end
local path = base .. "/books.db"

print("caskdb " .. caskdb.version .. ", database in " .. path)

-- Open (the directory is created if missing) and write two ways.
local db = assert(caskdb.open(path, { sync = "none" }))
assert(db:set("othello", "shakespeare"))
db["hamlet"] = "shakespeare"
db["ulysses"] = "joyce"
db["dubliners"] = "joyce"
db["middlemarch"] = "eliot"
print("othello:", db:get("othello"), "hamlet:", db.hamlet)
db:close()

-- Reopen: everything is still there.
db = assert(caskdb.open(path))
print("after reopen, " .. #db .. " books; ulysses by " .. db:get("ulysses"))

-- A range scan: from <= key < to, in key order.
print("books from 'd' up to (not including) 'm':")
for title, author in db:range("d", "m") do
  print("", title, author)
end

-- Typed values come back with their type.
db:set("pages", 1152)                                   -- integer
db:set("rating", 4.5)                                   -- float
db:set("in_print", true)                                -- boolean
db:set("meta", { title = "Ulysses", year = 1922, tags = { "novel", "modernist" } })
local meta = db:get("meta")
print(string.format("pages %d (%s), rating %.1f (%s), in print: %s",
  db:get("pages"), math.type(db:get("pages")), db:get("rating"),
  math.type(db:get("rating")), tostring(db:get("in_print"))))
print("meta:", meta.title, meta.year, table.concat(meta.tags, ", "))
db:close()

-- A short timed loop.
local N = 100000
db = assert(caskdb.open(base .. "/bench.db"))
local clock = os.clock
local t0 = clock()
for i = 1, N do
  db:set(i, "value " .. i)
end
local t1 = clock()
for i = 1, N do
  assert(db:get(i))
end
local t2 = clock()
print(string.format("%d sets: %.0f ops/s; %d gets: %.0f ops/s (CPU time)",
  N, N / math.max(t1 - t0, 1e-9), N, N / math.max(t2 - t1, 1e-9)))
db:close()

if temporary then
  assert(os.execute("rm -rf -- " .. quote(base)))
end

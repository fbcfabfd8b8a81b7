-- bench/lua/bench.lua -- the point workloads from Lua 5.4 or LuaJIT (any
-- Lua from 5.1 on): CaskDB through
-- require "caskdb", next to a plain Lua table (the ceiling) and SQLite
-- through luasql (lua-sql-sqlite3), in one run, printed as a markdown table
-- with ratios.
--
--   lua5.4 bench/lua/bench.lua [N [N_SQL]]
--   CASKDB_LUA_DIR=build-luajit/lua luajit bench/lua/bench.lua [N [N_SQL]]
--
-- N keys (default 1000000) for CaskDB and the table; N_SQL (default
-- min(N, 100000)) for luasql, which is much slower.  The module is looked
-- up first in $CASKDB_LUA_DIR if set, else in build/lua beside this
-- script's bench/ directory.
--
-- Every engine sees the same keys in the same order: 16-byte keys (the
-- number 2i as zero-padded decimal digits; the missing keys are the odd
-- numbers between), inserted in a random order, read in another, drawn
-- once from a fixed seed before any clock starts; values are one 100-byte
-- string.  Hot functions are local aliases (local get = db.get), as a
-- program with a hot loop would write them.  The clock is luasystem's
-- monotime (wall time) when it is installed, else os.clock (CPU time: says
-- so in the output).

local lua_dir = os.getenv("CASKDB_LUA_DIR")
if not lua_dir then
  local root = (arg and arg[0] or ""):match("^(.-)/?bench/lua/[^/]*$")
  if root then lua_dir = (root == "" and "." or root) .. "/build/lua" end
end
if lua_dir then package.cpath = lua_dir .. "/?.so;" .. package.cpath end

local caskdb = require "caskdb"
local has_system, system = pcall(require, "system")
local has_sql, luasql = pcall(require, "luasql.sqlite3")

local clock, clock_name = os.clock, "os.clock (CPU time of the process)"
if has_system and system.monotime then
  clock, clock_name = system.monotime, "luasystem monotime (wall time)"
end

local format, random, collect = string.format, math.random, collectgarbage

local floor = math.floor
local N = floor(tonumber(arg[1]) or 1000000)
local N_SQL = floor(tonumber(arg[2]) or math.min(N, 100000))
local N_DEL = floor(N / 10)
local VALUE = string.rep("0123456789", 10) -- 100 bytes

local function loadavg()
  local f = io.open("/proc/loadavg")
  if not f then return "?" end
  local s = f:read("*l")
  f:close()
  return s
end

-- The key sequences, for n keys.
local function sequences(n)
  math.randomseed(42)
  local present, missing = {}, {}
  for i = 1, n do
    present[i] = format("%016d", 2 * (i - 1))
    missing[i] = format("%016d", 2 * (i - 1) + 1)
  end
  local perm = {}
  for i = 1, n do perm[i] = i end
  for i = n, 2, -1 do
    local j = random(i)
    perm[i], perm[j] = perm[j], perm[i]
  end
  local s = { fill = {}, hit = {}, miss = {}, over = {}, del = {} }
  for i = 1, n do
    local r = random(n)
    s.fill[i] = present[perm[i]]
    s.hit[i] = present[r]
    s.miss[i] = missing[r]
    s.over[i] = present[random(n)]
  end
  for i = 1, floor(n / 10) do s.del[i] = present[perm[i]] end
  return s
end

-- Time fn(); operations per second.
local function rate(ops, fn)
  collect()
  local t0 = clock()
  fn()
  local dt = clock() - t0
  return ops / dt, dt
end

local WORKLOADS = { "set", "get hit", "get miss", "overwrite", "pairs",
  "delete" }

-- Each runner returns { [workload] = ops per second }.

local function run_table(s, n)
  local t, r = {}, {}
  local fill, hit, miss, over, del = s.fill, s.hit, s.miss, s.over, s.del
  r["set"] = rate(n, function()
    for i = 1, n do t[fill[i]] = VALUE end
  end)
  r["get hit"] = rate(n, function()
    local found = 0
    for i = 1, n do if t[hit[i]] then found = found + 1 end end
    assert(found == n)
  end)
  r["get miss"] = rate(n, function()
    for i = 1, n do assert(t[miss[i]] == nil) end
  end)
  r["overwrite"] = rate(n, function()
    for i = 1, n do t[over[i]] = VALUE end
  end)
  r["pairs"] = rate(n, function()
    local c = 0
    for _, v in pairs(t) do if v then c = c + 1 end end
    assert(c == n)
  end)
  r["delete"] = rate(#del, function()
    for i = 1, #del do t[del[i]] = nil end
  end)
  return r
end

local function run_caskdb(s, n, dir)
  local db = assert(caskdb.open(dir))
  local set, get, delete = db.set, db.get, db.delete
  local fill, hit, miss, over, del = s.fill, s.hit, s.miss, s.over, s.del
  local r = {}
  r["set"] = rate(n, function()
    for i = 1, n do set(db, fill[i], VALUE) end
  end)
  r["get hit"] = rate(n, function()
    local found = 0
    for i = 1, n do if get(db, hit[i]) then found = found + 1 end end
    assert(found == n)
  end)
  r["get miss"] = rate(n, function()
    for i = 1, n do assert(get(db, miss[i]) == nil) end
  end)
  r["overwrite"] = rate(n, function()
    for i = 1, n do set(db, over[i], VALUE) end
  end)
  r["pairs"] = rate(n, function()
    local c = 0
    for _, v in db:pairs() do if v then c = c + 1 end end
    assert(c == n)
  end)
  r["delete"] = rate(#del, function()
    for i = 1, #del do assert(delete(db, del[i])) end
  end)
  db:close()
  return r
end

local function run_luasql(s, n, dir)
  local env = assert(luasql.sqlite3())
  local conn = assert(env:connect(dir .. "/kv.sqlite"))
  local function exec(sql)
    local cur = assert(conn:execute(sql))
    if type(cur) == "userdata" then cur:close() end
  end
  exec("PRAGMA journal_mode=WAL")
  exec("PRAGMA synchronous=OFF")
  exec("PRAGMA cache_size=-65536")
  exec("CREATE TABLE kv(k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID")
  local execute = conn.execute
  local fill, hit, miss, over, del = s.fill, s.hit, s.miss, s.over, s.del
  local PUT = "INSERT OR REPLACE INTO kv(k, v) VALUES('%s', '%s')"
  local GET = "SELECT v FROM kv WHERE k = '%s'"
  local DEL = "DELETE FROM kv WHERE k = '%s'"
  local r = {}
  r["set"] = rate(n, function()
    for i = 1, n do assert(execute(conn, format(PUT, fill[i], VALUE))) end
  end)
  local function get(k)
    local cur = execute(conn, format(GET, k))
    local v = cur:fetch()
    cur:close()
    return v
  end
  r["get hit"] = rate(n, function()
    local found = 0
    for i = 1, n do if get(hit[i]) then found = found + 1 end end
    assert(found == n)
  end)
  r["get miss"] = rate(n, function()
    for i = 1, n do assert(get(miss[i]) == nil) end
  end)
  r["overwrite"] = rate(n, function()
    for i = 1, n do assert(execute(conn, format(PUT, over[i], VALUE))) end
  end)
  r["pairs"] = rate(n, function()
    local cur, c = execute(conn, "SELECT k, v FROM kv ORDER BY k"), 0
    local k, v = cur:fetch()
    while k do
      c = c + 1
      k, v = cur:fetch()
    end
    cur:close()
    assert(c == n and v == nil)
  end)
  r["delete"] = rate(#del, function()
    for i = 1, #del do assert(execute(conn, format(DEL, del[i]))) end
  end)
  conn:close()
  env:close()
  return r
end

local function human(v)
  if not v then return "-" end
  if v >= 1e6 then return format("%.2fM", v / 1e6) end
  if v >= 1e3 then return format("%.1fk", v / 1e3) end
  return format("%.0f", v)
end

local function ratio(a, b)
  if not a or not b then return "-" end
  return format("%.2fx", a / b)
end

local base = (os.getenv("TMPDIR") or "/tmp") .. "/caskdb-luabench-"
  .. os.time() .. "-" .. random(1e9)
local function rmrf(d) os.execute("rm -rf '" .. d .. "'") end

local load0 = loadavg()
io.stderr:write("bench.lua: drawing ", N, " keys\n")
local seq = sequences(N)

io.stderr:write("bench.lua: plain table\n")
local r_table = run_table(seq, N)
collect()
io.stderr:write("bench.lua: caskdb\n")
local r_cask = run_caskdb(seq, N, base .. "-caskdb")
rmrf(base .. "-caskdb")
collect()

local r_sql
if has_sql then
  io.stderr:write("bench.lua: luasql sqlite3, ", N_SQL, " keys\n")
  local sseq = N_SQL == N and seq or sequences(N_SQL)
  os.execute("mkdir -p '" .. base .. "-sqlite'")
  r_sql = run_luasql(sseq, N_SQL, base .. "-sqlite")
  rmrf(base .. "-sqlite")
end

print(format("## bench.lua: %s, N = %d keys of 16 bytes, 100-byte values\n",
  rawget(_G, "jit") and jit.version or _VERSION, N))
print("- " .. os.date())
print("- clock: " .. clock_name)
print("- caskdb: require \"caskdb\" (" .. (package.searchpath("caskdb",
  package.cpath) or "?") .. "), default options (sync = \"none\")")
print("- table: a plain Lua table, the ceiling; its pairs is in hash order, "
  .. "the others' in key order")
if has_sql then
  print(format("- luasql: lua-sql-sqlite3 (%s), N = %d keys; luasql has no "
    .. "prepared statements, so every operation is conn:execute of a "
    .. "string.format'd statement (parsed each time); WAL, "
    .. "synchronous=OFF, autocommit (one transaction per write)",
    luasql._VERSION or "luasql", N_SQL))
else
  print("- luasql: skipped (require \"luasql.sqlite3\" failed: apt-get "
    .. "install lua-sql-sqlite3)")
end
print(format("- delete: %d keys (N/10); ratio > 1: caskdb is faster", N_DEL))
print("- load average at start: " .. load0)
print()
print("| workload | caskdb ops/s | table ops/s | caskdb/table | luasql ops/s "
  .. "| caskdb/luasql |")
print("|---|---:|---:|---:|---:|---:|")
for _, w in ipairs(WORKLOADS) do
  local c, t, q = r_cask[w], r_table[w], r_sql and r_sql[w]
  print(format("| %s | %s | %s | %s | %s | %s |", w, human(c), human(t),
    ratio(c, t), human(q), ratio(c, q)))
end
print()
print("- load average at end: " .. loadavg())

-- Helpers shared by the specs: temporary directories, the module, Python.
local M = {}

M.caskdb = require "caskdb"

local tmp_root -- the directory os.tmpname() creates its files in

-- ---------------------------------------------------------------------------
-- Lua versions.  The specs run under Lua 5.1, 5.2, 5.3, 5.4 and LuaJIT 2.1;
-- these helpers hide what differs in the language and its libraries (not in
-- CaskDB: a spec that tests a difference of the binding says so itself).
-- ---------------------------------------------------------------------------

-- "5.1", "5.2", "5.3", "5.4" or "luajit".
M.lua = type(jit) == "table" and "luajit" or _VERSION:match("%d+%.%d+")

-- Lua 5.3 and later have an integer subtype (math.type); before it every
-- number is a double and CaskDB calls a number with an exact integer value
-- in the int64 range an integer (README, "Lua versions").
M.integers = math.type ~= nil

-- The largest and smallest integers a number can hold: math.maxinteger and
-- math.mininteger, or before 5.3 the largest double below 2^63 and -2^63.
M.maxinteger = math.maxinteger or 9223372036854774784
M.mininteger = math.mininteger or -9223372036854775808

-- math.type, or before 5.3 CaskDB's notion of it: "integer" for a number
-- with an exact integer value in the int64 range (-0.0 excluded), "float"
-- for any other number, nil for anything else.
function M.math_type(x)
  if math.type then
    return math.type(x)
  end
  if type(x) ~= "number" then
    return nil
  end
  if x == x and x >= -2 ^ 63 and x < 2 ^ 63 and x == math.floor(x)
      and not (x == 0 and 1 / x < 0) then
    return "integer"
  end
  return "float"
end

-- Does pairs() honour __pairs (5.2+; not 5.1, not LuaJIT)?  Without it,
-- pairs(db) raises and db:pairs() is the way to iterate.
M.pairs_metamethod = (function()
  local called = false
  for _ in pairs(setmetatable({}, { __pairs = function()
    called = true
    return function() end
  end })) do end
  return called
end)()

-- pairs(db) where __pairs works, else db:pairs() (the same iterator).
function M.pairs(db)
  if M.pairs_metamethod then
    return pairs(db)
  end
  return db:pairs()
end

-- Does the language have to-be-closed variables (5.4's `local x <close>`)?
M.close_syntax = (loadstring or load)("local x <close> = nil") ~= nil -- luacheck: ignore 113

-- A collector with no pause (on), or back to the defaults (off): 5.4's
-- collectgarbage("incremental", pause, stepmul), or setpause/setstepmul.
function M.gc_eager(on)
  if M.lua == "5.4" then
    collectgarbage("incremental", on and 0 or 200, 100)
  else
    collectgarbage("setpause", on and 0 or 200)
    collectgarbage("setstepmul", on and 100 or 200)
  end
end

-- The command of the interpreter running the specs (Debian's names), for
-- child processes that load the same build of the module.
M.interpreter = M.lua == "luajit" and "luajit" or "lua" .. M.lua

-- package.searchpath (5.2+, and LuaJIT), or the same search for 5.1.
function M.searchpath(name, path)
  if package.searchpath then
    return package.searchpath(name, path)
  end
  local file = name:gsub("%.", "/")
  for template in path:gmatch("[^;]+") do
    local candidate = template:gsub("%?", file)
    local f = io.open(candidate, "rb")
    if f then
      f:close()
      return candidate
    end
  end
  return nil, "no file for " .. name
end

-- -0.0 made at run time: Lua 5.1 and LuaJIT keep one constant for 0 and
-- -0.0 in a function that has both, so a literal -0.0 may read as 0.
M.negzero = (function()
  local zero = 0.0
  return -zero
end)()

-- load() of a string (5.1's load wants a function; its loadstring does it).
M.load = loadstring or load -- luacheck: ignore 113 (loadstring: 5.1)

-- table.unpack (5.2+) or unpack (5.1).
M.unpack = table.unpack or unpack -- luacheck: ignore 113 (unpack: 5.1)

-- os.execute's three results as 5.2+ gives them (true|nil, "exit"|"signal",
-- code); Lua 5.1 and LuaJIT return the wait status as one number.
function M.execute(cmd)
  local a, b, c = os.execute(cmd)
  if type(a) ~= "number" then
    return a, b, c
  end
  if a % 256 == 0 then
    local code = math.floor(a / 256)
    return code == 0 or nil, "exit", code
  end
  return nil, "signal", a % 128
end

-- Flip bit n (0..7) of a byte value (the ~ and << operators are 5.3+).
function M.flip_bit(byte, n)
  local m = math.floor(2 ^ n)
  if math.floor(byte / m) % 2 == 1 then
    return byte - m
  end
  return byte + m
end

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end
M.quote = quote

-- Run a shell command; true if it exited with status 0.
local function run(cmd)
  local ok, how, code = M.execute(cmd)
  return ok == true and how == "exit" and code == 0
end

-- A fresh, empty directory of our own.
function M.tmpdir()
  local name = os.tmpname() -- creates an empty file: a unique name
  assert(os.remove(name))
  assert(run("mkdir -m 700 " .. quote(name)), "cannot create " .. name)
  tmp_root = tmp_root or name:match("^(.*)/[^/]+$")
  return name
end

-- Remove a directory made by tmpdir() and everything in it.  Refuses any
-- other path.
function M.rmrf(path)
  assert(type(path) == "string" and tmp_root and #path > #tmp_root + 1
    and path:sub(1, #tmp_root + 1) == tmp_root .. "/"
    and not path:find("/%.%.?/") and not path:find("/%.%.?$")
    and not path:find("/", #tmp_root + 2, true),
    "refusing to remove " .. tostring(path))
  assert(run("rm -rf -- " .. quote(path)))
end

-- A temporary directory for one test, and a database path inside it
-- (the database directory itself does not exist yet).
function M.setup()
  local dir = M.tmpdir()
  return dir, dir .. "/db"
end

function M.exists(path)
  return run("test -e " .. quote(path))
end

-- Open and assert.
function M.open(path, opts)
  local db, msg, code = M.caskdb.open(path, opts)
  assert(db, tostring(msg) .. " (" .. tostring(code) .. ")")
  return db
end

-- Every (k, v) of an iterator, in order: { {k, v}, ... }.
function M.collect(f, s, c, closing)
  local out = {}
  for k, v in f, s, c, closing do
    out[#out + 1] = { k, v }
  end
  return out
end

-- The keys only.
function M.keys(f, s, c, closing)
  local out = {}
  for k in f, s, c, closing do
    out[#out + 1] = k
  end
  return out
end

function M.hex(s)
  return (s:gsub(".", function(c)
    return string.format("%02x", c:byte())
  end))
end

function M.unhex(h)
  return (h:gsub("%x%x", function(x)
    return string.char(tonumber(x, 16))
  end))
end

-- The raw bits of a float, to compare NaN, infinities and -0.0 exactly.
-- Before 5.3 there is no string.pack: the float64 that caskdb's MessagePack
-- encoder writes (a copy of the double's 8 bytes, big-endian) stands in for
-- a number that is not an integer; an integer is its decimal digits.
function M.bits(x)
  if string.pack then
    return string.pack("<d", x)
  end
  if M.math_type(x) == "integer" then
    return string.format("%.0f", x)
  end
  return (M.caskdb.msgpack_encode(x))
end

-- The double whose bits are the 16 hex digits h (big-endian), e.g. a NaN
-- with another payload: string.unpack, or before 5.3 caskdb's MessagePack
-- decoder of a float64 (a copy of the 8 bytes).
function M.double(h)
  if string.unpack then
    return (string.unpack(">d", M.unhex(h)))
  end
  return (M.caskdb.msgpack_decode(M.unhex("cb" .. h)))
end

-- A python3 that has the msgpack module, or nil.
function M.python_msgpack()
  for _, py in ipairs({ "/usr/bin/python3", "python3" }) do
    if run(py .. " -c 'import msgpack' >/dev/null 2>&1") then
      return py
    end
  end
  return nil
end

-- Run a Python script (text) with `input` on its standard input; return
-- its standard output.  The input goes through a temporary file.
function M.python(py, script, input, dir)
  local sfile, ifile = dir .. "/script.py", dir .. "/input"
  local f = assert(io.open(sfile, "wb"))
  f:write(script)
  f:close()
  f = assert(io.open(ifile, "wb"))
  f:write(input or "")
  f:close()
  local p = assert(io.popen(py .. " " .. quote(sfile) .. " < " .. quote(ifile)))
  local out = p:read("*a")
  local ok = p:close()
  assert(ok, "python failed: " .. out)
  return out
end

-- A string of every byte value 0..255.
M.all_bytes = (function()
  local t = {}
  for i = 0, 255 do
    t[#t + 1] = string.char(i)
  end
  return table.concat(t)
end)()

return M

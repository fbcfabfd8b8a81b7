-- Helpers shared by the specs: temporary directories, the module, Python.
local M = {}

M.caskdb = require "caskdb"

local tmp_root -- the directory os.tmpname() creates its files in

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end
M.quote = quote

-- Run a shell command; true if it exited with status 0.
local function run(cmd)
  local ok, how, code = os.execute(cmd)
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
function M.bits(x)
  return string.pack("<d", x)
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
  local out = p:read("a")
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

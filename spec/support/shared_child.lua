-- The child of spec/27-shared_spec.lua: one of four processes (Lua 5.4 or
-- LuaJIT) on one database opened with shared = true.  It writes its own
-- keys ("c<id>:<k>") and reads the others' until the file STOP exists (or
-- it is killed).  Before each write it logs "I <seq> <key> <value or ->",
-- after the write returned "A <seq>", flushed each time (a SIGKILL loses
-- nothing that reached the OS).  A value read from another child must be
-- one that child could have written for that key; its own write must read
-- back at once.  Child 0 also merges now and then.
--   lua5.4 shared_child.lua DBPATH ID LOGFILE STOPFILE
local caskdb = require "caskdb"
local path, id, logfile, stopfile = arg[1], tonumber(arg[2]), arg[3], arg[4]
local NCHILD, NKEYS = 4, 40

local function fail(msg)
  io.stderr:write(("child %d (%s): %s\n"):format(id,
    type(jit) == "table" and "luajit" or _VERSION, msg))
  os.exit(3)
end

local db, err = caskdb.open(path, { shared = true, max_file_size = 16384 })
if not db then
  fail("open: " .. tostring(err))
end

-- Go on numbering after the last intent of the killed child before us.
local seq = 0
local f = io.open(logfile, "r")
if f then
  for line in f:lines() do
    local s = line:match("^I (%d+) ")
    if s and tonumber(s) > seq then
      seq = tonumber(s)
    end
  end
  f:close()
end
local log = assert(io.open(logfile, "a"))
math.randomseed(os.time() + id * 7919 + math.floor(os.clock() * 1e6) + seq)

local function stopped()
  local s = io.open(stopfile, "r")
  if s then
    s:close()
    return true
  end
  return false
end

local ops = 0
while true do
  ops = ops + 1
  if ops % 20 == 0 and stopped() then
    break
  end
  local r = math.random()
  if r < 0.75 then
    local k = math.random(NKEYS)
    local key = ("c%d:%d"):format(id, k)
    seq = seq + 1
    local value = r < 0.6 and ("c%d:%d:%d"):format(id, k, seq) or nil
    log:write(("I %d %s %s\n"):format(seq, key, value or "-"))
    log:flush()
    local ok, msg = db:set(key, value) -- nil deletes
    if not ok then
      fail("set: " .. tostring(msg))
    end
    log:write(("A %d\n"):format(seq))
    log:flush()
    if db:get(key) ~= value then
      fail("own write does not read back: " .. key)
    end
  else
    local other = (id + math.random(NCHILD - 1)) % NCHILD
    local k = math.random(NKEYS)
    local v, msg = db:get(("c%d:%d"):format(other, k))
    if msg then
      fail("get: " .. tostring(msg))
    end
    if v ~= nil and not v:match(("^c%d:%d:%%d+$"):format(other, k)) then
      fail("a value that was never written: " .. tostring(v))
    end
  end
  if id == 0 and ops % 150 == 0 then
    local ok, msg, code = db:merge()
    if not ok and code ~= "locked" then
      fail("merge: " .. tostring(msg))
    end
  end
end
log:close()
db:close()
local done = assert(io.open(logfile .. ".done", "w"))
done:write("done\n")
done:close()

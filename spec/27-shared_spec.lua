-- Shared mode across interpreters and SIGKILLs: four processes at once on
-- one database opened with shared = true, two running Lua 5.4 and two
-- LuaJIT (spec/support/shared_child.lua), each writing its own keys and
-- reading the others'.  One of them, at random, is killed with kill -9 and
-- started again, 8 times.  Then every child is stopped and the database
-- is opened afresh: every key holds what its writer's log says was
-- acknowledged last (or, for a key whose last write was cut by a kill,
-- that write or the state before it).
--
-- The module is needed for both interpreters: build/ (Lua 5.4) and
-- build-luajit/ as scripts/test.sh builds them (or the build the specs
-- run from, for its own interpreter).  Without one the spec is pending.
local helpers = require "spec.helpers"
local quote = helpers.quote

local CHILDREN = { "lua5.4", "luajit", "lua5.4", "luajit" }
local ROUNDS = 8

local ROOT = os.getenv("PWD") or "."

local function sleep(secs)
  helpers.execute(("sleep %.2f"):format(secs))
end

-- The caskdb.so for an interpreter, or nil.
local function module_for(interp)
  if interp == helpers.interpreter then
    local mine = helpers.searchpath("caskdb", package.cpath)
    if mine then
      return mine
    end
  end
  local p = ROOT .. "/" .. (interp == "luajit" and "build-luajit" or "build")
    .. "/lua/caskdb.so"
  return helpers.exists(p) and p or nil
end

local function alive(pid)
  return helpers.execute("kill -0 " .. pid .. " 2>/dev/null") == true
end

-- Start child i in the background; its pid.
local function start(i, path, dir)
  local interp = CHILDREN[i + 1]
  local cpath = module_for(interp):gsub("caskdb%.so$", "?.so")
  local cmd = ("%s%s -e %s spec/support/shared_child.lua %s %d %s %s"
    .. " >/dev/null 2>>%s & echo $!"):format(
      -- LuaJIT children load a build without sanitizers: no ASan preload.
      interp == "luajit" and "env -u LD_PRELOAD " or "", interp,
      quote("package.cpath = " .. ("%q"):format(cpath) .. " .. ';' .. package.cpath"),
      quote(path), i, quote(dir .. "/log" .. i), quote(dir .. "/STOP"),
      quote(dir .. "/errors"))
  local p = assert(io.popen(cmd))
  local pid = tonumber(p:read("*l"))
  p:close()
  assert(pid, "could not start " .. interp)
  return pid
end

local function read_file(name)
  local f = io.open(name, "rb")
  if not f then
    return nil
  end
  local s = f:read("*a")
  f:close()
  return s
end

-- What each key may hold, from the logs: the values of its last write and,
-- walking back, of every write not acknowledged, down to the last one that
-- was (nil stands for a delete, or for no write at all).
local function expected(dir)
  local allowed, acked_ops = {}, 0
  for i = 0, #CHILDREN - 1 do
    local intents, order, acked = {}, {}, {}
    for line in io.lines(dir .. "/log" .. i) do
      local seq, key, value = line:match("^I (%d+) (%S+) (%S+)$")
      if seq then
        intents[#intents + 1] = { key = key, value = value ~= "-" and value or nil,
          seq = seq }
        order[key] = order[key] or {}
        table.insert(order[key], #intents)
      else
        local a = line:match("^A (%d+)$")
        assert(a, "bad log line: " .. line)
        acked[a] = true
        acked_ops = acked_ops + 1
      end
    end
    for key, list in pairs(order) do
      local set = {}
      for j = #list, 1, -1 do
        local w = intents[list[j]]
        set[#set + 1] = w.value or false
        if acked[w.seq] then
          break
        end
        if j == 1 then
          set[#set + 1] = false
        end
      end
      allowed[key] = set
    end
  end
  return allowed, acked_ops
end

local function check(db, allowed, who)
  for key, set in pairs(allowed) do
    local v = db:get(key)
    local ok = false
    for _, want in ipairs(set) do
      ok = ok or (want == false and v == nil) or v == want
    end
    assert(ok, ("%s: key %s holds %s"):format(who, key, tostring(v)))
  end
end

describe("shared = true", function()
  local dir, path
  before_each(function()
    dir, path = helpers.setup()
  end)
  after_each(function()
    helpers.rmrf(dir)
  end)

  it("four processes (Lua 5.4 and LuaJIT) write, read and merge under kill -9; a fresh open holds every acknowledged write",
    function()
      for _, interp in ipairs({ "lua5.4", "luajit" }) do
        if not helpers.execute("command -v " .. interp .. " >/dev/null 2>&1") then
          pending(interp .. " is not installed (scripts/deps.sh)")
          return
        end
        if not module_for(interp) then
          pending("no " .. interp .. " build of the module (build/, build-luajit/: "
            .. "sh scripts/test.sh builds both)")
          return
        end
      end
      math.randomseed(os.time())
      -- The first opener creates the database alone, then the others join.
      local pids = {}
      for i = 0, #CHILDREN - 1 do
        pids[i] = start(i, path, dir)
        if i == 0 then
          sleep(0.3)
        end
      end
      for round = 1, ROUNDS do
        sleep(0.2 + math.random() * 0.3)
        local victim = math.random(0, #CHILDREN - 1)
        assert(alive(pids[victim]), ("round %d: child %d died on its own: %s"):format(
          round, victim, read_file(dir .. "/errors") or ""))
        helpers.execute("kill -9 " .. pids[victim])
        for _ = 1, 100 do
          if not alive(pids[victim]) then
            break
          end
          sleep(0.05)
        end
        assert(not alive(pids[victim]), "child " .. victim .. " survived kill -9")
        pids[victim] = start(victim, path, dir)
      end
      sleep(0.3)
      assert(io.open(dir .. "/STOP", "w")):close()
      for i = 0, #CHILDREN - 1 do
        for _ = 1, 600 do
          if helpers.exists(dir .. "/log" .. i .. ".done") then
            break
          end
          sleep(0.05)
        end
        assert(helpers.exists(dir .. "/log" .. i .. ".done"),
          "child " .. i .. " did not stop: " .. (read_file(dir .. "/errors") or ""))
      end
      assert.equal("", read_file(dir .. "/errors") or "")
      local allowed, acked = expected(dir)
      assert.is_true(acked > 200, "only " .. acked .. " writes were acknowledged")
      local db = helpers.open(path)
      check(db, allowed, "exclusive open")
      assert.equal(0, db:stats().corrupt_records)
      db:close()
      db = helpers.open(path, { shared = true })
      check(db, allowed, "shared open")
      db:close()
      print(("  %d acknowledged writes by 2 Lua 5.4 and 2 LuaJIT processes, %d kills")
        :format(acked, ROUNDS))
    end)
end)

-- Atomic batches across a crash: a child process writes large batches in a
-- loop (spec/support/batch_child.lua: batch g sets 100 keys and "gen" to
-- generation g) and is killed with SIGKILL at a random moment, 20 times
-- over the same database.  After each kill the database must open and hold
-- every key of one generation: a batch is wholly there or wholly absent.
local helpers = require "spec.helpers"
local quote = helpers.quote

local N, SIZE, ROUNDS = 100, 1000, 20
local MAX_FILE_SIZE = 1024 * 1024 -- small, so batches also start new files

-- The value the child writes for generation g.
local function value_of(g)
  return (g .. ":"):rep(1 + math.floor(SIZE / (#tostring(g) + 1))):sub(1, SIZE)
end

-- The command that runs the child for `secs` seconds then kills it.
local function child_command(path, secs)
  local module = assert(helpers.searchpath("caskdb", package.cpath),
    "caskdb module not found in package.cpath")
  local cpath = module:gsub("caskdb%.so$", "?.so")
  return ("timeout --foreground -s KILL %.3fs %s -e %s spec/support/batch_child.lua %s %d %d %d"
    .. " >/dev/null 2>&1"):format(secs, helpers.interpreter,
      quote("package.cpath = " .. ("%q"):format(cpath) .. " .. ';' .. package.cpath"),
      quote(path), N, SIZE, MAX_FILE_SIZE)
end

describe("batch under SIGKILL", function()
  local dir, path
  before_each(function()
    dir, path = helpers.setup()
  end)
  after_each(function()
    helpers.rmrf(dir)
  end)

  it("after each of 20 kills, every batch is wholly there or wholly absent",
    function()
      math.randomseed(os.time())
      local last, torn = 0, 0
      for round = 1, ROUNDS do
        local secs = 0.05 + math.random() * 0.25
        local ok, how, code = helpers.execute(child_command(path, secs))
        -- timeout -s KILL exits 137 (128 + 9) when it had to kill
        assert(not ok and how == "exit" and code == 137,
          ("round %d: the child did not run until killed (%s %s)"):format(
            round, tostring(how), tostring(code)))
        local db = helpers.open(path)
        local gen = db:get("gen")
        local st = db:stats()
        torn = torn + (st.truncated_bytes > 0 and 1 or 0)
        if gen == nil then
          assert.equal(0, db:count(), "round " .. round)
        else
          assert.is_true(gen >= last, "round " .. round .. ": generation went back")
          last = gen
          local want = value_of(gen)
          for i = 1, N do
            local v = db:get(i)
            if v ~= want then
              db:close()
              error(("round %d: key %d holds generation %s, \"gen\" is %d"):format(
                round, i, tostring(v and v:match("^(%d+):")), gen))
            end
          end
          assert.equal(N + 1, db:count(), "round " .. round)
        end
        assert.equal(0, st.corrupt_records)
        db:close()
      end
      assert.is_true(last > 0, "no batch was ever written")
      -- How often the kill landed inside a write shows in the log.
      print(("  %d generations; a torn batch was cut off after %d of %d kills")
        :format(last, torn, ROUNDS))
    end)
end)

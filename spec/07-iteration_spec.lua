-- Iterating while the database changes, and the life of iterators.
local helpers = require "spec.helpers"

describe("iteration", function()
  local dir, path, db
  before_each(function()
    dir, path = helpers.setup()
    db = helpers.open(path)
    for i = 1, 20 do db:set(i, i) end
    for i = 1, 20 do db:set(string.format("k%02d", i), i) end
  end)
  after_each(function()
    db:close()
    collectgarbage()
    helpers.rmrf(dir)
  end)

  -- Run the loop body `f(k)` over pairs(db); return the keys seen, checking
  -- none is seen twice and that every key in `live` (live throughout) was.
  local function iterate(f, live)
    local seen, order, steps = {}, {}, 0
    for k in helpers.pairs(db) do
      assert.is_nil(seen[k], "key seen twice: " .. tostring(k))
      seen[k] = true
      order[#order + 1] = k
      steps = steps + 1
      assert.is_true(steps < 10000, "iteration does not end")
      f(k)
    end
    for _, k in ipairs(live) do assert.is_true(seen[k], tostring(k)) end
    return order
  end

  it("survives deleting the current key", function()
    local live = {}
    local keys = iterate(function(k) db:delete(k) end, live)
    assert.equal(40, #keys)
    assert.equal(0, #db)
  end)

  it("survives deleting keys ahead, which are then not given", function()
    local deleted = {}
    local live = {}
    for i = 1, 20, 2 do live[#live + 1] = i end
    local keys = iterate(function(k)
      if helpers.math_type(k) == "integer" and k % 2 == 1 then
        db:delete(k + 1)
        deleted[k + 1] = true
      end
    end, live)
    for _, k in ipairs(keys) do assert.is_nil(deleted[k]) end
    assert.equal(30, #keys)
  end)

  it("survives deleting keys behind", function()
    local live = { "k20" }
    local keys = iterate(function(k)
      if k == "k10" then for i = 1, 9 do db:delete(i) end end
    end, live)
    assert.equal(40, #keys)
    assert.equal(31, #db)
  end)

  it("gives keys inserted ahead and not those inserted behind", function()
    local live = {}
    for i = 1, 20 do live[#live + 1] = i end
    local keys = iterate(function(k)
      if k == 5 then
        db:set(100, "ahead")
        db:set(-100, "behind")
        db:set("k10x", "ahead")
        db:set(3, "rewritten behind")
      end
    end, live)
    assert.equal(42, #keys)
    local set = {}
    for _, k in ipairs(keys) do set[k] = true end
    assert.is_true(set[100])
    assert.is_true(set["k10x"])
    assert.is_nil(set[-100])
  end)

  it("survives overwriting every key as it goes", function()
    local keys = iterate(function(k) db:set(k, "new") end, {})
    assert.equal(40, #keys)
    for _, v in helpers.pairs(db) do assert.equal("new", v) end
  end)

  it("ends after inserting one key ahead at every step", function()
    local n = 0
    for k in db:range(nil, 1000) do
      n = n + 1
      assert.is_true(n < 10000)
      if helpers.math_type(k) == "integer" and k < 999 then db:set(k + 100, true) end
    end
    assert.is_true(n >= 20)
  end)

  it("two iterators at once are independent", function()
    local pairs_seen = 0
    for a in db:prefix("k0") do
      for b in db:prefix("k1") do
        assert.is_true(a < b)
        pairs_seen = pairs_seen + 1
      end
    end
    assert.equal(9 * 10, pairs_seen) -- k01..k09 by k10..k19
  end)

  it("an exhausted step function keeps returning nil", function()
    local f = db:range(20, 21)
    assert.equal(20, (f()))
    assert.is_nil(f())
    assert.is_nil(f())
  end)

  it("a step function whose database was closed raises", function()
    local f = db:pairs()
    assert.equal(1, (f()))
    db:close()
    assert.error_matches(f, "^caskdb: database is closed$")
    db = helpers.open(path)
  end)

  it("closing the database inside a loop stops the loop with an error", function()
    assert.error_matches(function()
      for _ in helpers.pairs(db) do db:close() end
    end, "^caskdb: database is closed$")
    db = helpers.open(path)
  end)

  it("breaking out of a loop closes the iterator, then the database closes", function()
    for k in db:range() do if k == 3 then break end end
    assert.is_true(db:close())
    db = helpers.open(path)
  end)

  it("abandoned iterators are collected before or after their database", function()
    local fs = {}
    for i = 1, 10 do
      fs[i] = db:pairs()
      fs[i]()
    end
    fs = nil
    collectgarbage()
    assert.equal(40, #db)
    -- the database goes away together with open iterators
    local db2 = helpers.open(dir .. "/db2")
    db2:set(1, 1)
    local keep = { db2:pairs() }
    keep[1]()
    db2, keep = nil, nil
    collectgarbage()
    collectgarbage()
    local again = helpers.open(dir .. "/db2")
    assert.equal(1, again:get(1))
    again:close()
  end)

  it("iterators collected in the middle of reads are closed safely", function()
    -- Big values and a collector with no pause make the finalizers of
    -- abandoned iterators run inside the allocations of get and of loop
    -- steps, while the binding still holds the engine's bytes.
    local big = helpers.open(dir .. "/big")
    for i = 1, 10 do big:set(i, string.rep(string.char(64 + i), 100000)) end
    helpers.gc_eager(true)
    local ok, err = pcall(function()
      for r = 1, 300 do
        for _ = 1, 3 do
          local f = big:pairs()
          f()
        end
        assert.equal(string.rep("A", 100000), big:get(1))
        for k, v in big:range(r % 10 + 1) do
          assert.equal(string.rep(string.char(64 + k), 100000), v)
          break
        end
      end
    end)
    helpers.gc_eager(false)
    assert.is_true(ok, err)
    collectgarbage()
    assert.equal(10, #big)
    assert.is_true(big:close())
  end)

  it("the iterator keeps its database alive", function()
    local f = helpers.open(dir .. "/db3"):pairs()
    collectgarbage()
    collectgarbage()
    assert.is_nil(f())
  end)

  it("the fourth value of db:pairs() is a to-be-closed iterator", function()
    local f, s, c, closing = db:pairs()
    assert.is_function(f)
    assert.is_nil(s)
    assert.is_nil(c)
    assert.equal("userdata", type(closing))
    if helpers.pairs_metamethod then -- __pairs keeps only 3 values
      local n = select("#", pairs(db))
      assert.equal(3, n)
    end
  end)
end)

-- The value cache and reads without mmap: the open options cache_size,
-- cache_policy and mmap, the cache figures of stats(), and the errors for
-- bad option values.
local helpers = require "spec.helpers"

describe("value cache", function()
  local dir, path
  before_each(function() dir, path = helpers.setup() end)
  after_each(function()
    collectgarbage()
    helpers.rmrf(dir)
  end)

  it("has every figure at 0 without a cache", function()
    local db = helpers.open(path)
    db:set("a", "1")
    assert.equal("1", db:get("a"))
    local st = db:stats()
    assert.equal(0, st.cache_hits)
    assert.equal(0, st.cache_misses)
    assert.equal(0, st.cache_bytes)
    assert.equal(0, st.cache_entries)
    db:close()
  end)

  for _, policy in ipairs({ "sieve", "lru" }) do
    it("counts hits and misses and stays within cache_size (" .. policy .. ")",
      function()
        local db = helpers.open(path, {
          mmap = false, cache_size = 64 * 1024, cache_policy = policy,
        })
        for i = 1, 200 do db:set("k" .. i, string.rep("v", 500) .. i) end
        assert.equal(string.rep("v", 500) .. 7, db:get("k7")) -- miss
        assert.equal(string.rep("v", 500) .. 7, db:get("k7")) -- hit
        local st = db:stats()
        assert.equal(1, st.cache_hits)
        assert.equal(1, st.cache_misses)
        assert.equal(1, st.cache_entries)
        assert.is_true(st.cache_bytes > 500)
        for i = 1, 200 do
          assert.equal(string.rep("v", 500) .. i, db:get("k" .. i))
        end
        st = db:stats()
        assert.equal(1 + 199, st.cache_misses)
        assert.is_true(st.cache_bytes <= 64 * 1024)
        assert.is_true(st.cache_entries > 10 and st.cache_entries < 200)
        db:close()
      end)
  end

  it("never gives an overwritten, deleted or merged-away value", function()
    local db = helpers.open(path, {
      mmap = false, cache_size = 1024 * 1024, max_file_size = 4096,
    })
    for i = 1, 100 do db:set(i, "first " .. i) end
    for i = 1, 100 do assert.equal("first " .. i, db:get(i)) end
    for i = 1, 100, 2 do db:set(i, "second " .. i) end
    for i = 1, 100, 5 do db:delete(i) end
    assert.is_true(db:merge())
    for i = 1, 100 do
      if i % 5 == 1 then
        assert.is_nil(db:get(i))
      elseif i % 2 == 1 then
        assert.equal("second " .. i, db:get(i))
      else
        assert.equal("first " .. i, db:get(i))
      end
    end
    assert.is_true(db:stats().cache_hits > 0)
    db:close()
  end)

  it("reads everything back with mmap off, before and after a reopen",
    function()
      local db = helpers.open(path, { mmap = false })
      db:set("t", { nested = { 1, 2, 3 } })
      db:set("s", "string")
      db:close()
      db = helpers.open(path, { mmap = false, cache_size = 4096 })
      assert.equal("string", db:get("s"))
      assert.same({ nested = { 1, 2, 3 } }, db:get("t"))
      db:close()
    end)

  it("raises for bad option values, naming the option", function()
    local bad = {
      { cache_size = -1 }, { cache_size = 1.5 }, { cache_size = "1M" },
      { cache_policy = "fifo" }, { cache_policy = 1 }, { cache_policy = true },
      { mmap = 1 }, { mmap = "no" },
    }
    for _, opts in ipairs(bad) do
      local name = next(opts)
      assert.error_matches(function() helpers.caskdb.open(path, opts) end,
        "^caskdb: bad option '" .. name .. "' %(.+%)$")
    end
    assert.error_matches(
      function() helpers.caskdb.open(path, { cache_policy = "fifo" }) end,
      "^caskdb: bad option 'cache_policy' %(\"sieve\" or \"lru\" expected, got fifo%)$")
    assert.is_false(helpers.exists(path))
  end)
end)

-- Time to live: db:set(k, v, ttl), db:ttl(k), db:expire(k, ttl),
-- db:flush_expired([max]), with the meaning of ngx.shared.DICT (seconds;
-- 0 = never expires).  Time passes through the test clock
-- (caskdb._testing.set_time): these specs take no sleeps.
local helpers = require "spec.helpers"
local caskdb = helpers.caskdb

describe("time to live", function()
  local dir, path, db
  before_each(function()
    dir, path = helpers.setup()
    db = helpers.open(path)
  end)
  after_each(function()
    db:close()
    helpers.rmrf(dir)
  end)

  it("set with a ttl stores the value, and ttl tells the seconds left", function()
    assert.is_true(db:set("session", "x", 100))
    assert.equal("x", db:get("session"))
    local left = db:ttl("session")
    assert.is_true(left > 99 and left <= 100, tostring(left))
    db:close()
    db = helpers.open(path)
    left = db:ttl("session")
    assert.is_true(left > 90 and left <= 100, tostring(left))
  end)

  it("ttl is 0 for a key that never expires and nil for a missing key", function()
    db:set("k", 1)
    db:set("z", 1, 0)
    assert.equal(0, db:ttl("k"))
    assert.equal(0, db:ttl("z"))
    local none, err = db:ttl("missing")
    assert.is_nil(none)
    assert.equal("not found", err)
  end)

  it("expire sets a new ttl and keeps the value and its type", function()
    db:set("k", { a = 1 })
    assert.is_true(db:expire("k", 60))
    local left = db:ttl("k")
    assert.is_true(left > 59 and left <= 60)
    assert.same({ a = 1 }, db:get("k"))
    assert.is_true(db:expire("k", 0))
    assert.equal(0, db:ttl("k"))
    assert.same({ nil, "not found", n = 2 }, table.pack(db:expire("missing", 10)))
  end)

  it("a set without a ttl clears an earlier one", function()
    db:set("k", 1, 10)
    db:set("k", 2)
    assert.equal(0, db:ttl("k"))
  end)

  it("refuses bad ttls", function()
    for _, bad in ipairs({ -1, 0 / 0, 1e13, math.huge }) do
      assert.error_matches(function() db:set("k", 1, bad) end,
        "^caskdb: bad argument #3 to 'set' %(time to live from 0 to 1e12 seconds expected%)$")
    end
    assert.error_matches(function() db:set("k", 1, "10") end,
      "^caskdb: bad argument #3 to 'set' %(time to live in seconds expected, got string%)$")
    assert.error_matches(function() db:expire("k") end,
      "^caskdb: bad argument #2 to 'expire' %(time to live in seconds expected, got no value%)$")
    assert.error_matches(function() db:ttl() end,
      "^caskdb: bad argument #1 to 'ttl'")
    assert.is_false(db:has("k"))
  end)

  it("read-only handles refuse expire", function()
    db:set("k", 1)
    local ro = helpers.open(path, { readonly = true })
    local ok, msg, code = ro:expire("k", 5)
    assert.is_nil(ok)
    assert.matches("^caskdb: ", msg)
    assert.equal("readonly", code)
    ro:close()
  end)

  -- With the clock fixed at T, then moved by hand.
  describe("as time passes", function()
    local T = 1700000000000 -- milliseconds since the epoch
    local function at(ms)
      caskdb._testing.set_time(ms)
    end
    before_each(function() at(T) end)
    after_each(function() at(nil) end)

    it("a key is there until its time, and gone from then on", function()
      db:set("k", "v", 1.5)
      assert.equal(1.5, db:ttl("k"))
      at(T + 1499)
      assert.equal("v", db:get("k"))
      assert.equal(0.001, db:ttl("k"))
      at(T + 1500)
      assert.is_nil(db:get("k"))
      assert.is_false(db:has("k"))
      assert.same({}, helpers.collect(db:pairs()))
    end)

    it("a fraction of a second is kept to the millisecond, never cut short",
      function()
        db:set("k", 1, 0.0005)
        assert.equal(0.001, db:ttl("k"))
        db:set("j", 1, 0.25)
        assert.equal(0.25, db:ttl("j"))
      end)

    it("an expired key not yet flushed: get_stale gives it, ttl is negative",
      function()
        db:set("k", "v", 1, 3)
        at(T + 3000)
        assert.is_nil(db:get("k"))
        assert.same({ "v", 3, true, n = 3 }, table.pack(db:get_stale("k")))
        assert.equal(-2, db:ttl("k"))
      end)

    it("expire on an expired key not yet flushed makes it live again (as DICT)",
      function()
        db:set("k", "v", 1)
        at(T + 2000)
        assert.is_true(db:expire("k", 10))
        assert.equal("v", db:get("k"))
        assert.equal(10, db:ttl("k"))
      end)

    it("expired keys are dropped at reopen", function()
      db:set("k", "v", 1)
      db:set("keep", "v")
      db:close()
      at(T + 1000)
      db = helpers.open(path)
      assert.is_nil(db:get_stale("k"))
      assert.equal(1, db:count())
    end)

    it("flush_expired deletes the expired keys and says how many", function()
      for i = 1, 5 do
        db:set("e" .. i, i, i)
      end
      db:set("never", 0)
      at(T + 3000)
      local function stale_left()
        local n = 0
        for i = 1, 5 do
          if db:get_stale("e" .. i) ~= nil then n = n + 1 end
        end
        return n
      end
      assert.equal(5, stale_left()) -- expired keys stay until flushed
      assert.equal(1, db:flush_expired(1))
      assert.equal(4, stale_left())
      assert.equal(2, db:flush_expired())
      assert.equal(2, stale_left())
      assert.equal(0, db:flush_expired(0))
      assert.equal(3, db:count())
      assert.is_nil(db:get_stale("e1"))
      assert.is_nil(db:get_stale("e3"))
      assert.equal(4, db:get("e4"))
    end)

    it("a flushed key stays gone even if the clock goes back", function()
      db:set("k", "v", 1)
      at(T + 5000)
      assert.equal(1, db:flush_expired())
      at(T)
      assert.is_nil(db:get("k"))
      db:close()
      db = helpers.open(path)
      assert.is_nil(db:get("k"))
    end)

    it("flush_expired refuses a bad count and writes nothing on a read-only handle",
      function()
        assert.error_matches(function() db:flush_expired(-1) end,
          "^caskdb: bad argument #1 to 'flush_expired' %(count >= 0 expected")
        assert.error_matches(function() db:flush_expired("2") end,
          "^caskdb: bad argument #1 to 'flush_expired' %(integer count expected, got string%)$")
        db:set("k", 1, 1)
        local ro = helpers.open(path, { readonly = true })
        assert.equal(0, ro:flush_expired()) -- nothing expired: nothing to write
        at(T + 1000)
        local n, msg, code = ro:flush_expired()
        assert.is_nil(n)
        assert.matches("^caskdb: .*read%-only", msg)
        assert.equal("readonly", code)
        ro:close()
        assert.equal(1, db:flush_expired())
      end)

    it("set_time refuses what is not a time", function()
      assert.error_matches(function() caskdb._testing.set_time("1") end,
        "^caskdb: bad argument #1 to 'set_time'")
      assert.error_matches(function() caskdb._testing.set_time(0) end,
        "^caskdb: bad argument #1 to 'set_time'")
    end)
  end)
end)

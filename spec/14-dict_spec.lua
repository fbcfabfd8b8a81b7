-- The ngx.shared.DICT method set on a CaskDB handle: names, arguments and
-- result shapes.  (spec/15-nginx_dict_spec.lua compares a whole run with a
-- real DICT inside nginx; these pin the shapes and what only CaskDB does.)
local helpers = require "spec.helpers"
local caskdb = helpers.caskdb
local pack = table.pack

describe("DICT methods", function()
  local dir, path, db
  local T = 1700000000000
  before_each(function()
    dir, path = helpers.setup()
    db = helpers.open(path)
    caskdb._testing.set_time(T)
  end)
  after_each(function()
    caskdb._testing.set_time(nil)
    db:close()
    helpers.rmrf(dir)
  end)

  local function raises(pattern, f)
    local ok, err = pcall(f)
    assert.is_false(ok, "no error")
    assert.matches(pattern, err)
  end

  describe("get", function()
    it("gives the flags second, only when they are not 0", function()
      db:set("a", "x", 0, 12)
      db:set("b", "y")
      assert.same({ "x", 12, n = 2 }, pack(db:get("a")))
      assert.same({ "y", n = 1 }, pack(db:get("b")))
      assert.same({ nil, n = 1 }, pack(db:get("missing")))
    end)

    it("db[k] gives the value only", function()
      db:set("a", "x", 0, 12)
      assert.same({ "x", n = 1 }, pack(db["a"]))
    end)
  end)

  describe("get_stale", function()
    it("gives value, flags or nil, and whether it has expired", function()
      db:set("a", "x", 10, 3)
      db:set("b", "y", 10)
      assert.same({ "x", 3, false, n = 3 }, pack(db:get_stale("a")))
      caskdb._testing.set_time(T + 10000)
      assert.same({ "x", 3, true, n = 3 }, pack(db:get_stale("a")))
      assert.same({ "y", nil, true, n = 3 }, pack(db:get_stale("b")))
      assert.same({ nil, n = 1 }, pack(db:get_stale("missing")))
    end)
  end)

  describe("set and safe_set", function()
    it("return true, nil, false and store value, ttl and flags", function()
      for _, m in ipairs({ "set", "safe_set" }) do
        assert.same({ true, nil, false, n = 3 }, pack(db[m](db, m, { 1 }, 5, 7)))
        assert.same({ { 1 }, 7, n = 2 }, pack(db:get(m)))
        assert.equal(5, db:ttl(m))
        assert.same({ true, nil, false, n = 3 }, pack(db[m](db, m, nil)))
        assert.is_nil(db:get(m))
      end
    end)

    it("refuse bad flags", function()
      raises("^caskdb: bad argument #4 to 'set' %(flags from 0 to 4294967295 expected%)$",
        function() db:set("k", 1, 0, -1) end)
      raises("^caskdb: bad argument #4 to 'set' %(flags from 0 to 4294967295 expected%)$",
        function() db:set("k", 1, 0, 2 ^ 32) end)
      raises("^caskdb: bad argument #4 to 'safe_set' %(integer flags expected, got float%)$",
        function() db:safe_set("k", 1, 0, 1.5) end)
      raises("^caskdb: bad argument #4 to 'set' %(integer flags expected, got string%)$",
        function() db:set("k", 1, 0, "1") end)
      assert.is_false(db:has("k"))
    end)
  end)

  describe("add and safe_add", function()
    it("store a missing key, refuse an existing one with false, \"exists\", false",
      function()
        for _, m in ipairs({ "add", "safe_add" }) do
          assert.same({ true, nil, false, n = 3 }, pack(db[m](db, m, 1, 0, 2)))
          assert.same({ false, "exists", false, n = 3 }, pack(db[m](db, m, 2)))
          assert.same({ 1, 2, n = 2 }, pack(db:get(m)))
        end
      end)

    it("store over an expired key", function()
      db:set("k", "old", 1)
      caskdb._testing.set_time(T + 1000)
      assert.is_true(db:add("k", "new"))
      assert.equal("new", db:get("k"))
      assert.equal(0, db:ttl("k"))
    end)

    it("refuse nil (it would delete)", function()
      raises("^caskdb: bad argument #2 to 'add' %(string, number, boolean or table expected, got nil%)$",
        function() db:add("k", nil) end)
      raises("^caskdb: bad argument #2 to 'safe_add' %(value expected, got no value%)$",
        function() db:safe_add("k") end)
    end)
  end)

  describe("replace", function()
    it("replaces an existing key, refuses a missing one with false, \"not found\", false",
      function()
        assert.same({ false, "not found", false, n = 3 }, pack(db:replace("k", 1)))
        assert.is_nil(db:get("k"))
        db:set("k", 1, 10, 4)
        assert.same({ true, nil, false, n = 3 }, pack(db:replace("k", 2)))
        assert.same({ 2, n = 1 }, pack(db:get("k"))) -- flags and ttl replaced too
        assert.equal(0, db:ttl("k"))
        db:set("e", 1, 1)
        caskdb._testing.set_time(T + 1000)
        assert.same({ false, "not found", false, n = 3 }, pack(db:replace("e", 2)))
      end)
  end)

  describe("incr", function()
    it("adds, keeping integers integers and floats floats", function()
      db:set("n", 1)
      assert.same({ 3, n = 1 }, pack(db:incr("n", 2)))
      assert.equal("integer", helpers.math_type(db:get("n")))
      assert.equal(3.5, db:incr("n", 0.5))
      assert.equal("float", helpers.math_type(db:get("n")))
      db:set("f", 1.0)
      if helpers.integers then
        assert.equal("float", math.type(db:incr("f", 1)))
        db:set("big", math.maxinteger)
        assert.equal(math.mininteger, db:incr("big", 1)) -- wraps, as Lua 5.4
      else
        -- Before 5.3 a sum is a double: 1.0 + 1 is 2, stored as an integer,
        -- and a sum past 2^63 is a float (no wrapping).
        assert.equal(2, db:incr("f", 1))
        assert.equal("integer", helpers.math_type(db:get("f")))
        db:set("big", helpers.maxinteger)
        assert.equal(2 ^ 63, db:incr("big", 1024))
        assert.equal("float", helpers.math_type(db:get("big")))
      end
    end)

    it("keeps the ttl and flags of the key", function()
      db:set("n", 1, 10, 6)
      assert.equal(2, db:incr("n", 1, 0, 100))
      assert.same({ 2, 6, n = 2 }, pack(db:get("n")))
      assert.equal(10, db:ttl("n"))
    end)

    it("a missing key: nil, \"not found\", or init + value with init_ttl", function()
      assert.same({ nil, "not found", n = 2 }, pack(db:incr("c", 1)))
      assert.is_false(db:has("c"))
      assert.same({ 11, nil, false, n = 3 }, pack(db:incr("c", 1, 10)))
      assert.equal(0, db:ttl("c"))
      assert.same({ 12, nil, false, n = 3 }, pack(db:incr("c", 1, 10)))
      assert.same({ 3, nil, false, n = 3 }, pack(db:incr("d", 1, 2, 0.5)))
      assert.equal(0.5, db:ttl("d"))
      caskdb._testing.set_time(T + 500)
      assert.same({ nil, "not found", n = 2 }, pack(db:incr("d", 1)))
    end)

    it("a value that is not a number: nil, \"not a number\"", function()
      db:set("s", "5")
      db:set("b", true)
      db:set("t", { 1 })
      for _, k in ipairs({ "s", "b", "t" }) do
        assert.same({ nil, "not a number", n = 2 }, pack(db:incr(k, 1)))
        assert.same({ nil, "not a number", n = 2 }, pack(db:incr(k, 1, 0)))
      end
      assert.equal("5", db:get("s"))
    end)

    it("refuses bad arguments", function()
      raises("^caskdb: bad argument #2 to 'incr' %(number expected, got string%)$",
        function() db:incr("k", "1") end)
      raises("^caskdb: bad argument #2 to 'incr' %(number expected, got no value%)$",
        function() db:incr("k") end)
      raises("^caskdb: bad argument #3 to 'incr' %(number or nil expected, got table%)$",
        function() db:incr("k", 1, {}) end)
      raises("^caskdb: bad argument #4 to 'incr' %(init_ttl given without init%)$",
        function() db:incr("k", 1, nil, 5) end)
      raises("^caskdb: bad argument #4 to 'incr' %(time to live from 0 to 1e12 seconds expected%)$",
        function() db:incr("k", 1, 0, -1) end)
      raises("^caskdb: bad argument #1 to 'incr' %(string or integer key expected, got nil%)$",
        function() db:incr(nil, 1) end)
    end)
  end)

  describe("get_keys", function()
    it("gives at most max_count keys (default 1024, 0: all) in key order", function()
      for i = 1, 1030 do
        db:set(("k%04d"):format(i), i)
      end
      db:set(5, 1)
      local keys = db:get_keys()
      assert.equal(1024, #keys)
      assert.equal(5, keys[1]) -- integer keys come first
      assert.equal("k0001", keys[2])
      assert.equal(1031, #db:get_keys(0))
      assert.same({ 5, "k0001", "k0002" }, db:get_keys(3))
    end)

    it("skips expired keys", function()
      db:set("a", 1, 1)
      db:set("b", 1)
      caskdb._testing.set_time(T + 1000)
      assert.same({ "b" }, db:get_keys(0))
    end)

    it("refuses a bad count", function()
      raises("^caskdb: bad argument #1 to 'get_keys' %(count >= 0 expected %(0: no limit%)%)$",
        function() db:get_keys(-1) end)
      raises("^caskdb: bad argument #1 to 'get_keys' %(integer count expected, got float%)$",
        function() db:get_keys(1.5) end)
    end)
  end)

  describe("ttl and expire", function()
    it("missing keys give nil, \"not found\"", function()
      assert.same({ nil, "not found", n = 2 }, pack(db:ttl("k")))
      assert.same({ nil, "not found", n = 2 }, pack(db:expire("k", 1)))
    end)

    it("expire gives true, keeping the value, its type and its flags", function()
      db:set("k", 1.5, 0, 8)
      assert.same({ true, n = 1 }, pack(db:expire("k", 3)))
      assert.same({ 1.5, 8, n = 2 }, pack(db:get("k")))
      assert.equal(3, db:ttl("k"))
    end)
  end)

  describe("capacity and free_space", function()
    it("are the bytes of the data files and the dead bytes among them", function()
      assert.equal(db:stats().disk_bytes, db:capacity())
      assert.equal(db:stats().dead_bytes, db:free_space())
      local before = db:free_space()
      db:set("k", ("x"):rep(1000))
      db:set("k", ("y"):rep(1000))
      assert.is_true(db:free_space() > before + 1000)
      assert.is_true(db:free_space() <= db:capacity())
      assert.equal(db:stats().disk_bytes, db:capacity())
    end)
  end)
end)

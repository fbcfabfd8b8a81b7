-- Typed values: what goes in comes out, type and bits included.
local helpers = require "spec.helpers"

describe("values", function()
  local dir, path, db
  before_each(function()
    dir, path = helpers.setup()
    db = helpers.open(path)
  end)
  after_each(function()
    db:close()
    helpers.rmrf(dir)
  end)

  -- Store v, read it back now and after a reopen.
  local function roundtrip(v)
    assert.is_true(db:set("v", v))
    local now = db:get("v")
    db:close()
    db = helpers.open(path)
    return now, db:get("v")
  end

  it("keeps integers as integers, extremes included", function()
    for _, n in ipairs({ 0, 1, -1, 255, 256, -129, 2147483648, -2147483648,
      helpers.maxinteger, helpers.mininteger }) do
      local a, b = roundtrip(n)
      assert.equal(n, a)
      assert.equal(n, b)
      assert.equal("integer", helpers.math_type(a))
      assert.equal("integer", helpers.math_type(b))
    end
  end)

  it("keeps floats as floats, bit for bit", function()
    local nan = 0 / 0
    local other_nan = helpers.double("7ff8000000000001")
    for _, x in ipairs({ 0.0, -0.0, 1.0, -1.5, 1 / 3, math.pi, 2 ^ 63,
      math.huge, -math.huge, nan, -nan, other_nan, 5e-324, 1.7976931348623157e308 }) do
      local a, b = roundtrip(x)
      if helpers.integers or helpers.math_type(x) == "float" then
        assert.equal("float", helpers.math_type(a))
        assert.equal("float", helpers.math_type(b))
      else -- before 5.3, 0.0 and 1.0 are numbers with an integer value
        assert.equal("integer", helpers.math_type(a))
        assert.equal("integer", helpers.math_type(b))
      end
      if x ~= x and helpers.lua == "luajit" then
        -- LuaJIT has one NaN (NaN tagging): any NaN it is handed becomes
        -- that one, so the sign and payload of a NaN are not kept.
        assert.is_true(a ~= a)
        assert.is_true(b ~= b)
      else
        assert.equal(helpers.bits(x), helpers.bits(a))
        assert.equal(helpers.bits(x), helpers.bits(b))
      end
    end
  end)

  if not helpers.integers then
    -- Lua 5.1, 5.2, LuaJIT: every number is a double.  A number with an
    -- exact integer value in the int64 range is stored as an integer;
    -- integers read back as doubles, exact up to 2^53.
    it("stores whole numbers as integers and reads integers as numbers", function()
      for _, n in ipairs({ 2 ^ 53, -(2 ^ 53), 2 ^ 62, -(2 ^ 63), 1e15 }) do
        local a, b = roundtrip(n)
        assert.equal(n, a)
        assert.equal(n, b)
      end
      local a, b = roundtrip(2 ^ 63) -- out of the int64 range: a float
      assert.equal(2 ^ 63, a)
      assert.equal(2 ^ 63, b)
      assert.equal("\1", helpers.caskdb.msgpack_encode(1.0))
      assert.equal("cb3ff8000000000000", helpers.hex(helpers.caskdb.msgpack_encode(1.5)))
    end)
  end

  it("keeps booleans", function()
    for _, v in ipairs({ true, false }) do
      local a, b = roundtrip(v)
      assert.equal(v, a)
      assert.equal(v, b)
    end
  end)

  it("keeps strings byte for byte: empty, zeros, every byte value", function()
    for _, s in ipairs({ "", "\0", "a\0b\0", helpers.all_bytes,
      helpers.all_bytes:reverse(), "\255\254", "héllo" }) do
      local a, b = roundtrip(s)
      assert.equal(s, a)
      assert.equal(s, b)
    end
  end)

  it("keeps 1 MiB values", function()
    local big = string.rep(helpers.all_bytes, 4096)
    assert.equal(1024 * 1024, #big)
    local a, b = roundtrip(big)
    assert.equal(big, a)
    assert.equal(big, b)
  end)

  it("accepts every byte value in keys, the empty key and long keys", function()
    local keys = { "", "\0", "\0\0", helpers.all_bytes, string.rep("k", 65536) }
    for i = 0, 255 do keys[#keys + 1] = string.char(i) end
    local expect, n = {}, 0
    for i, k in ipairs(keys) do
      assert.is_true(db:set(k, i))
      if not expect[k] then n = n + 1 end
      expect[k] = i
    end
    db:close()
    db = helpers.open(path)
    for k, i in pairs(expect) do assert.equal(i, db:get(k)) end
    assert.equal(n, db:count())
  end)

  it("keeps nested tables, arrays and maps", function()
    local t = {
      name = "hamlet", year = 1603, rating = 4.5, public = true,
      acts = { 1, 2, 3, 4, 5 },
      cast = { { name = "Hamlet", lines = 1506 }, { name = "Claudius" } },
      [7] = "seven", [-1] = "minus one", [2.5] = "two and a half",
      [true] = "yes", [false] = "no",
      empty = {}, binary = helpers.all_bytes,
      deep = { { { { { "down here" } } } } },
    }
    local a, b = roundtrip(t)
    assert.same(t, a)
    assert.same(t, b)
    assert.equal("integer", helpers.math_type(b.year))
    assert.equal("float", helpers.math_type(b.rating))
  end)

  it("keeps integer and float numbers apart inside tables", function()
    local a = roundtrip({ 1, 1.0, -0.0, 0 / 0, helpers.mininteger })
    assert.equal("integer", helpers.math_type(a[1]))
    if helpers.integers then
      assert.equal("float", helpers.math_type(a[2]))
    else -- before 5.3, 1.0 is 1
      assert.equal("integer", helpers.math_type(a[2]))
      assert.equal(1, a[2])
    end
    assert.equal(helpers.bits(-0.0), helpers.bits(a[3]))
    assert.is_true(a[4] ~= a[4])
    assert.equal(helpers.mininteger, a[5])
  end)

  it("stores tables with holes as maps", function()
    local t = { 1, 2, nil, 4 }
    local a = roundtrip(t)
    assert.same(t, a)
    local m = roundtrip({ [2] = "b", [3] = "c" })
    assert.same({ [2] = "b", [3] = "c" }, m)
  end)

  it("accepts tables nested 64 deep and refuses 65", function()
    local function nest(n)
      local t = {}
      for _ = 2, n do t = { t } end
      return t
    end
    local a = roundtrip(nest(64))
    assert.same(nest(64), a)
    assert.error_matches(function() db:set("deep", nest(65)) end,
      "^caskdb: bad argument #2 to 'set' %(table nested deeper than 64 levels%)")
    assert.is_false(db:has("deep"))
  end)

  it("accepts the same table twice when it is not a cycle", function()
    local shared = { 1, 2 }
    local a = roundtrip({ x = shared, y = shared })
    assert.same({ x = { 1, 2 }, y = { 1, 2 } }, a)
  end)

  it("refuses cycles, functions, userdata and threads, writing nothing", function()
    local cyc = { a = {} }
    cyc.a.back = cyc
    local bad = {
      { cyc, "table contains a cycle" },
      { { f = print }, "table contains a function value" },
      { { io.stdout }, "table contains a userdata value" },
      { { co = coroutine.create(function() end) }, "table contains a thread value" },
      { { [print] = 1 }, "table contains a function key" },
      { { [{}] = 1 }, "table contains a table key" },
    }
    for _, case in ipairs(bad) do
      assert.error_matches(function() db:set("bad", case[1]) end,
        "^caskdb: bad argument #2 to 'set' %(" .. case[2]:gsub("%p", "%%%0") .. "%)$")
    end
    assert.error_matches(function() db:set("bad", print) end,
      "^caskdb: bad argument #2 to 'set' %(string, number, boolean, table or nil expected, got function%)$")
    assert.error_matches(function() db:set("bad", io.stdout) end,
      "got userdata")
    assert.equal(0, db:count())
  end)

  it("reads tables with metatables raw", function()
    local t = setmetatable({ a = 1 }, { __index = function() return "x" end })
    local a = roundtrip(t)
    assert.same({ a = 1 }, a)
    assert.is_nil(getmetatable(a))
  end)
end)

-- Key order of pairs, range and prefix.
local helpers = require "spec.helpers"

describe("key order", function()
  local dir, path, db
  before_each(function()
    dir, path = helpers.setup()
    db = helpers.open(path)
  end)
  after_each(function()
    db:close()
    helpers.rmrf(dir)
  end)

  local ints = { helpers.mininteger, -1000, -2, -1, 0, 1, 2, 10, 255, 256,
    1000, helpers.maxinteger }
  local strs = { "", "\0", "\0\0", "0", "1", "10", "2", "A", "a", "a\0", "ab",
    "b", "\127", "\128", "\255", "\255\255" }

  local function fill()
    -- insert in a scrambled order
    for i = #ints, 1, -1 do db:set(ints[i], "i" .. i) end
    for i = 1, #strs, 2 do db:set(strs[i], "s" .. i) end
    for i = 2, #strs, 2 do db:set(strs[i], "s" .. i) end
  end

  local function all()
    local t = {}
    for _, k in ipairs(ints) do t[#t + 1] = k end
    for _, k in ipairs(strs) do t[#t + 1] = k end
    return t
  end

  it("pairs gives integers numerically, then strings bytewise", function()
    fill()
    local keys = helpers.keys(helpers.pairs(db))
    assert.same(all(), keys)
    for i = 1, #ints do assert.equal("integer", helpers.math_type(keys[i])) end
    assert.same(keys, helpers.keys(db:pairs()))
  end)

  it("pairs gives the values with the keys", function()
    fill()
    for k, v in helpers.pairs(db) do assert.equal(db:get(k), v) end
  end)

  it("range is from inclusive to exclusive, either bound may be nil", function()
    fill()
    assert.same(all(), helpers.keys(db:range()))
    assert.same(all(), helpers.keys(db:range(nil, nil)))
    assert.same({ -2, -1, 0, 1 }, helpers.keys(db:range(-2, 2)))
    assert.same({ helpers.mininteger, -1000 }, helpers.keys(db:range(nil, -2)))
    assert.same({ 1000, helpers.maxinteger, "", "\0" }, helpers.keys(db:range(1000, "\0\0")))
    assert.same({ "b", "\127", "\128", "\255", "\255\255" }, helpers.keys(db:range("b")))
    assert.same({ "a", "a\0", "ab" }, helpers.keys(db:range("a", "b")))
    assert.same({}, helpers.keys(db:range("b", "a")))
    assert.same({}, helpers.keys(db:range(5, 5)))
    assert.same({ "1", "10" }, helpers.keys(db:range("1", "2")))
  end)

  it("range treats integral floats as integers", function()
    fill()
    assert.same({ -1, 0, 1 }, helpers.keys(db:range(-1.0, 2.0)))
  end)

  it("prefix gives the string keys starting with it, never integer keys", function()
    fill()
    assert.same({ "a", "a\0", "ab" }, helpers.keys(db:prefix("a")))
    assert.same({ "1", "10" }, helpers.keys(db:prefix("1")))
    assert.same({ "\0", "\0\0" }, helpers.keys(db:prefix("\0")))
    assert.same({ "\255", "\255\255" }, helpers.keys(db:prefix("\255")))
    assert.same(strs, helpers.keys(db:prefix("")))
    assert.same({}, helpers.keys(db:prefix("zzz")))
  end)

  it("iterators give decoded values", function()
    db:set("user:1", { name = "ann" })
    db:set("user:2", 2.5)
    db:set("user:3", true)
    assert.same({ { "user:1", { name = "ann" } }, { "user:2", 2.5 }, { "user:3", true } },
      helpers.collect(db:prefix("user:")))
  end)

  it("an empty database iterates nothing", function()
    assert.same({}, helpers.keys(helpers.pairs(db)))
    assert.same({}, helpers.keys(db:range()))
    assert.same({}, helpers.keys(db:prefix("")))
  end)
end)

-- Dictionary style: db[k], db.k, db[k] = v, and method names winning.
local helpers = require "spec.helpers"

describe("dictionary style", function()
  local dir, path, db
  before_each(function()
    dir, path = helpers.setup()
    db = helpers.open(path)
  end)
  after_each(function()
    db:close()
    helpers.rmrf(dir)
  end)

  it("assigns and reads through __newindex and __index", function()
    db["hamlet"] = "shakespeare"
    assert.equal("shakespeare", db.hamlet)
    assert.equal("shakespeare", db["hamlet"])
    assert.equal("shakespeare", db:get("hamlet"))
    db[42] = 4.5
    assert.equal(4.5, db[42])
    assert.is_nil(db.missing)
  end)

  it("deletes on assigning nil", function()
    db.hamlet = "shakespeare"
    db.hamlet = nil
    assert.is_nil(db.hamlet)
    assert.is_false(db:has("hamlet"))
    db.never = nil -- deleting a missing key is fine
  end)

  it("gives methods before keys, while db:get works for every key", function()
    local names = { "get", "set", "delete", "has", "count", "pairs", "range",
      "prefix", "sync", "stats", "ttl", "expire", "close" }
    for _, name in ipairs(names) do
      db:set(name, "value of " .. name)
    end
    for _, name in ipairs(names) do
      assert.is_function(db[name], name)
      assert.equal("value of " .. name, db:get(name))
    end
    db.get = "assigned" -- assignment always stores
    assert.equal("assigned", db:get("get"))
    assert.is_function(db.get)
  end)

  it("raises 'caskdb:' errors for bad keys and values", function()
    assert.error_matches(function() return db[true] end,
      "^caskdb: bad argument #2 to '__index' %(string or integer key expected, got boolean%)")
    assert.error_matches(function() db[1.5] = 1 end,
      "^caskdb: bad argument #2 to '__newindex' %(string or integer key expected, got float%)")
    assert.error_matches(function() db.f = print end,
      "^caskdb: bad argument #3 to '__newindex'")
  end)

  it("raises on a failure of the world, since assignment cannot return", function()
    db:close()
    local ro = helpers.open(path, { readonly = true })
    assert.error_matches(function() ro.k = "v" end, "^caskdb: ")
    ro:close()
    db = helpers.open(path)
  end)

  it("iterates with pairs in key order", function()
    db.b, db.a, db[2], db[1] = 1, 2, 3, 4
    assert.same({ { 1, 4 }, { 2, 3 }, { "a", 2 }, { "b", 1 } },
      helpers.collect(helpers.pairs(db)))
  end)

  if not helpers.pairs_metamethod then
    -- Lua 5.1 and LuaJIT: pairs() ignores __pairs; db:pairs() is the way.
    it("cannot iterate with pairs() where __pairs is missing", function()
      db.a = 1
      assert.error_matches(function() pairs(db) end, "table expected, got userdata")
      assert.same({ { "a", 1 } }, helpers.collect(db:pairs()))
    end)
  end
end)

-- Time to live: db:set(k, v, ttl), db:ttl(k), db:expire(k, ttl), with the
-- meaning of ngx.shared.DICT (seconds; 0 = never expires).  That a key is
-- gone once its time has passed is proved by the engine's C tests, which
-- inject a clock; these specs take no sleeps.
local helpers = require "spec.helpers"

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
    assert.is_nil(db:ttl("missing"))
  end)

  it("expire sets a new ttl and keeps the value and its type", function()
    db:set("k", { a = 1 })
    assert.is_true(db:expire("k", 60))
    local left = db:ttl("k")
    assert.is_true(left > 59 and left <= 60)
    assert.same({ a = 1 }, db:get("k"))
    assert.is_true(db:expire("k", 0))
    assert.equal(0, db:ttl("k"))
    assert.is_false(db:expire("missing", 10))
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
end)

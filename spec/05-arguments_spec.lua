-- Argument errors: raised, "caskdb:" first, naming the argument and why.
local helpers = require "spec.helpers"

describe("argument errors", function()
  local dir, path, db
  before_each(function()
    dir, path = helpers.setup()
    db = helpers.open(path)
  end)
  after_each(function()
    db:close()
    helpers.rmrf(dir)
  end)

  local function raises(f, pattern)
    local ok, err = pcall(f)
    assert.is_false(ok, "no error")
    assert.is_string(err)
    assert.matches("^caskdb: ", err)
    if pattern then assert.matches(pattern, err) end
  end

  local bad_keys = {
    { nil, "got nil" }, { true, "got boolean" }, { 1.5, "got float" },
    { 0 / 0, "got float" }, { math.huge, "got float" }, { 2 ^ 63, "got float" },
    { {}, "got table" }, { print, "got function" },
    { coroutine.create(function() end), "got thread" }, { io.stdout, "got userdata" },
  }

  it("every key-taking method refuses keys that are not strings or integers",
    function()
      for _, m in ipairs({ "get", "set", "delete", "has" }) do
        for _, case in ipairs(bad_keys) do
          raises(function() db[m](db, case[1], 1) end,
            "^caskdb: bad argument #2 to '" .. m ..
            "' %(string or integer key expected, " .. case[2] .. "%)$")
          raises(function() local _ = db[m](db, case[1], 1) end,
            "bad argument #2 to '" .. m .. "'")
        end
      end
    end)

  it("counts arguments as Lua does in a method call", function()
    raises(function() db:get({}) end, "^caskdb: bad argument #1 to 'get'")
    raises(function() db.get(db, {}) end, "^caskdb: bad argument #2 to 'get'")
    raises(function() db:set("k", print) end, "^caskdb: bad argument #2 to 'set'")
    raises(function() db:range(true) end, "^caskdb: bad argument #1 to 'range'")
    raises(function() db:range(nil, {}) end, "^caskdb: bad argument #2 to 'range'")
  end)

  it("refuses a missing key", function()
    raises(function() db:get() end, "got no value%)$")
    raises(function() db:has() end, "got no value%)$")
    raises(function() db:delete() end, "got no value%)$")
  end)

  it("set refuses a missing value (nil must be explicit)", function()
    raises(function() db:set("k") end,
      "^caskdb: bad argument #2 to 'set' %(value %(nil deletes%) expected, got no value%)$")
  end)

  it("refuses keys over 64 KiB", function()
    local long = string.rep("x", 65537)
    for _, m in ipairs({ "get", "set", "delete", "has" }) do
      raises(function() db[m](db, long, 1) end,
        "^caskdb: bad argument #2 to '" .. m ..
        "' %(key of 65537 bytes, the limit is 65536%)$")
    end
    raises(function() return db[long] end, "key of 65537 bytes")
    raises(function() db[long] = 1 end, "key of 65537 bytes")
    raises(function() db:range(long) end, "key of 65537 bytes")
  end)

  it("methods refuse a self that is not a database", function()
    for _, m in ipairs({ "get", "set", "delete", "has", "count", "pairs",
      "range", "prefix", "sync", "stats", "ttl", "expire", "close" }) do
      raises(function() db[m]({}, "k") end,
        "^caskdb: bad argument #1 to '" .. m ..
        "' %(caskdb database expected, got table%)$")
    end
    raises(function() local s = {}; s.get = db.get; s:get("k") end,
      "^caskdb: calling 'get' on bad self %(caskdb database expected, got table%)$")
  end)

  it("prefix wants a string", function()
    raises(function() db:prefix(1) end,
      "^caskdb: bad argument #1 to 'prefix' %(string expected, got number%)$")
    raises(function() db:prefix() end, "got no value")
  end)

  it("range bounds are keys or nil", function()
    raises(function() db:range(1.5) end, "string or integer key expected, got float")
    raises(function() db:range("a", false) end, "got boolean")
  end)

  it("an argument error writes nothing", function()
    local t = { ok = 1, bad = print }
    raises(function() db:set("t", t) end)
    raises(function() db.t = t end)
    assert.is_false(db:has("t"))
    assert.equal(0, #db)
  end)

  it("msgpack helpers check their arguments", function()
    raises(function() helpers.caskdb.msgpack_encode() end,
      "^caskdb: bad argument #1 to 'msgpack_encode'")
    raises(function() helpers.caskdb.msgpack_encode(print) end,
      "^caskdb: bad argument #1 to 'msgpack_encode' %(cannot encode a function%)$")
    raises(function() helpers.caskdb.msgpack_decode(12) end,
      "^caskdb: bad argument #1 to 'msgpack_decode' %(string expected, got number%)$")
  end)
end)

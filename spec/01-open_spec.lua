-- Opening, options, closing, __tostring, __gc and <close>.
local helpers = require "spec.helpers"
local caskdb = helpers.caskdb

describe("caskdb module", function()
  it("has a version string from the engine", function()
    assert.is_string(caskdb.version)
    assert.matches("^%d+%.%d+%.%d+", caskdb.version)
    assert.equal("caskdb " .. caskdb.version, caskdb._VERSION)
  end)
end)

describe("open", function()
  local dir, path
  before_each(function() dir, path = helpers.setup() end)
  after_each(function()
    collectgarbage()
    helpers.rmrf(dir)
  end)

  it("creates a missing directory and returns an open handle", function()
    local db = helpers.open(path)
    assert.equal("userdata", type(db))
    assert.is_true(helpers.exists(path))
    assert.is_true(db:close())
  end)

  it("accepts every documented option", function()
    local db = helpers.open(path, {
      sync = "interval", sync_interval_ms = 50, max_file_size = 1024 * 1024,
      readonly = false, create = true, salvage = false,
    })
    assert.is_true(db:set("a", "b"))
    db:close()
    for _, mode in ipairs({ "none", "always", "interval" }) do
      db = helpers.open(path, { sync = mode })
      assert.equal("b", db:get("a"))
      db:close()
    end
  end)

  it("returns nil, message, 'noent' for a missing directory with create = false",
    function()
      local db, msg, code = caskdb.open(path, { create = false })
      assert.is_nil(db)
      assert.matches("^caskdb: ", msg)
      assert.equal("noent", code)
      assert.is_false(helpers.exists(path))
    end)

  it("returns nil, message, code when the parent directory is missing",
    function()
      local db, msg, code = caskdb.open(path .. "/no/such/parent")
      assert.is_nil(db)
      assert.matches("^caskdb: ", msg)
      assert.is_string(code)
    end)

  it("raises for unknown option names", function()
    assert.error_matches(function() caskdb.open(path, { snyc = "none" }) end,
      "^caskdb: bad option 'snyc' %(unknown option%)$")
    assert.error_matches(function() caskdb.open(path, { [1] = true }) end,
      "^caskdb: bad option")
  end)

  it("raises for options of the wrong type or range", function()
    local bad = {
      { sync = "sometimes" }, { sync = 1 }, { sync_interval_ms = 0 },
      { sync_interval_ms = 1.5 }, { sync_interval_ms = "10" },
      { max_file_size = 1 }, { max_file_size = 2 ^ 40 },
      { max_file_size = "big" }, { readonly = 1 }, { create = "yes" },
      { salvage = 0 },
    }
    for _, opts in ipairs(bad) do
      local name = next(opts)
      assert.error_matches(function() caskdb.open(path, opts) end,
        "^caskdb: bad option '" .. name .. "' %(.+%)$")
    end
    assert.is_false(helpers.exists(path))
  end)

  it("raises for a path that is not a string or an options value that is not a table",
    function()
      assert.error_matches(function() caskdb.open() end,
        "^caskdb: bad argument #1 to 'open' %(string path expected, got no value%)")
      assert.error_matches(function() caskdb.open(42) end,
        "^caskdb: bad argument #1 to 'open' %(string path expected, got number%)")
      assert.error_matches(function() caskdb.open(path, "none") end,
        "^caskdb: bad argument #2 to 'open' %(table of options expected, got string%)")
      assert.error_matches(function() caskdb.open("a\0b") end,
        "^caskdb: bad argument #1 to 'open' %(path contains a zero byte%)")
    end)
end)

describe("close", function()
  local dir, path
  before_each(function() dir, path = helpers.setup() end)
  after_each(function()
    collectgarbage()
    helpers.rmrf(dir)
  end)

  it("returns true and is harmless twice", function()
    local db = helpers.open(path)
    assert.is_true(db:close())
    assert.is_true(db:close())
  end)

  it("makes every other method raise 'database is closed'", function()
    local db = helpers.open(path)
    db:close()
    local calls = {
      function() db:get("a") end, function() db:set("a", 1) end,
      function() db:delete("a") end, function() db:has("a") end,
      function() db:count() end, function() return #db end,
      function() db:pairs() end, function() db:range() end,
      function() db:prefix("a") end, function() db:sync() end,
      function() db:stats() end, function() return db.a end,
      function() db.a = 1 end,
    }
    if helpers.pairs_metamethod then -- 5.2+: pairs(db) calls __pairs
      calls[#calls + 1] = function() for _ in pairs(db) do end end
    end
    for _, f in ipairs(calls) do
      assert.error_matches(f, "^caskdb: database is closed$")
    end
  end)

  it("releases the writer lock", function()
    local db = helpers.open(path)
    db:close()
    local db2 = helpers.open(path)
    db2:close()
  end)

  -- `local x <close>` is Lua 5.4 syntax: these chunks are compiled only
  -- there (a spec file must parse under every version).
  local function close_test(src)
    return function()
      assert(helpers.load(src))(helpers, path, assert)
    end
  end

  if helpers.close_syntax then
    it("is called by <close> at the end of a block", close_test [[
      local helpers, path, assert = ...
      local saved
      do
        local db <close> = helpers.open(path)
        saved = db
        db:set("k", "v")
      end
      assert.equal("caskdb: " .. path .. " (closed)", tostring(saved))
      local db <close> = helpers.open(path)
      assert.equal("v", db:get("k"))
    ]])

    it("is called by <close> when the block raises", close_test [[
      local helpers, path, assert = ...
      local saved
      local ok = pcall(function()
        local db <close> = helpers.open(path)
        saved = db
        error("boom")
      end)
      assert.is_false(ok)
      assert.matches("%(closed%)$", tostring(saved))
    ]])
  else
    -- Before 5.4 there is no <close>: close explicitly (or leave it to
    -- __gc).  The __close metamethod is there all the same, unused.
    it("has no <close> before Lua 5.4: close() is explicit", function()
      assert.is_nil(helpers.load("local db <close> = nil"))
      local db = helpers.open(path)
      db:set("k", "v")
      assert.is_function(getmetatable(db).__close)
      assert.is_true(db:close())
      assert.equal("caskdb: " .. path .. " (closed)", tostring(db))
      db = helpers.open(path)
      assert.equal("v", db:get("k"))
      db:close()
    end)
  end

  it("is called by the garbage collector, which releases the lock", function()
    do
      local db = helpers.open(path)
      db:set("k", "v")
    end
    collectgarbage()
    collectgarbage()
    local db = helpers.open(path)
    assert.equal("v", db:get("k"))
    db:close()
  end)
end)

describe("tostring", function()
  it("names the path and the state", function()
    local dir, path = helpers.setup()
    local db = helpers.open(path)
    assert.equal("caskdb: " .. path .. " (open)", tostring(db))
    db:close()
    assert.equal("caskdb: " .. path .. " (closed)", tostring(db))
    helpers.rmrf(dir)
  end)
end)

-- Bad input from Lua, systematically: every method with every wrong
-- argument type, on open, closed and read-only handles.  Each call must
-- raise an error starting with "caskdb:" or return nil, "caskdb: ...",
-- code; never crash; and nothing may be written.
local helpers = require "spec.helpers"
local caskdb = helpers.caskdb
local unpack = table.unpack or unpack -- Lua 5.1 and LuaJIT

-- Methods and the kind of each argument after the handle.
local methods = {
  get = { "key" }, set = { "key", "value" }, delete = { "key" },
  has = { "key" }, count = {}, pairs = {}, range = { "bound", "bound" },
  prefix = { "string" }, sync = {}, stats = {}, ttl = { "key" },
  expire = { "key", "number" }, batch = { "function" },
  get_stale = { "key" }, safe_set = { "key", "value" },
  add = { "key", "value" }, safe_add = { "key", "value" },
  replace = { "key", "value" }, incr = { "key", "number" },
  get_keys = { "count" }, flush_expired = { "count" }, capacity = {},
  free_space = {}, flush_all = {}, merge = { "options" },
  merge_needed = {}, backup = { "string" }, lpush = { "key", "value" },
  rpush = { "key", "value" }, lpop = { "key" }, rpop = { "key" },
  llen = { "key" },
}

-- Values that are wrong for each kind (nil is wrong for the required ones).
local co = coroutine.create(function() end)
local wrong = {
  key = { true, {}, print, co, io.stdout, 1.5, 0 / 0 },
  value = { print, co, io.stdout },
  number = { "x", {}, true, print },
  string = { 42, {}, true, print },
  ["function"] = { 42, "x", {}, true },
  count = { -1, 1.5, "x", {}, true },
  options = { 42, "x", true, { max_bytes = 0 }, { nope = 1 } },
  bound = { true, {}, print, 1.5 },
}
local required = { key = true, value = false, number = true, string = true,
  ["function"] = true, options = false, count = false, bound = false }

-- Call db:name(...) and check the outcome is a clean refusal.
local function refused(db, name, args, n)
  local ok, a, b, c = pcall(db[name], db, unpack(args, 1, n))
  if not ok then
    return type(a) == "string" and a:find("^caskdb:") ~= nil, a
  end
  if a == nil and type(b) == "string" then
    return b:find("^caskdb:") ~= nil and type(c) == "string", b
  end
  return false, ("accepted: %s %s"):format(tostring(a), tostring(b))
end

local function good_args(kinds)
  local args = {}
  for i, kind in ipairs(kinds) do
    args[i] = ({ key = "k", value = "v", number = 1, string = "s",
      ["function"] = function() end, count = 1, options = nil,
      bound = nil })[kind]
  end
  return args
end

local function snapshot(db)
  local all = {}
  for k, v in db:pairs() do all[#all + 1] = tostring(k) .. "=" .. tostring(v) end
  return table.concat(all, ",")
end

describe("bad input", function()
  local dir, path, db
  before_each(function()
    dir, path = helpers.setup()
    db = helpers.open(path)
    db:set("a", 1)
    db:set(2, "b")
  end)
  after_each(function()
    if db then db:close() end
    helpers.rmrf(dir)
  end)

  it("every wrong argument type of every method is refused cleanly, and nothing is written", function()
    local before = snapshot(db)
    local calls = 0
    for name, kinds in pairs(methods) do
      for i, kind in ipairs(kinds) do
        local cases = {}
        for _, w in ipairs(wrong[kind]) do cases[#cases + 1] = w end
        for _, w in ipairs(cases) do
          local args = good_args(kinds)
          args[i] = w
          local ok, msg = refused(db, name, args, #kinds)
          assert(ok, ("%s arg #%d (%s): %s"):format(name, i, tostring(w), tostring(msg)))
          calls = calls + 1
        end
        if required[kind] then
          local args = good_args(kinds)
          local ok, msg = refused(db, name, args, i - 1) -- missing from here on
          assert(ok, ("%s without arg #%d: %s"):format(name, i, tostring(msg)))
          calls = calls + 1
        end
      end
    end
    assert.is_true(calls > 100)
    assert.equal(before, snapshot(db))
  end)

  it("a method called on something that is not a database raises", function()
    for name in pairs(methods) do
      for _, self in ipairs({ 42, "x", {}, io.stdout }) do
        local ok, err = pcall(db[name], self)
        assert.is_false(ok, name)
        assert.matches("^caskdb:", err, 1, false, name)
      end
    end
  end)

  it("every method of a closed handle raises 'database is closed'", function()
    db:close()
    for name, kinds in pairs(methods) do
      local ok, err = pcall(db[name], db, unpack(good_args(kinds), 1, #kinds))
      assert.is_false(ok, name)
      assert.matches("^caskdb: database is closed", err, 1, false, name)
    end
    assert.is_true(db:close()) -- closing twice is harmless
    db = nil
  end)

  it("every writing method of a read-only handle returns nil, msg, 'readonly'", function()
    db:close()
    db = helpers.open(path, { readonly = true })
    local before = snapshot(db)
    local writers = { set = true, delete = true, safe_set = true, add = true,
      safe_add = true, replace = true, lpush = true, rpush = true,
      lpop = true, rpop = true, expire = true, incr = true }
    for name in pairs(writers) do
      local args = good_args(methods[name])
      if name == "delete" or name == "expire" or name == "replace" then args[1] = "a" end
      if name == "incr" then args[1] = "a" end
      local a, msg, code = db[name](db, unpack(args, 1, #methods[name]))
      assert.is_nil(a, name)
      assert.matches("^caskdb:", msg, 1, false, name)
      assert.equal("readonly", code, name)
    end
    local _, _, code = db:batch(function(b) b:set("x", 1) end)
    assert.equal("readonly", code)
    assert.equal(before, snapshot(db))
  end)
end)

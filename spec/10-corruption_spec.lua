-- Bad bytes on disk: what a Lua user sees.
local helpers = require "spec.helpers"
local caskdb = helpers.caskdb

-- Flip one byte of the first occurrence of `marker` in the files of the
-- database directory `path`; true if found.
local function damage(path, marker)
  local ls = assert(io.popen("ls -- " .. helpers.quote(path)))
  for name in ls:lines() do
    local file = path .. "/" .. name
    local f = io.open(file, "r+b")
    local data = f and f:read("*a")
    local at = data and data:find(marker, 1, true)
    if at then
      f:seek("set", at - 1)
      f:write(string.char(255 - data:byte(at)))
      f:close()
      ls:close()
      return true
    end
    if f then f:close() end
  end
  ls:close()
  return false
end

describe("a corrupt record", function()
  local dir, path
  local marker = "MARKER-" .. string.rep("m", 40)
  before_each(function()
    dir, path = helpers.setup()
    local db = helpers.open(path)
    db:set("a", "first")
    db:set("b", marker)
    for i = 1, 10 do db:set("c" .. i, "after") end
    db:close()
  end)
  after_each(function()
    collectgarbage()
    helpers.rmrf(dir)
  end)

  it("makes get return nil, message, 'corrupt' on an open handle", function()
    local db = helpers.open(path)
    assert.is_true(damage(path, marker))
    local v, msg, code = db:get("b")
    assert.is_nil(v)
    assert.matches("^caskdb: ", msg)
    assert.equal("corrupt", code)
    assert.equal("first", db:get("a"))
    db:close()
  end)

  it("makes a for loop raise a 'caskdb:' error", function()
    local db = helpers.open(path)
    assert.is_true(damage(path, marker))
    local seen = {}
    local ok, err = pcall(function()
      for k in helpers.pairs(db) do seen[#seen + 1] = k end
    end)
    assert.is_false(ok)
    assert.matches("^caskdb: ", err)
    assert.same({ "a" }, seen)
    db:close()
  end)

  it("makes open return nil, message, 'corrupt', unless salvage is on", function()
    assert.is_true(damage(path, marker))
    local db, msg, code = caskdb.open(path)
    assert.is_nil(db)
    assert.matches("^caskdb: ", msg)
    assert.equal("corrupt", code)
    db = helpers.open(path, { salvage = true })
    assert.equal(1, db:stats().corrupt_records)
    assert.is_nil(db:get("b"))
    assert.equal("first", db:get("a"))
    assert.equal("after", db:get("c10"))
    db:close()
  end)
end)

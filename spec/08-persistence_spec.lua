-- Persistence across reopen, read-only handles and the writer lock.
local helpers = require "spec.helpers"
local caskdb = helpers.caskdb

describe("persistence", function()
  local dir, path
  before_each(function() dir, path = helpers.setup() end)
  after_each(function()
    collectgarbage()
    helpers.rmrf(dir)
  end)

  it("keeps every write and delete across a reopen", function()
    local db = helpers.open(path)
    for i = 1, 1000 do db:set(i, "v" .. i) end
    for i = 1, 1000, 3 do db:delete(i) end
    db:set("t", { 1, { a = 2 } })
    db:close()
    db = helpers.open(path)
    assert.equal(1000 - 334 + 1, #db)
    for i = 1, 1000 do
      if i % 3 == 1 then assert.is_nil(db:get(i)) else assert.equal("v" .. i, db:get(i)) end
    end
    assert.same({ 1, { a = 2 } }, db:get("t"))
    db:close()
  end)

  it("keeps data across several reopens and file rotations", function()
    for round = 1, 3 do
      local db = helpers.open(path, { max_file_size = 4096 })
      for i = 1, 200 do db:set(i, round * 1000 + i) end
      db:close()
    end
    local db = helpers.open(path)
    for i = 1, 200 do assert.equal(3000 + i, db:get(i)) end
    db:close()
  end)
end)

describe("a read-only handle", function()
  local dir, path
  before_each(function()
    dir, path = helpers.setup()
    local db = helpers.open(path)
    db:set("a", 1)
    db:close()
  end)
  after_each(function()
    collectgarbage()
    helpers.rmrf(dir)
  end)

  it("reads", function()
    local ro = helpers.open(path, { readonly = true })
    assert.equal(1, ro:get("a"))
    assert.equal(1, #ro)
    ro:close()
  end)

  it("returns nil, message, 'readonly' from writes", function()
    local ro = helpers.open(path, { readonly = true })
    for _, f in ipairs({
      function() return ro:set("b", 2) end,
      function() return ro:set("a", nil) end,
      function() return ro:delete("a") end,
    }) do
      local ok, msg, code = f()
      assert.is_nil(ok)
      assert.matches("^caskdb: ", msg)
      assert.equal("readonly", code)
    end
    assert.equal(1, ro:get("a"))
    ro:close()
  end)

  it("may be open beside the writer", function()
    local db = helpers.open(path)
    local ro = helpers.open(path, { readonly = true })
    assert.equal(1, ro:get("a"))
    ro:close()
    db:close()
  end)
end)

describe("the writer lock", function()
  local dir, path
  before_each(function() dir, path = helpers.setup() end)
  after_each(function()
    collectgarbage()
    helpers.rmrf(dir)
  end)

  it("makes a second writer get nil, message, 'locked'", function()
    local db = helpers.open(path)
    local db2, msg, code = caskdb.open(path)
    assert.is_nil(db2)
    assert.matches("^caskdb: ", msg)
    assert.equal("locked", code)
    db:close()
    db2 = helpers.open(path)
    db2:close()
  end)

  it("is released when an unreferenced handle is collected", function()
    helpers.open(path):set("k", "v")
    collectgarbage()
    collectgarbage()
    local db = helpers.open(path)
    assert.equal("v", db:get("k"))
    db:close()
  end)
end)

-- Atomic batches: db:batch(function(b) b:set(k, v [, ttl [, flags]]);
-- b:delete(k) end) applies every operation or none.  (Atomicity across a
-- crash: spec/16-batch_kill_spec.lua.)
local helpers = require "spec.helpers"
local caskdb = helpers.caskdb

describe("batch", function()
  local dir, path, db
  before_each(function()
    dir, path = helpers.setup()
    db = helpers.open(path)
  end)
  after_each(function()
    caskdb._testing.set_time(nil)
    db:close()
    helpers.rmrf(dir)
  end)

  it("applies every set and delete, in order, and returns true", function()
    db:set("gone", 1)
    db:set("kept", 1)
    assert.is_true(db:batch(function(b)
      b:set("a", "x")
      b:set(7, { 1, 2 })
      b:set("a", "y") -- a later operation on the same key wins
      b:delete("gone")
      b:delete("never existed")
      b:set("n", nil) -- nil deletes, as in db:set
    end))
    assert.equal("y", db:get("a"))
    assert.same({ 1, 2 }, db:get(7))
    assert.is_nil(db:get("gone"))
    assert.equal(1, db:get("kept"))
    assert.equal(3, db:count())
    db:close()
    db = helpers.open(path)
    assert.equal("y", db:get("a"))
    assert.is_nil(db:get("gone"))
    assert.equal(3, db:count())
  end)

  it("an empty batch writes nothing", function()
    local before = db:stats().disk_bytes
    assert.is_true(db:batch(function() end))
    assert.equal(before, db:stats().disk_bytes)
  end)

  it("stores a ttl and flags with each set", function()
    caskdb._testing.set_time(1700000000000)
    db:batch(function(b)
      b:set("t", "v", 10, 5)
      b:set("f", 1.5, nil, 9)
    end)
    assert.same({ "v", 5, n = 2 }, table.pack(db:get("t")))
    assert.equal(10, db:ttl("t"))
    assert.same({ 1.5, 9, n = 2 }, table.pack(db:get("f")))
    assert.equal(0, db:ttl("f"))
  end)

  it("reads inside the function see the database as before the batch", function()
    db:set("k", "old")
    local seen
    db:batch(function(b)
      b:set("k", "new")
      b:set("j", 1)
      seen = { db:get("k"), db:has("j") }
    end)
    assert.same({ "old", false }, seen)
    assert.equal("new", db:get("k"))
  end)

  it("a function that raises applies nothing, and the error goes on unchanged",
    function()
      db:set("k", "old")
      local err = setmetatable({}, { __name = "my error" })
      local ok, got = pcall(db.batch, db, function(b)
        b:set("k", "new")
        b:delete("k")
        for i = 1, 100 do
          b:set(i, i)
        end
        error(err)
      end)
      assert.is_false(ok)
      assert.equal(err, got) -- the very object, not a copy
      ok, got = pcall(db.batch, db, function(b)
        b:set("k", "new")
        error("boom")
      end)
      assert.is_false(ok)
      assert.matches("boom$", got)
      assert.equal("old", db:get("k"))
      assert.equal(1, db:count())
      db:close()
      db = helpers.open(path)
      assert.equal("old", db:get("k"))
      assert.equal(1, db:count())
    end)

  it("a bad argument inside the function raises and applies nothing", function()
    assert.error_matches(function()
      db:batch(function(b)
        b:set("a", 1)
        b:set("b", print)
      end)
    end, "^caskdb: bad argument #2 to 'set' %(string, number, boolean, table or nil expected, got function%)$")
    assert.error_matches(function()
      db:batch(function(b) b:delete({}) end)
    end, "^caskdb: bad argument #1 to 'delete' %(string or integer key expected, got table%)$")
    assert.error_matches(function()
      db:batch(function(b) b:set("k") end)
    end, "^caskdb: bad argument #2 to 'set' %(value %(nil deletes%) expected, got no value%)$")
    assert.error_matches(function()
      db:batch(function(b) b:set("k", 1, -1) end)
    end, "^caskdb: bad argument #3 to 'set' %(time to live from 0 to 1e12 seconds expected%)$")
    assert.error_matches(function()
      db:batch(function(b) b:set("k", 1, 0, -1) end)
    end, "^caskdb: bad argument #4 to 'set' %(flags from 0 to 4294967295 expected%)$")
    assert.error_matches(function()
      db:batch(function(b) b:set(("x"):rep(65537), 1) end)
    end, "^caskdb: bad argument #1 to 'set' %(key of 65537 bytes")
    assert.is_nil(db:get("a"))
    assert.equal(0, db:count())
  end)

  it("the batch cannot be used after the function returned", function()
    local kept
    db:batch(function(b) kept = b end)
    assert.error_matches(function() kept:set("k", 1) end,
      "^caskdb: batch is finished$")
    assert.error_matches(function() kept:delete("k") end,
      "^caskdb: batch is finished$")
    pcall(db.batch, db, function(b)
      kept = b
      error("x")
    end)
    assert.error_matches(function() kept:set("k", 1) end,
      "^caskdb: batch is finished$")
    assert.matches("^caskdb batch %(finished%)$", tostring(kept))
    assert.equal(0, db:count())
  end)

  it("the batch is not the database", function()
    db:batch(function(b)
      assert.is_nil(b.get)
      assert.matches("^caskdb batch %(0 operations%)$", tostring(b))
      b:set("k", 1)
      assert.matches("^caskdb batch %(1 operations%)$", tostring(b))
      assert.error_matches(function() b.set(db, "k", 1) end,
        "^caskdb: bad argument #1 to 'set' %(caskdb batch expected, got userdata%)$")
    end)
  end)

  it("refuses what is not a function, and a closed handle", function()
    assert.error_matches(function() db:batch() end,
      "^caskdb: bad argument #1 to 'batch' %(function expected, got no value%)$")
    assert.error_matches(function() db:batch({}) end,
      "^caskdb: bad argument #1 to 'batch' %(function expected, got table%)$")
    assert.error_matches(function()
      db:batch(function(b)
        b:set("k", 1)
        db:close()
      end)
    end, "^caskdb: database is closed$")
    db = helpers.open(path)
    assert.equal(0, db:count())
    db:close()
    assert.error_matches(function() db:batch(function() end) end,
      "^caskdb: database is closed$")
  end)

  it("batches may nest: the inner one is applied when it returns", function()
    local ok = pcall(db.batch, db, function(b)
      b:set("outer", 1)
      db:batch(function(inner) inner:set("inner", 1) end)
      error("abandon the outer one")
    end)
    assert.is_false(ok)
    assert.equal(1, db:get("inner"))
    assert.is_nil(db:get("outer"))
  end)

  it("a read-only handle returns nil, message, \"readonly\"", function()
    db:set("k", 1)
    local ro = helpers.open(path, { readonly = true })
    local ok, msg, code = ro:batch(function(b) b:set("k", 2) end)
    ro:close()
    assert.is_nil(ok)
    assert.matches("^caskdb: ", msg)
    assert.equal("readonly", code)
    assert.equal(1, db:get("k"))
  end)

  it("a large batch crosses into a new data file whole", function()
    db:close()
    db = helpers.open(path, { max_file_size = 64 * 1024 })
    local v = ("v"):rep(1000)
    for round = 1, 3 do
      assert.is_true(db:batch(function(b)
        for i = 1, 40 do
          b:set(i, v .. round)
        end
      end))
    end
    assert.is_true(db:stats().data_files > 1)
    db:close()
    db = helpers.open(path)
    for i = 1, 40 do
      assert.equal(v .. 3, db:get(i))
    end
  end)

  it("an abandoned batch is freed by the collector", function()
    for _ = 1, 50 do
      pcall(db.batch, db, function(b)
        b:set("k", ("x"):rep(10000))
        error("drop")
      end)
    end
    collectgarbage()
    collectgarbage()
    assert.equal(0, db:count())
  end)
end)

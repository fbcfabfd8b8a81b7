-- Merge (whole and in steps), per-file figures, backup, lists and
-- flush_all through the Lua module.
local helpers = require "spec.helpers"

describe("merge", function()
  local dir, path, db
  before_each(function()
    dir, path = helpers.setup()
    db = helpers.open(path, { max_file_size = 16384 })
  end)
  after_each(function()
    db:close()
    helpers.rmrf(dir)
  end)

  local function fill(rounds)
    for r = 1, rounds do
      for i = 1, 500 do db:set(i, ("v%d-%d"):format(i, r)) end
    end
  end

  it("reclaims dead space and keeps every value", function()
    fill(5)
    for i = 1, 500, 5 do db:delete(i) end
    local before = db:stats()
    assert.is_true(before.dead_bytes > before.live_bytes * 3)
    assert.is_true(db:merge_needed())
    assert.is_true(db:merge())
    local after = db:stats()
    assert.equal(after.data_files * 24, after.dead_bytes)
    assert.is_false(db:merge_needed())
    for i = 1, 500 do
      if i % 5 == 1 then assert.is_nil(db:get(i))
      else assert.equal(("v%d-5"):format(i), db:get(i)) end
    end
    db:close()
    db = helpers.open(path)
    assert.equal(400, db:count())
    assert.equal("v2-5", db:get(2))
  end)

  it("runs in steps that say whether more remains", function()
    fill(4)
    local steps, more = 0, true
    while more do
      local ok
      ok, more = db:merge { max_bytes = 4096 }
      assert.is_true(ok)
      steps = steps + 1
      db:set("during" .. steps, steps) -- writes go on between steps
    end
    assert.is_true(steps > 3)
    for i = 1, 500 do assert.equal(("v%d-4"):format(i), db:get(i)) end
    assert.equal(1, db:get("during1"))
  end)

  it("shows each file's live and dead bytes in stats().files", function()
    fill(2)
    local st = db:stats()
    assert.equal(st.data_files, #st.files)
    local bytes, live = 0, 0
    for i, f in ipairs(st.files) do
      assert.equal(f.bytes, f.live_bytes + f.dead_bytes)
      assert.equal(i == #st.files, f.active)
      bytes, live = bytes + f.bytes, live + f.live_bytes
    end
    assert.equal(st.disk_bytes, bytes)
    assert.equal(st.live_bytes, live)
  end)

  it("rejects bad arguments with a caskdb: error", function()
    assert.error_matches(function() db:merge { max_bytes = 0 } end, "^caskdb:")
    assert.error_matches(function() db:merge { nope = 1 } end, "^caskdb:")
    assert.error_matches(function() db:merge(5) end, "^caskdb:")
    assert.error_matches(function()
      helpers.caskdb.open(path .. "x", { merge_trigger_dead_ratio = 2 })
    end, "^caskdb:")
  end)

  it("merges by itself with auto_merge", function()
    db:close()
    db = helpers.open(path, { max_file_size = 16384, auto_merge = true,
                              auto_merge_step_bytes = 8192 })
    fill(20)
    local st = db:stats()
    assert.is_true(st.dead_bytes < st.live_bytes * 2 + 4 * 16384)
    for i = 1, 500 do assert.equal(("v%d-20"):format(i), db:get(i)) end
  end)
end)

describe("backup", function()
  it("copies what was acknowledged before it, and nothing after", function()
    local dir, path = helpers.setup()
    local db = helpers.open(path, { max_file_size = 8192 })
    for i = 1, 300 do db:set(i, { n = i }) end
    assert.is_true(db:backup(dir .. "/copy"))
    db:set(1, "later")
    local ok, msg, code = db:backup(dir .. "/copy")
    assert.is_nil(ok)
    assert.matches("^caskdb:", msg)
    assert.equal("exists", code)
    assert.error_matches(function() db:backup(42) end, "^caskdb:")
    db:close()
    local copy = helpers.open(dir .. "/copy")
    assert.equal(300, copy:count())
    assert.same({ n = 1 }, copy:get(1))
    copy:close()
    helpers.rmrf(dir)
  end)
end)

describe("lists", function()
  local dir, path, db
  before_each(function()
    dir, path = helpers.setup()
    db = helpers.open(path)
  end)
  after_each(function()
    db:close()
    helpers.rmrf(dir)
  end)

  it("push and pop at both ends, with typed values", function()
    assert.equal(1, db:rpush("q", "b"))
    assert.equal(2, db:lpush("q", "a"))
    assert.equal(3, db:rpush("q", 3))
    assert.equal(4, db:rpush("q", { x = 1 }))
    assert.equal(4, db:llen("q"))
    assert.equal("a", db:lpop("q"))
    assert.same({ x = 1 }, db:rpop("q"))
    assert.equal(3, db:rpop("q"))
    assert.equal(helpers.math_type(3), "integer")
    db:close()
    db = helpers.open(path)
    assert.equal(1, db:llen("q"))
    assert.equal("b", db:lpop("q"))
    assert.is_nil(db:lpop("q"))
    assert.equal(0, db:llen("q"))
    assert.is_false(db:has("q")) -- an empty list does not exist
  end)

  it("answers as ngx.shared.DICT does for keys that are not lists", function()
    db:set("s", "plain")
    assert.same({ nil, "value not a list" }, { db:lpush("s", 1) })
    assert.same({ nil, "value not a list" }, { db:rpop("s") })
    assert.same({ nil, "value not a list" }, { db:llen("s") })
    db:rpush("l", 1)
    assert.same({ nil, "value is a list" }, { db:get("l") })
    assert.equal(0, db:llen("missing"))
    assert.is_nil(db:lpop("missing"))
    assert.error_matches(function() db:lpush("l") end, "^caskdb:")
    assert.error_matches(function() db:lpush({}, 1) end, "^caskdb:")
  end)

  it("are one key to count, pairs and set, and survive merge", function()
    for i = 1, 100 do db:rpush("l", i) end
    db:set("x", 1)
    assert.equal(2, db:count())
    local keys = {}
    for k in helpers.pairs(db) do keys[#keys + 1] = k end
    assert.same({ "l", "x" }, keys)
    assert.is_true(db:merge())
    assert.equal(100, db:llen("l"))
    assert.equal(1, db:lpop("l"))
    db:set("l", "now a string")
    assert.equal("now a string", db:get("l"))
    assert.is_true(db:merge())
    assert.is_true(db:stats().live_bytes < 200)
  end)
end)

describe("flush_all", function()
  it("deletes every key, expired ones and lists included", function()
    local dir, path = helpers.setup()
    local db = helpers.open(path)
    for i = 1, 50 do db:set(i, i) end
    db:rpush("l", "x")
    db:set("soon", 1, 0.001)
    assert.is_nil(db:flush_all())
    assert.equal(0, db:count())
    assert.equal(0, db:llen("l"))
    db:close()
    db = helpers.open(path)
    assert.equal(0, db:count())
    db:close()
    helpers.rmrf(dir)
  end)
end)

-- The C engine and caskdb.format read each other's files the same way:
-- record for record, key for key, and verdict for verdict on damaged files.
local helpers = require "spec.helpers"
local U = require "spec.support.format_util"
local F = require "caskdb.format"
local caskdb = helpers.caskdb

local T0 = 1700000000000

-- Run fn(db, log) on a fresh database at path with the test clock at T0;
-- log(op) records the operation expected on disk.
local function build(path, opts, fn)
  caskdb._testing.set_time(T0)
  local db = helpers.open(path, opts)
  local ops = {}
  local w = {}
  function w.set(k, v, ttl, flags)
    assert(db:set(k, v, ttl, flags))
    ops[#ops + 1] = { type = F.PUT, key = k, value = v,
      expiry = ttl and (T0 + math.ceil(ttl * 1000)) or 0, flags = flags or 0 }
  end
  function w.delete(k)
    local existed = db:delete(k)
    if existed then -- the engine writes no tombstone for a missing key
      ops[#ops + 1] = { type = F.DELETE, key = k }
    end
    return existed
  end
  function w.batch(list)
    assert(db:batch(function(b)
      for _, op in ipairs(list) do
        if op[2] == nil then b:delete(op[1]) else b:set(op[1], op[2], op[3]) end
      end
    end))
    for _, op in ipairs(list) do
      ops[#ops + 1] = op[2] == nil and { type = F.BATCH_DELETE, key = op[1] }
        or { type = F.BATCH_PUT, key = op[1], value = op[2],
          expiry = op[3] and (T0 + op[3] * 1000) or 0, flags = 0 }
    end
    ops[#ops + 1] = { type = F.BATCH_END, count = #list }
  end
  fn(w, db)
  db:close()
  return ops
end

-- Every kind of value and key, tombstones, flags, expiry and a batch.
local function everything(w)
  w.set("string", "shakespeare")
  w.set("", "the empty key")
  w.set("bytes\0\255", helpers.all_bytes)
  w.set("empty", "")
  w.set(42, "an integer key")
  w.set(-5, 7)
  w.set(math.maxinteger, math.mininteger)
  w.set(0, 1.5)
  w.set("nan", 0 / 0)
  w.set("-0", -0.0)
  w.set("inf", -1 / 0)
  w.set("yes", true)
  w.set("no", false)
  w.set("array", { 1, "two", 3.0, { nested = true } })
  w.set("map", { a = 1, [2] = "b", [1.5] = false })
  w.set("emptytable", {})
  w.set("flags", "with flags", nil, 12345)
  w.set("short ttl", "gone at +10 s", 10)
  w.set("long ttl", "gone at +100 s", 100)
  w.set("string", "overwritten")
  w.delete("empty")
  w.delete("never existed")
  w.set(42, "integer key overwritten")
  w.batch { { "b1", "batch one" }, { 42, nil }, { "b2", { 1, 2 }, 50 }, { "b1", "again" } }
end

describe("a database written by the engine", function()
  local dir, path, ops
  before_each(function()
    dir, path = helpers.setup()
    ops = build(path, nil, everything)
  end)
  after_each(function()
    caskdb._testing.set_time(nil)
    helpers.rmrf(dir)
  end)

  it("holds exactly the records written, in order", function()
    local recs = U.records(path)
    assert.equal(#ops, #recs)
    for i, op in ipairs(ops) do
      local r = recs[i]
      local label = "record " .. i .. " " .. U.show(op.key)
      assert.equal(op.type, r.type, label)
      assert.equal(T0, r.timestamp, label)
      if op.type == F.BATCH_END then
        assert.equal(op.count, r.count, label)
      else
        assert.truthy(U.same(op.key, r.key), label)
      end
      if op.type == F.PUT or op.type == F.BATCH_PUT then
        assert.truthy(U.same(op.value, r.value), label .. " " .. U.show(r.value))
        assert.equal(op.expiry, r.expiry, label)
        assert.equal(op.flags, r.flags, label)
      else
        assert.equal(0, r.expiry, label)
      end
    end
  end)

  it("has the same keys and values through both readers, before and after expiry", function()
    for _, now in ipairs { T0, T0 + 9999, T0 + 10000, T0 + 50000, T0 + 100000, T0 + 10 ^ 9 } do
      local got = U.assert_agree(path, now)
      assert.truthy(#got > 10)
    end
    local at_start = U.assert_agree(path, T0)
    local at_end = U.assert_agree(path, T0 + 100000)
    assert.equal(#at_start - 3, #at_end) -- short ttl, long ttl, b2
  end)

  it("gives the values the test expects", function()
    local st = assert(F.read_dir(path, { now = T0 }))
    local k = st.keys
    assert.equal("overwritten", k.string.value)
    assert.equal(helpers.all_bytes, k["bytes\0\255"].value)
    assert.is_nil(k.empty)
    assert.is_nil(k[42]) -- deleted by the batch
    assert.equal(7, k[-5].value)
    assert.equal(math.mininteger, k[math.maxinteger].value)
    assert.equal("float", math.type(k[0].value))
    assert.equal(12345, k.flags.flags)
    assert.equal("again", k.b1.value)
    assert.equal(T0 + 50000, k.b2.expiry)
    assert.same({ 1, "two", 3.0, { nested = true } }, k.array.value)
    assert.equal(4, k.array.vtype)
  end)
end)

describe("a database of several files", function()
  local dir, path
  before_each(function()
    dir, path = helpers.setup()
    build(path, { max_file_size = 4096 }, function(w)
      for i = 1, 300 do
        local k = i % 3 == 0 and (i % 40) or ("key" .. (i % 60))
        if i % 7 == 0 then
          w.delete(k)
        elseif i % 11 == 0 then
          w.batch { { k, i }, { "batch" .. i, string.rep("b", i) }, { "key1", nil } }
        elseif i % 13 == 0 then
          w.set(k, { i, tostring(i) }, i % 2 == 0 and 30 or nil)
        else
          w.set(k, string.rep(string.char(65 + i % 26), i % 97))
        end
      end
    end)
  end)
  after_each(function()
    caskdb._testing.set_time(nil)
    helpers.rmrf(dir)
  end)

  it("has a hint for every file but the newest after rotation", function()
    local files = assert(F.list_files(path))
    assert.truthy(#files >= 3, #files .. " files")
    for i, f in ipairs(files) do
      if i < #files then assert.truthy(f.hint, f.name) else assert.is_nil(f.hint) end
    end
  end)

  it("reads the same with hints, without hints and through the engine", function()
    for _, now in ipairs { T0, T0 + 30000 } do
      local _, st = U.assert_agree(path, now)
      for i = 1, #st.files - 1 do
        assert.is_true(st.files[i].hint_used, st.files[i].name .. ": " .. tostring(st.files[i].hint)
          .. " " .. tostring(st.files[i].hint_error))
      end
      U.assert_agree(path, now, { hints = false })
    end
  end)

  it("reads the same when a hint is missing, stale or damaged", function()
    local files = assert(F.list_files(path))
    os.remove(path .. "/" .. files[1].hint)
    local h2 = path .. "/" .. files[2].hint
    local s = U.read(h2)
    U.write(h2, s:sub(1, 60) .. string.char(s:byte(61) ~ 1) .. s:sub(62))
    local h3 = path .. "/" .. files[3].hint
    U.write(h3, U.read(h3):sub(1, -2))
    local _, st = U.assert_agree(path, T0)
    assert.is_nil(st.files[1].hint_used)
    assert.is_nil(st.files[2].hint_used)
    assert.matches("CRC", st.files[2].hint_error)
    assert.is_nil(st.files[3].hint_used)
  end)

  it("agrees on the per-file live bytes with the engine's totals", function()
    local _, stats = U.engine_pairs(path)
    local st = assert(F.read_dir(path, { now = T0 }))
    local live, disk = 0, 0
    for _, f in ipairs(st.files) do
      live, disk = live + f.live_bytes, disk + f.size
    end
    assert.equal(stats.live_bytes, live)
    assert.equal(stats.disk_bytes, disk)
  end)

  it("reads the same after a merge", function()
    local db = helpers.open(path)
    if not db.merge then
      db:close()
      pending("the caskdb module has no db:merge yet")
      return
    end
    assert(db:merge())
    db:set("after merge", 1)
    db:close()
    local _, st = U.assert_agree(path, T0)
    local parts = 0
    for _, f in ipairs(st.files) do
      if f.part > 0 then parts = parts + 1 end
    end
    assert.truthy(parts > 0)
    U.assert_agree(path, T0, { hints = false })
  end)
end)

describe("files written by caskdb.format", function()
  local dir, path
  before_each(function()
    dir = helpers.tmpdir()
    path = dir .. "/db"
    os.execute("mkdir " .. helpers.quote(path))
  end)
  after_each(function()
    caskdb._testing.set_time(nil)
    helpers.rmrf(dir)
  end)

  local function put(k, v, extra)
    local bytes, tag = F.encode_value(v)
    local r = { key = k, value = bytes, vtype = tag, timestamp = T0 }
    for kk, vv in pairs(extra or {}) do r[kk] = vv end
    return r
  end

  local function write_db()
    F.write_data_file(path, 1, 0, {
      put("s", "string"), put(42, 42), put(-1, 2.5), put("t", true), put("f", false),
      put("tbl", { 1, { a = "b" } }), put("old", "expired", { expiry = T0 - 1 }),
      put("later", "expires", { expiry = T0 + 5000 }), put("flags", "x", { flags = 9 }),
      put("gone", "soon deleted"), put("", "empty key"), put("raw", "\1\2", { vtype = 200 }),
    })
    F.write_hint_file(path, 1, 0)
    local b = F.batch({ put("b1", 1), { key = "gone", delete = true }, put(42, "batch") }, T0)
    table.insert(b, 1, put("before batch", "x"))
    b[#b + 1] = { type = F.DELETE, key = "s", timestamp = T0 }
    F.write_data_file(path, 1, 5, b) -- a merge-output style name
    F.write_hint_file(path, 1, 5)
    F.write_data_file(path, 3, 0, { put("s", "newest"), put(7, "seven") })
  end

  it("open in the engine with the contents written", function()
    write_db()
    caskdb._testing.set_time(T0)
    local got = assert(U.engine_pairs(path))
    U.assert_same_pairs(got, {
      { -1, 2.5 }, { 7, "seven" }, { 42, "batch" }, { "", "empty key" }, { "b1", 1 },
      { "before batch", "x" }, { "f", false }, { "flags", "x" }, { "later", "expires" },
      { "raw", "\1\2" }, { "s", "newest" }, { "t", true }, { "tbl", { 1, { a = "b" } } },
    }, "engine")
    U.assert_agree(path, T0)
    U.assert_agree(path, T0 + 5000)
    U.assert_agree(path, T0, { hints = false })
  end)

  it("stay readable after the engine appends to them", function()
    write_db()
    caskdb._testing.set_time(T0)
    local db = helpers.open(path)
    db:set("s", "from the engine")
    db:delete(7)
    db:close()
    local got = U.assert_agree(path, T0)
    assert.equal(12, #got)
  end)
end)

-- Both readers on a damaged copy: the same verdict (ok / corrupt / version,
-- the same file and offset in the message), and when ok the same contents
-- and the same truncated_bytes / corrupt_records.
local function assert_same_verdict(path, label, opts)
  local ev, estats, epairs = U.engine_verdict(path, opts)
  local fopts = { now = T0 }
  for k, v in pairs(opts or {}) do fopts[k] = v end
  local fv, fst, fpairs = U.format_verdict(path, fopts)
  assert.equal(ev, fv, label .. ": engine " .. ev .. " " .. tostring(estats)
    .. " / format " .. fv .. " " .. tostring(fst))
  if ev == "ok" then
    U.assert_same_pairs(epairs, fpairs, label)
    assert.equal(estats.truncated_bytes, fst.truncated_bytes, label .. " truncated_bytes")
    assert.equal(estats.corrupt_records, fst.corrupt_records, label .. " corrupt_records")
  else
    assert.equal((estats:gsub("^caskdb: ", "")), fst, label)
  end
  return ev
end

describe("damage", function()
  local dir, path, work
  before_each(function()
    dir, path = helpers.setup()
    work = dir .. "/work"
    build(path, { max_file_size = 4096 }, function(w)
      w.set("a", "first")
      w.set(1, 1)
      w.batch { { "b", "batch" }, { "a", nil } }
      w.set("c", "ttl", 60)
      w.set("d", { 1, 2 })
      -- a second file holding a few records, the newest
      w.set("pad", string.rep("p", 3800))
      w.set("e", "newest file")
      w.batch { { "f", 1 }, { "g", 2 } }
      w.delete("d")
    end)
    local files = F.list_files(path)
    assert.equal(2, #files)
    for _, f in ipairs(files) do
      if f.hint then os.remove(path .. "/" .. f.hint) end
    end
    caskdb._testing.set_time(T0)
  end)
  after_each(function()
    caskdb._testing.set_time(nil)
    helpers.rmrf(dir)
  end)

  local function each_file(fn)
    for _, f in ipairs(F.list_files(path)) do
      fn(f.name, U.read(path .. "/" .. f.name))
    end
  end

  -- Run fn with file `name` of the database replaced by `bytes` (in place,
  -- restored afterwards: read-only opens change nothing).
  local function with_copy(name, bytes, fn)
    local file = path .. "/" .. name
    local saved = U.read(file)
    U.write(file, bytes)
    work = path
    local ok, err = pcall(fn)
    U.write(file, saved)
    assert(ok, err)
  end

  it("a truncation anywhere gets the same verdict from both readers", function()
    local verdicts = {}
    each_file(function(name, s)
      for n = 0, #s - 1 do
        if name == "0000000002.cask" or n < 200 or n % 97 == 0 then
          with_copy(name, s:sub(1, n), function()
            local v = assert_same_verdict(work, name .. " cut at " .. n)
            verdicts[v] = (verdicts[v] or 0) + 1
          end)
        end
      end
    end)
    assert.truthy(verdicts.ok and verdicts.corrupt)
  end)

  it("a flipped byte or bit anywhere gets the same verdict, with and without salvage", function()
    local verdicts = {}
    each_file(function(name, s)
      for off = 0, #s - 1 do
        if name == "0000000002.cask" and off > 200 and off < 3800 then
          goto skip -- inside the padding value
        end
        for _, mask in ipairs(off % 3 == 0 and { 0xFF, 1 << (off % 8) } or { 0xFF }) do
          local b = s:sub(1, off) .. string.char(s:byte(off + 1) ~ mask) .. s:sub(off + 2)
          with_copy(name, b, function()
            local label = name .. " byte " .. off .. " ^ " .. mask
            local v = assert_same_verdict(work, label)
            verdicts[v] = (verdicts[v] or 0) + 1
            assert_same_verdict(work, label .. " salvage", { salvage = true })
          end)
        end
        ::skip::
      end
    end)
    assert.truthy(verdicts.ok and verdicts.corrupt)
  end)

  it("zeros at the end of the newest file are a torn tail for both", function()
    each_file(function(name, s)
      if name == "0000000002.cask" then
        with_copy(name, s .. string.rep("\0", 100), function()
          assert.equal("ok", assert_same_verdict(work, "zeros"))
        end)
        with_copy(name, s:sub(1, 3000) .. string.rep("\0", #s - 3000), function()
          assert.equal("ok", assert_same_verdict(work, "zeroed tail"))
        end)
      end
    end)
  end)

  it("a garbage file named like a data file gets the same verdict", function()
    U.write(path .. "/0000000009.cask", string.rep("garbage!", 10))
    assert.equal("corrupt", assert_same_verdict(path, "garbage"))
    assert.equal("ok", assert_same_verdict(path, "garbage salvage", { salvage = true }))
    U.write(path .. "/0000000009.cask", "short")
    assert.equal("ok", assert_same_verdict(path, "short newest"))
    U.write(path .. "/0000000009.cask", F.encode_file_header { id = 9, version = 2 })
    assert.equal("version", assert_same_verdict(path, "version 2"))
  end)

  it("broken batch rules get the same verdict, with and without salvage", function()
    local function put(k) return { key = k, value = "v", timestamp = T0 } end
    local B = F.batch
    local cases = {
      unfinished_old = { { put("a"), B({ put("b") })[1], put("c"), put("d") }, { put("z") } },
      unfinished_new = { { put("a") }, { put("y"), B({ put("b") })[1], put("c") } },
      bad_count_last = { { put("a") }, { put("y"), B({ put("b") })[1],
        { type = F.BATCH_END, count = 2, timestamp = T0 } } },
      bad_count_mid = { { put("a") }, { B({ put("b") })[1],
        { type = F.BATCH_END, count = 2, timestamp = T0 }, put("c") } },
      lone_end_mid = { { put("a"), { type = F.BATCH_END, count = 1, timestamp = T0 }, put("b") },
        { put("c") } },
      lone_end_last = { { put("a") }, { put("b"), { type = F.BATCH_END, count = 1 } } },
      unterminated_old = { { put("a"), B({ put("b") })[1] }, { put("c") } },
      unterminated_new = { { put("a") }, { put("c"), B({ put("b"), put("d") })[1] } },
    }
    for label, files in pairs(cases) do
      local d = dir .. "/" .. label
      os.execute("mkdir " .. helpers.quote(d))
      F.write_data_file(d, 1, 0, files[1])
      F.write_data_file(d, 2, 0, files[2])
      assert_same_verdict(d, label)
      assert_same_verdict(d, label .. " salvage", { salvage = true })
    end
  end)

  it("a damaged value behind a hint is an error for the same key in both", function()
    F.write_hint_file(path, 1, 0)
    local s = U.read(path .. "/0000000001.cask")
    local at = s:find("first", 1, true) -- "a" was deleted; damage "b" instead
    at = s:find("batch", 1, true)
    U.write(path .. "/0000000001.cask", s:sub(1, at - 1) .. "X" .. s:sub(at + 1))
    local epairs = assert(U.engine_pairs(path))
    local fpairs = assert(U.format_pairs(path, { now = T0 }))
    U.assert_same_pairs(epairs, fpairs, "behind a hint")
    local errors = 0
    for _, p in ipairs(fpairs) do
      if p[2] == "ERROR" then errors = errors + 1; assert.equal("b", p[1]) end
    end
    assert.equal(1, errors)
  end)
end)

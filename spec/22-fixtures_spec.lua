-- The golden databases of spec/fixtures/ (written once by the engine with
-- spec/fixtures/make.lua): both the engine and caskdb.format must read them
-- with the contents listed here by hand.  A failure here after a change of
-- the engine is a format change (docs/FORMAT.md section 13).
local helpers = require "spec.helpers"
local U = require "spec.support.format_util"
local F = require "caskdb.format"
local caskdb = helpers.caskdb

local ROOT = "spec/fixtures/"
local T0 = 1700000000000

local function rep(c, n) return string.rep(c, n) end

-- name -> files, record types per file, and the expected contents at
-- several times (key order: integers, then strings bytewise).
local golden = {
  basic = {
    files = { "0000000001.cask" },
    types = { ["0000000001.cask"] = "1 1 1 1 1 1 1 1 1 1 1 1 2 1" },
    at = {
      [T0] = {
        { -1, -2.5 }, { 0, 1 / 0 }, { 42, 7 }, { "", "empty key" },
        { "bin\0\255", "\0\1\2\255" }, { "flagged", "f" },
        { "list", { 1, "two", 3.5, true } }, { "map", { name = { "cask", 3 } } },
        { "no", false }, { "othello", "overwritten" }, { "yes", true },
      },
    },
    flags = { flagged = 77 },
  },
  expiry = {
    files = { "0000000001.cask" },
    types = { ["0000000001.cask"] = "1 1 1 1" },
    at = {
      [T0] = { { 7, "integer key, T0+10s" }, { "forever", "stays" },
        { "hour", "expires at T0+3600s" }, { "ten", "expires at T0+10s" } },
      [T0 + 9999] = { { 7, "integer key, T0+10s" }, { "forever", "stays" },
        { "hour", "expires at T0+3600s" }, { "ten", "expires at T0+10s" } },
      [T0 + 10000] = { { "forever", "stays" }, { "hour", "expires at T0+3600s" } },
      [T0 + 3600000] = { { "forever", "stays" } },
    },
  },
  batch = {
    files = { "0000000001.cask" },
    types = { ["0000000001.cask"] = "1 1 3 4 3 3 4 5 1" },
    at = {
      [T0] = { { "a", 2 }, { "after", "batch" }, { "t", { 1, 2 } } },
      [T0 + 60000] = { { "a", 2 }, { "after", "batch" } },
    },
  },
  rotation = {
    files = { "0000000001.cask", "0000000001.hint", "0000000002.cask", "0000000002.hint",
      "0000000003.cask", "0000000003.hint", "0000000004.cask" },
    types = { ["0000000004.cask"] = "1 1 2 1 3 4 5" },
    at = {
      [T0] = {
        { 5, "five" }, { "b1", true }, { "key0", rep("h", 160) }, { "key1", rep("i", 161) },
        { "key10", rep("r", 170) }, { "key11", rep("g", 159) }, { "key2", rep("j", 162) },
        { "key5", rep("m", 165) }, { "key6", rep("n", 166) }, { "key7", rep("o", 167) },
        { "key8", rep("p", 168) }, { "key9", rep("q", 169) },
      },
    },
  },
  -- After a merge: the output holds the live keys only, in key order ("m1"
  -- was deleted, "short" had expired), with a hint; "after" was written
  -- to the new active file once the merge was done.
  merged = {
    files = { "0000000002_0000000001.cask", "0000000002_0000000001.hint",
      "0000000003.cask" },
    types = { ["0000000002_0000000001.cask"] = "1 1 1 1 1 1 1" },
    at = {
      [T0 + 20000] = {
        { "after", "merge" }, { "m0", rep("m", 224) }, { "m2", rep("m", 226) },
        { "m3", rep("m", 227) }, { "m4", rep("m", 228) }, { "m5", rep("m", 229) },
        { "m6", rep("m", 230) }, { "m7", rep("m", 223) },
      },
    },
  },
}

-- The bytes of an xxd-style dump.
local function undump(text)
  local out = {}
  for line in text:gmatch("[^\n]+") do
    local hex = line:match("^%x+: (.-)  ")
    out[#out + 1] = helpers.unhex((hex:gsub(" ", "")))
  end
  return table.concat(out)
end

for name, g in pairs(golden) do
  describe("the golden database " .. name, function()
    local path = ROOT .. name
    after_each(function() caskdb._testing.set_time(nil) end)

    it("holds exactly the files listed", function()
      assert.same(g.files, U.ls(path))
    end)

    it("matches its hex dumps", function()
      for _, file in ipairs(g.files) do
        local dump = U.read(ROOT .. name .. "." .. file .. ".hex")
        assert.equal(helpers.hex(U.read(path .. "/" .. file)), helpers.hex(undump(dump)), file)
      end
    end)

    it("holds the record types listed, every record whole", function()
      for file, types in pairs(g.types) do
        local s = U.read(path .. "/" .. file)
        local seen, off = {}, 24
        while off < #s do
          local v, r = F.read_record(s, off)
          assert.equal("whole", v)
          assert.equal(T0, r.timestamp)
          seen[#seen + 1] = tostring(r.type)
          off = off + r.size
        end
        assert.equal(types, table.concat(seen, " "))
      end
    end)

    for now, expected in pairs(g.at) do
      it("reads the listed contents at T0+" .. (now - T0) .. " ms, engine and caskdb.format", function()
        caskdb._testing.set_time(now)
        local engine = assert(U.engine_pairs(path))
        U.assert_same_pairs(expected, engine, "engine")
        for _, hints in ipairs { true, false } do
          local st = assert(F.read_dir(path, { now = now, hints = hints }))
          local fmt = {}
          for _, k in ipairs(F.sorted_keys(st)) do fmt[#fmt + 1] = { k, st.keys[k].value } end
          U.assert_same_pairs(expected, fmt, "caskdb.format, hints " .. tostring(hints))
          for k, flags in pairs(g.flags or {}) do assert.equal(flags, st.keys[k].flags) end
          if hints then
            for i = 1, #st.files - 1 do
              assert.equal(st.files[i].hint ~= nil, st.files[i].hint_used == true)
            end
          end
        end
      end)
    end
  end)
end

describe("the golden hint file", function()
  it("holds one hint per applied record and an end record naming its data file", function()
    local s = U.read(ROOT .. "rotation/0000000001.cask")
    local hints = assert(F.read_hint(U.read(ROOT .. "rotation/0000000001.hint"), 1, 0, #s))
    local n, off = 0, 24
    while off < #s do
      local _, r = F.read_record(s, off)
      n = n + 1
      assert.equal(off, hints[n].offset)
      assert.equal(r.size, hints[n].size)
      assert.equal(r.key, hints[n].key)
      off = off + r.size
    end
    assert.equal(n, #hints)
    -- the same bytes as caskdb.format writes for that data file
    assert.equal(helpers.hex(U.read(ROOT .. "rotation/0000000001.hint")),
      helpers.hex(F.encode_hint_file(s, 1, 0)))
  end)
end)

-- caskdb.format and caskdb.msgpack on their own: the pieces of
-- docs/FORMAT.md, checked against the page's own numbers and bytes.
local helpers = require "spec.helpers"
local U = require "spec.support.format_util"
local F = require "caskdb.format"
local msgpack = require "caskdb.msgpack"
local caskdb = helpers.caskdb

local unhex = helpers.unhex
local function x(s) -- hex with spaces, as the page prints it
  return unhex((s:gsub("%s", "")))
end

describe("crc32c", function()
  it("gives the check values of section 3", function()
    assert.equal(0xE3069283, F.crc32c("123456789"))
    assert.equal(0x00000000, F.crc32c(""))
    assert.equal(0xC1D04330, F.crc32c("a"))
  end)

  it("matches the bitwise reference routine on every length up to 40", function()
    local function ref(s)
      local crc = 0xFFFFFFFF
      for i = 1, #s do
        crc = crc ~ s:byte(i)
        for _ = 1, 8 do
          if crc & 1 == 1 then crc = (crc >> 1) ~ 0x82F63B78 else crc = crc >> 1 end
        end
      end
      return crc ~ 0xFFFFFFFF
    end
    local s = helpers.all_bytes:rep(2)
    for n = 0, 40 do
      assert.equal(ref(s:sub(1, n)), F.crc32c(s:sub(1, n)))
      assert.equal(ref(s:sub(7, 7 + n)), F.crc32c(s, 7, 7 + n))
    end
  end)

  it("continues an earlier result", function()
    assert.equal(F.crc32c("123456789"), F.crc32c("6789", 1, 4, F.crc32c("12345")))
  end)
end)

describe("file names", function()
  it("are read as section 1 says", function()
    assert.same({ "data", 1, 0 }, { F.parse_name("0000000001.cask") })
    assert.same({ "data", 4294967295, 0 }, { F.parse_name("4294967295.cask") })
    for _, bad in ipairs { "1.cask", "00000000001.cask", "0000000001.cask.tmp",
      "4294967296.cask", "0000000001.CASK", "LOCK", "0000000001_0000000000.cask" } do
      assert.is_nil(F.parse_name(bad), bad)
    end
  end)

  it("include merge parts and hint files", function()
    assert.same({ "data", 7, 2 }, { F.parse_name("0000000007_0000000002.cask") })
    assert.same({ "hint", 7, 0 }, { F.parse_name("0000000007.hint") })
    assert.equal("0000000007_0000000002.hint", F.hint_name(7, 2))
    assert.equal("0000000001.cask", F.data_name(1, 0))
  end)
end)

describe("the file header", function()
  local good = x "4341 534b 4442 0d0a 0100 0100 0100 0000 0000 0000 afcb f7d5"

  it("is the page's 24 bytes for data file 1", function()
    assert.equal(good, F.encode_file_header { kind = 1, id = 1, part = 0 })
    local h = assert(F.decode_file_header(good))
    assert.same({ 1, 1, 1, 0 }, { h.version, h.kind, h.id, h.part })
  end)

  it("is checked in the page's order", function()
    assert.equal("short", select(2, F.decode_file_header(good:sub(1, 23))))
    assert.equal("bad", select(2, F.decode_file_header("X" .. good:sub(2))))
    assert.equal("bad", select(2, F.decode_file_header(good:sub(1, 23) .. "\0")))
    -- version 2 with a good CRC: a version error, not corrupt
    local v2 = F.encode_file_header { kind = 1, id = 1, version = 2 }
    assert.equal("version", select(2, F.decode_file_header(v2)))
    local k3 = F.encode_file_header { kind = 3, id = 1 }
    assert.equal("bad", select(2, F.decode_file_header(k3)))
    assert.equal("bad", select(2, F.check_data_header(good, 2, 0)))
    assert.equal("bad", select(2, F.check_data_header(
      F.encode_file_header { kind = 2, id = 1 }, 1, 0)))
    assert.truthy(F.check_data_header(good, 1, 0))
  end)
end)

describe("the worked example of section 10", function()
  local page = x [[
    4341 534b 4442 0d0a 0100 0100 0100 0000 0000 0000 afcb f7d5 ff1e 1b7e 0068 e5cf
    8b01 0000 0000 0000 0000 0000 0100 0000 0000 0000 0700 0000 0b00 0000 6f74 6865
    6c6c 6f73 6861 6b65 7370 6561 7265 07f4 94fe 0068 e5cf 8b01 0000 0000 0000 0000
    0000 0101 0100 0000 0000 0800 0000 0800 0000 2a00 0000 0000 0000 0700 0000 0000
    0000 e6b2 d173 0068 e5cf 8b01 0000 0000 0000 0000 0000 0200 0000 0000 0000 0700
    0000 0000 0000 6f74 6865 6c6c 6f]]
  local batch = x [[
    4341 534b 4442 0d0a 0100 0100 0100 0000 0000 0000 afcb f7d5 e471 3dbe 0068 e5cf
    8b01 0000 0000 0000 0000 0000 0300 0000 0000 0000 0100 0000 0100 0000 6131 e5c9
    4228 0068 e5cf 8b01 0000 0000 0000 0000 0000 0401 0000 0000 0000 0800 0000 0000
    0000 2a00 0000 0000 0000 836c 9987 0068 e5cf 8b01 0000 0000 0000 0000 0000 0500
    0000 0000 0000 0000 0000 0400 0000 0200 0000]]
  local T = 1700000000000

  it("is encoded byte for byte", function()
    assert.equal(173, #page)
    assert.equal(page, F.encode_data_file(1, 0, {
      { key = "othello", value = "shakespeare", timestamp = T },
      { key = 42, value = string.pack("<i8", 7), vtype = 1, timestamp = T },
      { type = F.DELETE, key = "othello", timestamp = T },
    }))
    assert.equal(146, #batch)
    assert.equal(batch, F.encode_data_file(1, 0, F.batch({
      { key = "a", value = "1" }, { key = 42, delete = true } }, T)))
  end)

  it("decodes to the page's fields and key directory", function()
    local v, r = F.read_record(page, 24)
    assert.equal("whole", v)
    assert.same({ 0x7E1B1EFF, T, 0, 1, 0, 0, 0, 7, 11, 54, "othello", "shakespeare" },
      { r.crc, r.timestamp, r.expiry, r.type, r.key_kind, r.vtype, r.flags, r.klen,
        r.vlen, r.size, r.key, r.value })
    v, r = F.read_record(page, 78)
    assert.same({ "whole", 0xFE94F407, 42, 1 }, { v, r.crc, r.key, r.key_kind })
    v, r = F.read_record(page, 130)
    assert.same({ "whole", 0x73D1B2E6, 2, 43 }, { v, r.crc, r.type, r.size })
    local dir = helpers.tmpdir()
    U.write(dir .. "/0000000001.cask", page)
    local st = assert(F.read_dir(dir, { now = T }))
    assert.equal(1, st.count)
    assert.equal(7, st.keys[42].value)
    assert.equal("integer", math.type(st.keys[42].value))
    U.write(dir .. "/0000000001.cask", batch)
    st = assert(F.read_dir(dir, { now = T }))
    assert.same({ "a" }, F.sorted_keys(st))
    -- cut anywhere inside the batch: recovery cuts back to 24
    for n = 25, 145 do
      U.write(dir .. "/0000000001.cask", batch:sub(1, n))
      st = assert(F.read_dir(dir, { now = T }))
      assert.equal(0, st.count)
      assert.equal(n - 24, st.truncated_bytes)
    end
    helpers.rmrf(dir)
  end)
end)

describe("read_record", function()
  local T = 1700000000000
  local function rec(t)
    t.timestamp = t.timestamp or T
    return F.encode_file_header { id = 1 } .. F.encode_record(t)
  end
  local function patch(s, off, bytes) -- off 0-based
    return s:sub(1, off) .. bytes .. s:sub(off + #bytes + 1)
  end

  it("classifies short, bad and whole records as section 4 says", function()
    local s = rec { key = "k", value = "v" }
    assert.equal("whole", F.read_record(s, 24))
    assert.equal("short", F.read_record(s:sub(1, 24 + 35), 24))
    assert.equal("short", F.read_record(s:sub(1, -2), 24))
    assert.equal("bad", F.read_record(s:sub(1, -2) .. "w", 24)) -- CRC
    assert.equal("bad", F.read_record(patch(s, 24 + 23, "\1"), 24)) -- reserved
    assert.equal("bad", F.read_record(patch(s, 24 + 20, "\0"), 24)) -- type 0
    assert.equal("bad", F.read_record(patch(s, 24 + 20, "\6"), 24)) -- type 6
    assert.equal("bad", F.read_record(patch(s, 24 + 20, "\2"), 24)) -- delete + value
    assert.equal("bad", F.read_record(patch(s, 24 + 21, "\2"), 24)) -- key kind 2
    assert.equal("bad", F.read_record(patch(s, 24 + 21, "\1"), 24)) -- int key, klen 1
    -- a bad header is bad even when the file also ends inside the record
    assert.equal("bad", F.read_record(patch(s, 24 + 23, "\1"):sub(1, -2), 24))
    -- a key over 64 KiB is bad before the length is looked at
    assert.equal("bad", F.read_record(patch(s, 24 + 28, string.pack("<I4", 65537)), 24))
    local e = rec { type = F.BATCH_END, count = 1 }
    assert.equal("whole", F.read_record(e, 24))
    assert.equal("bad", F.read_record(patch(e, 24 + 21, "\1"), 24))
  end)

  it("reads integer keys as integers", function()
    local s = rec { key = -5, value = "" }
    local v, r = F.read_record(s, 24)
    assert.equal("whole", v)
    assert.equal(-5, r.key)
    assert.equal("integer", math.type(r.key))
  end)
end)

describe("values", function()
  it("decode every tag as the binding writes it", function()
    for _, v in ipairs { "", "text", helpers.all_bytes, 0, -1, math.maxinteger,
      math.mininteger, 1.5, -0.0, 1 / 0, -1 / 0, true, false,
      { 1, 2, 3 }, {}, { a = { b = { 1.5, "x", false } }, [7] = "seven" } } do
      local bytes, tag = F.encode_value(v)
      assert.truthy(U.same(v, F.decode_value(tag, bytes)), U.show(v))
    end
    local nb, nt = F.encode_value(0 / 0)
    local nan = F.decode_value(nt, nb)
    assert.is_true(nan ~= nan)
  end)

  it("reject bytes that do not fit their tag", function()
    assert.is_nil(F.decode_value(1, "1234567"))
    assert.is_nil(F.decode_value(2, "123456789"))
    assert.is_nil(F.decode_value(3, "\2"))
    assert.is_nil(F.decode_value(3, ""))
    assert.is_nil(F.decode_value(4, "\1")) -- an integer, not an array or map
    assert.is_nil(F.decode_value(4, "\x91"))
    assert.is_nil(F.decode_value(4, "\x90\x00"))
  end)

  it("give tags 5..255 as raw bytes", function()
    assert.equal("\1\2", F.decode_value(5, "\1\2"))
    assert.equal("\1\2", F.decode_value(200, "\1\2"))
  end)
end)

describe("caskdb.msgpack", function()
  local samples = {
    { 1, 2, 3 }, {}, { "a", "b" }, { x = 1 }, { [-1] = true }, { [1.5] = 2 },
    { 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, math.maxinteger },
    { -1, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649,
      math.mininteger },
    { 0.5, -0.0, 1 / 0, 1e300 }, { string.rep("s", 31) }, { string.rep("s", 32) },
    { string.rep("s", 256) }, { string.rep("s", 70000) }, { "\xff\xfe", "\xed\xa0\x80" },
    { true, false, { { { "deep" } } } },
  }
  local big = {}
  for i = 1, 20 do big[i] = i; big["k" .. i] = i end
  samples[#samples + 1] = big
  local arr = {}
  for i = 1, 70000 do arr[i] = i % 7 end
  samples[#samples + 1] = arr

  it("reads what the C binding writes, and the reverse", function()
    for _, v in ipairs(samples) do
      assert.truthy(U.same(v, msgpack.decode(caskdb.msgpack_encode(v))), U.show(v))
      assert.truthy(U.same(v, caskdb.msgpack_decode(msgpack.encode(v))), U.show(v))
    end
  end)

  it("writes the binding's bytes where the order is fixed", function()
    for _, v in ipairs { { 1, 2, 3 }, {}, { x = 1 }, { 128, -33, 1.5, "é", "\xff" },
      { { { 1 } } } } do
      assert.equal(helpers.hex(caskdb.msgpack_encode(v)), helpers.hex(msgpack.encode(v)))
    end
  end)

  it("decodes as section 9 says", function()
    assert.equal(1.5, msgpack.decode("\xCA" .. string.pack(">f", 1.5)))
    assert.equal(2.0 ^ 64 - 1, msgpack.decode("\xCF" .. ("\xff"):rep(8)))
    assert.same({ a = 1 }, msgpack.decode("\x82\xA1a\x01\xA1b\xC0"))
    local t = msgpack.decode("\x93\x01\xC0\x03")
    assert.same({ 1, nil, 3 }, { t[1], t[2], t[3] })
    for _, bad in ipairs { "\xC1", "\xD4\x01\x02", "\x81\xC0\x01", "\x81\x90\x01",
      "\x81\xCB" .. string.pack(">d", 0 / 0) .. "\x01", "\x91\x01\x02", "\x92\x01",
      ("\x91"):rep(65) .. "\x01" } do
      assert.is_nil(msgpack.decode(bad), helpers.hex(bad))
    end
    assert.truthy(msgpack.decode(("\x91"):rep(64) .. "\x01"))
  end)

  it("refuses what cannot be stored", function()
    local cyc = {}
    cyc[1] = cyc
    local deep = {}
    local t = deep
    for _ = 1, 64 do t[1] = {}; t = t[1] end
    for _, bad in ipairs { { print }, cyc, deep, { [{}] = 1 } } do
      assert.has_error(function() msgpack.encode(bad) end)
    end
  end)
end)

-- The MessagePack encoding of tables, checked against Python's msgpack, and
-- the decoder's handling of bad bytes.  caskdb.msgpack_encode/_decode are
-- the very functions the store uses for table values.
local helpers = require "spec.helpers"
local caskdb = helpers.caskdb
local encode, decode = caskdb.msgpack_encode, caskdb.msgpack_decode
local hex, unhex = helpers.hex, helpers.unhex

-- 2^63 - 1 as this Lua reads it from MessagePack: an integer from 5.3 on,
-- before it a double (integers are exact up to 2^53), so 2^63.
local MAXINT_READ = math.maxinteger or 2 ^ 63
-- The largest integer this Lua can write (before 5.3: a double below 2^63),
-- as Python spells it.
local MAXINT_PY = helpers.integers and "2**63 - 1" or "2**63 - 1024"

describe("msgpack_encode", function()
  it("uses the smallest integer forms, as msgpack.org specifies", function()
    local cases = {
      { 0, "00" }, { 127, "7f" }, { 128, "cc80" }, { 255, "ccff" },
      { 256, "cd0100" }, { 65535, "cdffff" }, { 65536, "ce00010000" },
      { 4294967295, "ceffffffff" }, { 4294967296, "cf0000000100000000" },
      { helpers.maxinteger,
        helpers.integers and "cf7fffffffffffffff" or "cf7ffffffffffffc00" },
      { -1, "ff" }, { -32, "e0" }, { -33, "d0df" }, { -128, "d080" },
      { -129, "d1ff7f" }, { -32768, "d18000" }, { -32769, "d2ffff7fff" },
      { -2147483648, "d280000000" }, { -2147483649, "d3ffffffff7fffffff" },
      { helpers.mininteger, "d38000000000000000" },
    }
    for _, c in ipairs(cases) do
      assert.equal(c[2], hex(encode(c[1])), tostring(c[1]))
      assert.equal(c[1], decode(encode(c[1])))
      assert.equal("integer", helpers.math_type(decode(encode(c[1]))))
    end
  end)

  it("writes floats as float64 and booleans", function()
    assert.equal("cb3ff8000000000000", hex(encode(1.5)))
    assert.equal("cb8000000000000000", hex(encode(-0.0)))
    assert.equal("cb7ff0000000000000", hex(encode(math.huge)))
    assert.equal("c3", hex(encode(true)))
    assert.equal("c2", hex(encode(false)))
  end)

  it("writes valid UTF-8 as str and other bytes as bin", function()
    assert.equal("a0", hex(encode("")))
    assert.equal("a3616263", hex(encode("abc")))
    assert.equal("a2c3a9", hex(encode("é")))
    assert.equal("c401ff", hex(encode("\255")))
    assert.equal("c4", hex(encode("\237\160\128")):sub(1, 2)) -- a surrogate
    assert.equal("c4", hex(encode("\192\128")):sub(1, 2))     -- overlong
    assert.equal("d920" .. string.rep("78", 32), hex(encode(string.rep("x", 32))))
    assert.equal("da0100", hex(encode(string.rep("x", 256))):sub(1, 6))
    assert.equal("db00010000", hex(encode(string.rep("x", 65536))):sub(1, 10))
    assert.equal("c50100", hex(encode(string.rep("\255", 256))):sub(1, 6))
  end)

  it("writes arrays for keys 1..n and maps otherwise", function()
    assert.equal("80", hex(encode({})))
    assert.equal("93010203", hex(encode({ 1, 2, 3 })))
    assert.equal("81a161c3", hex(encode({ a = true })))
    assert.equal("8102c3", hex(encode({ [2] = true })))
    assert.equal("dc0010", hex(encode({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
      14, 15, 16 })):sub(1, 6))
    local m = encode({ 1, 2, x = 3 })
    assert.equal("83", hex(m):sub(1, 2))
    assert.same({ 1, 2, x = 3 }, decode(m))
  end)
end)

describe("msgpack_decode", function()
  it("accepts float32, uint64 over 2^63-1 (as a float) and nil values", function()
    assert.equal(1.5, decode(unhex("ca3fc00000")))
    assert.equal("float", helpers.math_type(decode(unhex("ca3fc00000"))))
    local big = decode(unhex("cfffffffffffffffff"))
    assert.equal("float", helpers.math_type(big))
    assert.equal(2.0 ^ 64, big)
    assert.equal(MAXINT_READ, decode(unhex("cf7fffffffffffffff")))
    assert.same({ a = 1 }, decode(unhex("82a16101a162c0"))) -- {a=1, b=nil}
    assert.same({ 1, nil, 3 }, decode(unhex("9301c003")))
  end)

  it("returns nil, message, 'corrupt' for bad bytes", function()
    local bad = {
      "", "c1", "d4", "d40100", "c7010000",              -- never used, ext
      "92", "9201", "82a161", "dc00", "dc0002", "a5616263", -- short
      "c4", "c405", "d9", "cb00", "ca0000",
      "0000",                                            -- trailing bytes
      "81c001", "81cb7ff8000000000000000001",             -- nil, NaN keys
      "818001", "81900101",                              -- table keys
      "dd7fffffff", "df7fffffff",                        -- huge counts
    }
    for _, h in ipairs(bad) do
      local v, msg, code = decode(unhex(h))
      assert.is_nil(v, h)
      assert.equal("caskdb: corrupt MessagePack data", msg, h)
      assert.equal("corrupt", code, h)
    end
  end)

  it("refuses nesting deeper than 64 and accepts 64", function()
    assert.is_table(decode(string.rep("\145", 63) .. "\144"))
    assert.is_nil(decode(string.rep("\145", 64) .. "\144"))
    assert.is_nil(decode(string.rep("\145", 100000) .. "\144"))
  end)

  it("never crashes on truncations, bit flips and random bytes", function()
    local good = encode({ name = "hamlet", acts = { 1, 2, 3, 4, 5 }, r = 4.5,
      nested = { { { x = helpers.all_bytes } } }, neg = -70000, t = true })
    assert.is_table(decode(good))
    for i = 0, #good - 1 do
      assert.is_nil(decode(good:sub(1, i)))
    end
    local seed = 12345
    local function rand(n) -- a small LCG: the same bytes every run
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed % n
    end
    for _ = 1, 2000 do
      local pos = rand(#good) + 1
      local flipped = good:sub(1, pos - 1) ..
        string.char(helpers.flip_bit(good:byte(pos), rand(8))) .. good:sub(pos + 1)
      decode(flipped) -- any result, but no crash
    end
    for _ = 1, 2000 do
      local t = {}
      for i = 1, rand(40) do t[i] = string.char(rand(256)) end
      decode(table.concat(t))
    end
  end)
end)

describe("MessagePack against Python's msgpack", function()
  local py = helpers.python_msgpack()
  local run = py and it or pending
  local reason = py and "" or " (no python3 with the msgpack module found)"
  local dir
  before_each(function() dir = helpers.tmpdir() end)
  after_each(function() helpers.rmrf(dir) end)

  run("Python-packed bytes decode in Lua to the same table" .. reason, function()
    local out = helpers.python(py, [==[
import msgpack, sys
values = [
  {"name": "hamlet", "year": 1603, "rating": 4.5, "public": True, "no": False},
  [1, 2, 3, [4, [5, {"deep": "yes"}]]],
  {2: "two", -2: "minus two", 2.5: "two and a half", True: "t"},
  {"bin": bytes(range(256)), "str": "h\u00e9llo", "empty": "", "emptybin": b""},
  [0, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**63 - 1,
   -1, -32, -33, -128, -129, -32768, -32769, -2**31, -2**31 - 1, -2**63],
  {"nested": {"a": {"b": {"c": [1.25, -0.0, float("inf"), float("-inf")]}}}},
  {},
  ["x" * 40, "y" * 300, "z" * 70000],
]
for v in values:
  sys.stdout.write(msgpack.packb(v, use_bin_type=True).hex() + "\n")
sys.stdout.write(msgpack.packb([1.5, 0.25], use_single_float=True).hex() + "\n")
]==], "", dir)
    local expect = {
      { name = "hamlet", year = 1603, rating = 4.5, public = true, no = false },
      { 1, 2, 3, { 4, { 5, { deep = "yes" } } } },
      { [2] = "two", [-2] = "minus two", [2.5] = "two and a half", [true] = "t" },
      { bin = helpers.all_bytes, str = "héllo", empty = "", emptybin = "" },
      { 0, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296,
        MAXINT_READ, -1, -32, -33, -128, -129, -32768, -32769,
        -2147483648, -2147483649, helpers.mininteger },
      { nested = { a = { b = { c = { 1.25, -0.0, math.huge, -math.huge } } } } },
      {},
      { string.rep("x", 40), string.rep("y", 300), string.rep("z", 70000) },
      { 1.5, 0.25 },
    }
    local i = 0
    for line in out:gmatch("[^\n]+") do
      i = i + 1
      local got = decode(unhex(line))
      assert.same(expect[i], got, "value " .. i)
    end
    assert.equal(#expect, i)
    assert.equal("integer", helpers.math_type(decode(unhex(out:match("[^\n]+"))).year))
    assert.equal("float", helpers.math_type(decode(unhex(out:match("[^\n]+"))).rating))
  end)

  run("Lua-packed bytes unpack in Python to the same structure" .. reason, function()
    local values = {
      { name = "hamlet", year = 1603, rating = 4.5, public = true, no = false },
      { 1, 2, 3, { 4, { 5, { deep = "yes" } } } },
      { [2] = "two", [-2] = "minus two", [2.5] = "two and a half", [true] = "t" },
      { bin = helpers.all_bytes, str = "héllo", empty = "" },
      { 0, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296,
        helpers.maxinteger, -1, -32, -33, -128, -129, -32768, -32769,
        -2147483648, -2147483649, helpers.mininteger },
      { nested = { a = { b = { c = { 1.25, helpers.negzero, math.huge, -math.huge } } } } },
      {},
      { string.rep("x", 40), string.rep("y", 300), string.rep("z", 70000) },
    }
    local lines = {}
    for i, v in ipairs(values) do lines[i] = hex(encode(v)) end
    local out = helpers.python(py, [==[
import msgpack, sys, math
expect = [
  {"name": "hamlet", "year": 1603, "rating": 4.5, "public": True, "no": False},
  [1, 2, 3, [4, [5, {"deep": "yes"}]]],
  {2: "two", -2: "minus two", 2.5: "two and a half", True: "t"},
  {"bin": bytes(range(256)), "str": "h\u00e9llo", "empty": ""},
  [0, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, ]==] .. MAXINT_PY .. [==[,
   -1, -32, -33, -128, -129, -32768, -32769, -2**31, -2**31 - 1, -2**63],
  {"nested": {"a": {"b": {"c": [1.25, -0.0, float("inf"), float("-inf")]}}}},
  {},
  ["x" * 40, "y" * 300, "z" * 70000],
]
def same(a, b):
  if type(a) is not type(b):
    return False
  if isinstance(a, float):
    return math.copysign(1, a) == math.copysign(1, b) and a == b
  if isinstance(a, list):
    return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
  if isinstance(a, dict):
    return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
  return a == b
lines = sys.stdin.read().split()
assert len(lines) == len(expect), len(lines)
for i, (line, want) in enumerate(zip(lines, expect)):
  got = msgpack.unpackb(bytes.fromhex(line), raw=False, strict_map_key=False)
  print("ok" if same(got, want) else "value %d differs: %r" % (i + 1, got))
]==], table.concat(lines, "\n") .. "\n", dir)
    local n = 0
    for line in out:gmatch("[^\n]+") do
      n = n + 1
      assert.equal("ok", line)
    end
    assert.equal(#values, n)
  end)

  run("arrays and scalars encode byte for byte as Python packs them" .. reason,
    function()
      local out = helpers.python(py, [==[
import msgpack
for v in [[1, -1, 200, -200, 70000, -70000, 2**40, -2**40, 1.5, True, False,
           "abc", "x" * 40, b"\xff\xfe", [[1]], {"k": [2]}]]:
  print(msgpack.packb(v, use_bin_type=True).hex())
]==], "", dir)
      local lua = hex(encode({ 1, -1, 200, -200, 70000, -70000, 1099511627776,
        -1099511627776, 1.5, true, false, "abc", string.rep("x", 40),
        "\255\254", { { 1 } }, { k = { 2 } } }))
      assert.equal(out:match("%x+"), lua)
    end)
end)

-- caskdb.msgpack -- MessagePack in pure Lua 5.4, as CaskDB stores tables
-- (value type tag 4, docs/FORMAT.md section 9).
--
--   encode(v)  -> bytes            raises "caskdb.msgpack: ..." on a value
--                                  that cannot be stored (function, cycle,
--                                  nesting deeper than 64, NaN map key, ...)
--   decode(s)  -> value | nil, msg exactly one object, no trailing bytes
--
-- Encoding follows the binding: a table whose keys are exactly 1..n (n >= 1)
-- is an array, every other table (the empty one too) a map; integers take
-- their smallest form, floats are always float 64, strings are str when they
-- are valid UTF-8 and bin otherwise.  Map pairs are written in a fixed order
-- (integers, then floats, then booleans, then strings, each sorted), so the
-- encoding of a table is deterministic; the page allows any order.
--
-- Decoding accepts float 32, turns a uint 64 above 2^63-1 into a float, drops
-- a pair whose value is nil and leaves a hole for a nil array element; it
-- rejects ext types, 0xC1, nil/NaN/array/map keys, trailing or missing bytes
-- and nesting deeper than 64.
local M = {}

local spack, sunpack, sbyte, schar = string.pack, string.unpack, string.byte, string.char
local mtype, utf8len = math.type, utf8.len
local concat, sort = table.concat, table.sort

M.MAX_DEPTH = 64

-- ---- encoding -------------------------------------------------------------

local function fail(msg)
  error("caskdb.msgpack: " .. msg, 0)
end

local function encode_int(n, out)
  if n >= 0 then
    if n < 128 then
      out[#out + 1] = schar(n)
    elseif n < 0x100 then
      out[#out + 1] = spack("<B B", 0xCC, n)
    elseif n < 0x10000 then
      out[#out + 1] = spack(">B I2", 0xCD, n)
    elseif n < 0x100000000 then
      out[#out + 1] = spack(">B I4", 0xCE, n)
    else
      out[#out + 1] = spack(">B i8", 0xCF, n)
    end
  elseif n >= -32 then
    out[#out + 1] = schar(n & 0xFF)
  elseif n >= -0x80 then
    out[#out + 1] = spack(">B i1", 0xD0, n)
  elseif n >= -0x8000 then
    out[#out + 1] = spack(">B i2", 0xD1, n)
  elseif n >= -0x80000000 then
    out[#out + 1] = spack(">B i4", 0xD2, n)
  else
    out[#out + 1] = spack(">B i8", 0xD3, n)
  end
end

local function encode_string(s, out)
  local n = #s
  if utf8len(s) then
    if n < 32 then
      out[#out + 1] = schar(0xA0 + n)
    elseif n < 0x100 then
      out[#out + 1] = spack(">B B", 0xD9, n)
    elseif n < 0x10000 then
      out[#out + 1] = spack(">B I2", 0xDA, n)
    else
      out[#out + 1] = spack(">B I4", 0xDB, n)
    end
  else
    if n < 0x100 then
      out[#out + 1] = spack(">B B", 0xC4, n)
    elseif n < 0x10000 then
      out[#out + 1] = spack(">B I2", 0xC5, n)
    else
      out[#out + 1] = spack(">B I4", 0xC6, n)
    end
  end
  out[#out + 1] = s
end

local function head(out, n, fix, b16, b32)
  if n < 16 then
    out[#out + 1] = schar(fix + n)
  elseif n < 0x10000 then
    out[#out + 1] = spack(">B I2", b16, n)
  else
    out[#out + 1] = spack(">B I4", b32, n)
  end
end

-- Order of map keys: integers, floats, booleans (false first), strings.
local rank = { integer = 1, float = 2, boolean = 3, string = 4 }
local function key_less(a, b)
  local ta = mtype(a) or type(a)
  local tb = mtype(b) or type(b)
  if ta ~= tb then
    return rank[ta] < rank[tb]
  end
  if ta == "boolean" then
    return (not a) and b
  end
  return a < b
end

local encode_value

local function encode_table(t, out, depth, seen)
  if depth > M.MAX_DEPTH then
    fail("tables nested deeper than " .. M.MAX_DEPTH)
  end
  if seen[t] then
    fail("a table with a cycle")
  end
  seen[t] = true
  local n, count, keys = #t, 0, {}
  for k in next, t do
    count = count + 1
    local tk = mtype(k) or type(k)
    if not rank[tk] then
      fail("a table key of type " .. type(k))
    end
    if tk == "float" and k ~= k then
      fail("a NaN table key")
    end
    keys[count] = k
  end
  local is_array = n >= 1 and count == n
  if is_array then
    for i = 1, n do
      if t[i] == nil then
        is_array = false
        break
      end
    end
  end
  if is_array then
    head(out, n, 0x90, 0xDC, 0xDD)
    for i = 1, n do
      encode_value(t[i], out, depth + 1, seen)
    end
  else
    sort(keys, key_less)
    head(out, count, 0x80, 0xDE, 0xDF)
    for i = 1, count do
      local k = keys[i]
      encode_value(k, out, depth + 1, seen)
      encode_value(t[k], out, depth + 1, seen)
    end
  end
  seen[t] = nil
end

function encode_value(v, out, depth, seen)
  local tv = type(v)
  if tv == "string" then
    encode_string(v, out)
  elseif tv == "number" then
    if mtype(v) == "integer" then
      encode_int(v, out)
    else
      out[#out + 1] = spack(">B d", 0xCB, v)
    end
  elseif tv == "boolean" then
    out[#out + 1] = v and "\xC3" or "\xC2"
  elseif tv == "table" then
    encode_table(v, out, depth, seen)
  else
    fail("a value of type " .. tv .. " cannot be stored")
  end
end

-- The MessagePack bytes of v (a string, number, boolean or table).
function M.encode(v)
  local out = {}
  encode_value(v, out, 1, {})
  return concat(out)
end

-- ---- decoding -------------------------------------------------------------

-- Each decoder takes (s, pos, depth) and returns (value, nextpos); it raises
-- a plain string on bad input, caught by M.decode.
local decode_at

local function need(s, pos, n)
  if pos + n - 1 > #s then
    error("missing bytes", 0)
  end
end

local function read_str(s, pos, n)
  need(s, pos, n)
  return s:sub(pos, pos + n - 1), pos + n
end

local function read_array(s, pos, n, depth)
  if depth > M.MAX_DEPTH then
    error("nested deeper than " .. M.MAX_DEPTH, 0)
  end
  local t = {}
  for i = 1, n do
    t[i], pos = decode_at(s, pos, depth + 1)
  end
  return t, pos
end

local function read_map(s, pos, n, depth)
  if depth > M.MAX_DEPTH then
    error("nested deeper than " .. M.MAX_DEPTH, 0)
  end
  local t = {}
  for _ = 1, n do
    local k, v
    local b = sbyte(s, pos)
    if b and ((b >= 0x80 and b <= 0x9F) or (b >= 0xDC and b <= 0xDF)) then
      error("a map key that is an array or a map", 0)
    end
    k, pos = decode_at(s, pos, depth + 1)
    if k == nil then
      error("a nil map key", 0)
    elseif k ~= k then
      error("a NaN map key", 0)
    end
    v, pos = decode_at(s, pos, depth + 1)
    t[k] = v
  end
  return t, pos
end

function decode_at(s, pos, depth)
  local b = sbyte(s, pos)
  if b == nil then
    error("missing bytes", 0)
  end
  pos = pos + 1
  if b < 0x80 then
    return b, pos
  elseif b >= 0xE0 then
    return b - 0x100, pos
  elseif b <= 0x8F then
    return read_map(s, pos, b - 0x80, depth)
  elseif b <= 0x9F then
    return read_array(s, pos, b - 0x90, depth)
  elseif b <= 0xBF then
    return read_str(s, pos, b - 0xA0)
  elseif b == 0xC0 then
    return nil, pos
  elseif b == 0xC2 then
    return false, pos
  elseif b == 0xC3 then
    return true, pos
  elseif b == 0xC4 or b == 0xD9 then
    need(s, pos, 1)
    return read_str(s, pos + 1, sbyte(s, pos))
  elseif b == 0xC5 or b == 0xDA then
    need(s, pos, 2)
    return read_str(s, pos + 2, (sunpack(">I2", s, pos)))
  elseif b == 0xC6 or b == 0xDB then
    need(s, pos, 4)
    return read_str(s, pos + 4, (sunpack(">I4", s, pos)))
  elseif b == 0xCA then
    need(s, pos, 4)
    return sunpack(">f", s, pos)
  elseif b == 0xCB then
    need(s, pos, 8)
    return sunpack(">d", s, pos)
  elseif b >= 0xCC and b <= 0xCF then
    local size = 1 << (b - 0xCC)
    need(s, pos, size)
    if size == 8 then
      local v = sunpack(">i8", s, pos)
      if v < 0 then -- above 2^63 - 1: a float, as the binding does
        local hi, lo = sunpack(">I4 I4", s, pos)
        v = hi * 4294967296.0 + lo
      end
      return v, pos + 8
    end
    return sunpack(">I" .. size, s, pos)
  elseif b >= 0xD0 and b <= 0xD3 then
    local size = 1 << (b - 0xD0)
    need(s, pos, size)
    return sunpack(">i" .. size, s, pos)
  elseif b == 0xDC then
    need(s, pos, 2)
    return read_array(s, pos + 2, (sunpack(">I2", s, pos)), depth)
  elseif b == 0xDD then
    need(s, pos, 4)
    return read_array(s, pos + 4, (sunpack(">I4", s, pos)), depth)
  elseif b == 0xDE then
    need(s, pos, 2)
    return read_map(s, pos + 2, (sunpack(">I2", s, pos)), depth)
  elseif b == 0xDF then
    need(s, pos, 4)
    return read_map(s, pos + 4, (sunpack(">I4", s, pos)), depth)
  end
  error(string.format("unsupported type byte 0x%02X", b), 0)
end

-- The value of the one MessagePack object in s; or nil, message.
function M.decode(s)
  local ok, v, pos = pcall(decode_at, s, 1, 1)
  if not ok then
    return nil, "corrupt MessagePack data: " .. tostring(v)
  end
  if pos ~= #s + 1 then
    return nil, "corrupt MessagePack data: trailing bytes"
  end
  return v
end

return M

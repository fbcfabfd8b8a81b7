-- caskdb.json -- a small JSON encoder and decoder in pure Lua 5.4, for the
-- caskdb tool (export/import lines, --json output).
--
--   encode(v) -> text   tables with keys exactly 1..n (or marked with
--                       json.array) are arrays, others objects (keys sorted);
--                       integers stay integers, floats always show a "." or
--                       an exponent so they read back as floats; NaN and
--                       infinities raise.  Strings must be valid UTF-8.
--   decode(text) -> value | nil, message   integers without "." or exponent
--                       come back as Lua integers (exact for 64 bits), JSON
--                       null as json.null.
local M = {}

local sformat, sbyte, schar, concat = string.format, string.byte, string.char, table.concat
local mtype = math.type

M.null = setmetatable({}, { __tostring = function() return "null" end })
local array_mt = { __name = "json.array" }
function M.array(t) return setmetatable(t or {}, array_mt) end

local escapes = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }

local function encode_string(s)
  if not utf8.len(s) then
    error("caskdb.json: a string that is not valid UTF-8", 0)
  end
  return '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or sformat("\\u%04x", sbyte(c))
  end) .. '"'
end

local function encode(v, out)
  local tv = type(v)
  if v == nil or v == M.null then
    out[#out + 1] = "null"
  elseif tv == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif tv == "number" then
    if mtype(v) == "integer" then
      out[#out + 1] = sformat("%d", v)
    elseif v ~= v or v == math.huge or v == -math.huge then
      error("caskdb.json: NaN or infinity cannot be written", 0)
    else
      local s = sformat("%.17g", v)
      if not s:find("[%.eEn]") then s = s .. ".0" end
      out[#out + 1] = s
    end
  elseif tv == "string" then
    out[#out + 1] = encode_string(v)
  elseif tv == "table" then
    local n = #v
    local count = 0
    for _ in pairs(v) do count = count + 1 end
    if getmetatable(v) == array_mt or (n > 0 and count == n) then
      out[#out + 1] = "["
      for i = 1, n do
        if i > 1 then out[#out + 1] = "," end
        encode(v[i], out)
      end
      out[#out + 1] = "]"
    else
      local keys = {}
      for k in pairs(v) do
        if type(k) ~= "string" then
          error("caskdb.json: an object key that is not a string", 0)
        end
        keys[#keys + 1] = k
      end
      table.sort(keys)
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        out[#out + 1] = encode_string(k)
        out[#out + 1] = ":"
        encode(v[k], out)
      end
      out[#out + 1] = "}"
    end
  else
    error("caskdb.json: a " .. tv .. " cannot be written", 0)
  end
end

function M.encode(v)
  local out = {}
  encode(v, out)
  return concat(out)
end

-- ---- decoding ---------------------------------------------------------------

local decode_value

local function skip(s, i)
  return s:find("[^ \t\r\n]", i) or #s + 1
end

local function fail(i, what)
  error(sformat("caskdb.json: %s at character %d", what, i), 0)
end

local function decode_string(s, i) -- s:sub(i, i) == '"'
  local out, j = {}, i + 1
  while true do
    local k = s:find('["\\%c]', j)
    if not k then fail(i, "unterminated string") end
    out[#out + 1] = s:sub(j, k - 1)
    local c = s:sub(k, k)
    if c == '"' then
      local str = concat(out)
      if not utf8.len(str) then fail(i, "invalid UTF-8 in a string") end
      return str, k + 1
    elseif c == "\\" then
      local e = s:sub(k + 1, k + 1)
      local simple = ({ ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f",
        n = "\n", r = "\r", t = "\t" })[e]
      if simple then
        out[#out + 1] = simple
        j = k + 2
      elseif e == "u" then
        local hex = s:match("^%x%x%x%x", k + 2)
        if not hex then fail(k, "bad \\u escape") end
        local cp = tonumber(hex, 16)
        j = k + 6
        if cp >= 0xD800 and cp <= 0xDBFF then
          local lo = s:match("^\\u(%x%x%x%x)", j)
          lo = lo and tonumber(lo, 16)
          if not lo or lo < 0xDC00 or lo > 0xDFFF then fail(k, "lone surrogate") end
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
          j = j + 6
        elseif cp >= 0xDC00 and cp <= 0xDFFF then
          fail(k, "lone surrogate")
        end
        out[#out + 1] = utf8.char(cp)
      else
        fail(k, "bad escape")
      end
    else
      fail(k, "control character in a string")
    end
  end
end

function decode_value(s, i, depth)
  if depth > 200 then fail(i, "nesting too deep") end
  i = skip(s, i)
  local c = s:sub(i, i)
  if c == "{" then
    local t = {}
    i = skip(s, i + 1)
    if s:sub(i, i) == "}" then return t, i + 1 end
    while true do
      if s:sub(i, i) ~= '"' then fail(i, "expected a string key") end
      local k
      k, i = decode_string(s, i)
      i = skip(s, i)
      if s:sub(i, i) ~= ":" then fail(i, "expected ':'") end
      t[k], i = decode_value(s, i + 1, depth + 1)
      i = skip(s, i)
      c = s:sub(i, i)
      if c == "}" then return t, i + 1 end
      if c ~= "," then fail(i, "expected ',' or '}'") end
      i = skip(s, i + 1)
    end
  elseif c == "[" then
    local t, n = M.array(), 0
    i = skip(s, i + 1)
    if s:sub(i, i) == "]" then return t, i + 1 end
    while true do
      n = n + 1
      t[n], i = decode_value(s, i, depth + 1)
      i = skip(s, i)
      c = s:sub(i, i)
      if c == "]" then return t, i + 1 end
      if c ~= "," then fail(i, "expected ',' or ']'") end
      i = i + 1
    end
  elseif c == '"' then
    return decode_string(s, i)
  elseif s:find("^true", i) then
    return true, i + 4
  elseif s:find("^false", i) then
    return false, i + 5
  elseif s:find("^null", i) then
    return M.null, i + 4
  end
  local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", i)
  if not num or num == "" or num == "-" then fail(i, "unexpected character") end
  local v
  if num:find("[%.eE]") then
    v = tonumber(num)
  else
    v = math.tointeger(tonumber(num))
    if v == nil or (num:find("^-") and v > 0) or (not num:find("^-") and v < 0) then
      v = tonumber(num .. ".0") -- beyond 64 bits: a float
    end
  end
  if v == nil then fail(i, "bad number") end
  return v, i + #num
end

-- ---- base64 (RFC 4648, with padding) ---------------------------------------

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local B64INV = {}
for i = 1, 64 do B64INV[B64:byte(i)] = i - 1 end

function M.b64encode(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = sbyte(s, i, i + 2)
    local n = (a << 16) | ((b or 0) << 8) | (c or 0)
    out[#out + 1] = schar(B64:byte((n >> 18) + 1), B64:byte(((n >> 12) & 63) + 1),
      b and B64:byte(((n >> 6) & 63) + 1) or 61, c and B64:byte((n & 63) + 1) or 61)
  end
  return concat(out)
end

-- The bytes of base64 text; nil if it is not valid base64.
function M.b64decode(t)
  if #t % 4 ~= 0 or t:find("[^%w%+/=]") or t:find("=[^=]") or t:find("===") then
    return nil
  end
  local out = {}
  for i = 1, #t, 4 do
    local a, b, c, d = sbyte(t, i, i + 3)
    local n = (B64INV[a] << 18) | (B64INV[b] << 12) | ((B64INV[c] or 0) << 6) | (B64INV[d] or 0)
    if c == 61 then
      out[#out + 1] = schar(n >> 16)
    elseif d == 61 then
      out[#out + 1] = schar(n >> 16, (n >> 8) & 255)
    else
      out[#out + 1] = schar(n >> 16, (n >> 8) & 255, n & 255)
    end
  end
  return concat(out)
end

function M.decode(s)
  local ok, v, i = pcall(decode_value, s, 1, 0)
  if not ok then return nil, v end
  if skip(s, i) <= #s then
    return nil, sformat("caskdb.json: trailing characters at %d", skip(s, i))
  end
  return v
end

return M

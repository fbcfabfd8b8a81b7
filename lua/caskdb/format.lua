-- caskdb.format -- the CaskDB on-disk format, version 1, in pure Lua 5.4.
--
-- Written from docs/FORMAT.md, and checked against the C engine by the
-- specs (spec/20-*..22-*): a database the engine wrote reads here record for
-- record and key for key, and files written here open in the engine.
-- No C: string.pack/string.unpack for the bytes, a table-driven CRC-32C,
-- MessagePack in caskdb.msgpack.
--
-- Offsets in this API are 0-based byte offsets into a file, as on the page.
-- Keys are Lua strings (byte keys) and Lua integers (integer keys): the two
-- kinds never meet in a Lua table, as they never do in the engine.
--
-- The pieces, bottom up:
--   crc32c(s [, i, j])                    CRC-32C of s:sub(i, j)
--   data_name(id, part), hint_name(id, part), parse_name(name)
--   encode_file_header(h), decode_file_header(s)
--   encode_record(r), read_record(s, off) ("whole" / "short" / "bad")
--   encode_value(v), decode_value(tag, bytes)
--   encode_hint(...), read_hint(hint_bytes, id, part, data_size)
--   canonical_key(key_kind, key)  a string in the engine's key order
--   scan_data(s, opts)   one data file with the recovery rules of section 8
--   read_dir(path, opts) the key directory the engine would rebuild
--   write_data_file(dir, id, part, records), write_hint_file(dir, id, part)
local M = {}

local msgpack = require "caskdb.msgpack"

local spack, sunpack, sbyte, ssub, sformat, srep =
  string.pack, string.unpack, string.byte, string.sub, string.format, string.rep
local mtype, ult = math.type, math.ult
local concat = table.concat

M.VERSION = 1
M.MAGIC = "CASKDB\r\n"
M.FILE_HEADER_SIZE = 24
M.RECORD_HEADER_SIZE = 36
M.HINT_HEADER_SIZE = 36
M.MAX_KEY_SIZE = 65536
M.MAX_VALUE_SIZE = 1073741824
M.KIND_DATA, M.KIND_HINT = 1, 2

M.PUT, M.DELETE, M.BATCH_PUT, M.BATCH_DELETE, M.BATCH_END = 1, 2, 3, 4, 5
M.KEY_BYTES, M.KEY_INT, M.KEY_LIST_ELEM = 0, 1, 2
M.HINT_PUT, M.HINT_DELETE, M.HINT_END = 1, 2, 3

M.TYPE_STRING, M.TYPE_INTEGER, M.TYPE_FLOAT, M.TYPE_BOOLEAN, M.TYPE_TABLE =
  0, 1, 2, 3, 4

M.record_type_names = {
  [1] = "put", [2] = "delete", [3] = "batch put", [4] = "batch delete",
  [5] = "batch end",
}
M.value_type_names = {
  [0] = "string", [1] = "integer", [2] = "float", [3] = "boolean", [4] = "table",
}

local HDR, RHDR = M.FILE_HEADER_SIZE, M.RECORD_HEADER_SIZE

-- ---- CRC-32C (section 3) ---------------------------------------------------

local crc_table = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do
    if c & 1 == 1 then
      c = (c >> 1) ~ 0x82F63B78
    else
      c = c >> 1
    end
  end
  crc_table[i] = c
end

-- CRC-32C of s:sub(i, j) (default: all of s).  `crc`, if given, continues
-- an earlier result.
function M.crc32c(s, i, j, crc)
  i, j = i or 1, j or #s
  local T = crc_table
  local c = (crc or 0) ~ 0xFFFFFFFF
  local k = i
  while k + 7 <= j do
    local a, b, d, e, f, g, h, l = sbyte(s, k, k + 7)
    c = T[(c ~ a) & 0xFF] ~ (c >> 8)
    c = T[(c ~ b) & 0xFF] ~ (c >> 8)
    c = T[(c ~ d) & 0xFF] ~ (c >> 8)
    c = T[(c ~ e) & 0xFF] ~ (c >> 8)
    c = T[(c ~ f) & 0xFF] ~ (c >> 8)
    c = T[(c ~ g) & 0xFF] ~ (c >> 8)
    c = T[(c ~ h) & 0xFF] ~ (c >> 8)
    c = T[(c ~ l) & 0xFF] ~ (c >> 8)
    k = k + 8
  end
  for p = k, j do
    c = T[(c ~ sbyte(s, p)) & 0xFF] ~ (c >> 8)
  end
  return c ~ 0xFFFFFFFF
end
local crc32c = M.crc32c

-- ---- names (section 1) -----------------------------------------------------

local function name_of(id, part, suffix)
  if part == nil or part == 0 then
    return sformat("%010d%s", id, suffix)
  end
  return sformat("%010d_%010d%s", id, part, suffix)
end
function M.data_name(id, part) return name_of(id, part, ".cask") end
function M.hint_name(id, part) return name_of(id, part, ".hint") end

-- "data" or "hint", id, part for a name CaskDB reads; nil for any other.
function M.parse_name(name)
  local digits, rest = name:match("^(%d%d%d%d%d%d%d%d%d%d)(.*)$")
  if not digits then
    return nil
  end
  local id, part = tonumber(digits), 0
  if id > 0xFFFFFFFF then
    return nil
  end
  local p, tail = rest:match("^_(%d%d%d%d%d%d%d%d%d%d)(.*)$")
  if p then
    part, rest = tonumber(p), tail
    if part == 0 or part > 0xFFFFFFFF then
      return nil
    end
  end
  if rest == ".cask" then
    return "data", id, part
  elseif rest == ".hint" then
    return "hint", id, part
  end
  return nil
end

-- Whether data file a = {id, part} comes before b.
function M.file_less(a, b)
  if a.id ~= b.id then
    return a.id < b.id
  end
  return a.part < b.part
end

-- ---- file header (section 2) -----------------------------------------------

-- The 24 bytes of a file header: h = {kind = 1|2, id = n, part = 0,
-- version = 1}.
function M.encode_file_header(h)
  local body = spack("<c8 I2 B B I4 I4", M.MAGIC, h.version or M.VERSION,
    h.kind or M.KIND_DATA, 0, h.id, h.part or 0)
  return body .. spack("<I4", crc32c(body))
end

-- Decode the header at the start of s, with the checks of section 2 in
-- their order: h = {version, kind, reserved, id, part}, or nil, why, detail
-- where why is "short", "bad" or "version".
function M.decode_file_header(s)
  if #s < HDR then
    return nil, "short", "shorter than 24 bytes"
  end
  if ssub(s, 1, 8) ~= M.MAGIC then
    return nil, "bad", "bad magic"
  end
  local version, kind, reserved, id, part, crc = sunpack("<I2 B B I4 I4 I4", s, 9)
  if crc ~= crc32c(s, 1, 20) then
    return nil, "bad", "header CRC mismatch"
  end
  local h = { version = version, kind = kind, reserved = reserved, id = id, part = part }
  if version ~= M.VERSION then
    return nil, "version", h
  end
  if (kind ~= 1 and kind ~= 2) or reserved ~= 0 then
    return nil, "bad", "bad kind or reserved byte"
  end
  return h
end

-- Check the header of data file (id, part): h, or nil, why, detail.  The
-- part is checked as the engine does (FORMAT.md said "not checked").
function M.check_data_header(s, id, part)
  local h, why, detail = M.decode_file_header(s)
  if not h then
    return nil, why, detail
  end
  if h.kind ~= M.KIND_DATA then
    return nil, "bad", "not a data file (kind " .. h.kind .. ")"
  end
  if h.id ~= id or h.part ~= (part or 0) then
    return nil, "bad", sformat("header names file %d part %d", h.id, h.part)
  end
  return h
end

-- ---- keys ------------------------------------------------------------------

-- key kind and on-disk bytes of a Lua key.
function M.key_bytes(key)
  if mtype(key) == "integer" then
    return M.KEY_INT, spack("<i8", key)
  end
  assert(type(key) == "string", "key must be a string or an integer")
  return M.KEY_BYTES, key
end

-- Key order of section 6: integers first, numerically, then byte strings
-- bytewise (Lua's < on strings is bytewise in the C locale).
function M.key_less(a, b)
  local ia, ib = mtype(a) == "integer", mtype(b) == "integer"
  if ia ~= ib then
    return ia
  end
  return a < b
end

-- ---- data records (section 4) ----------------------------------------------

-- The bytes of a data record.  r = {type = 1..5 (default 1), key = string or
-- integer, value = bytes, vtype = tag, flags = u32, timestamp = ms,
-- expiry = ms (0 never)}; a batch end is {type = 5, count = n}.
function M.encode_record(r)
  local rtype = r.type or M.PUT
  local kind, kbytes, value = M.KEY_BYTES, "", r.value or ""
  local expiry, vtype, flags = r.expiry or 0, r.vtype or 0, r.flags or 0
  if rtype == M.BATCH_END then
    value = spack("<I4", r.count)
    expiry, vtype, flags = 0, 0, 0
  else
    kind, kbytes = M.key_bytes(r.key)
    if rtype == M.DELETE or rtype == M.BATCH_DELETE then
      value, expiry, vtype, flags = "", 0, 0, 0
    end
  end
  local body = spack("<I8 I8 B B B B I4 I4 I4", r.timestamp or 0, expiry,
    rtype, kind, vtype, 0, flags, #kbytes, #value) .. kbytes .. value
  return spack("<I4", crc32c(body)) .. body
end

-- Steps 1 and 2 of "Validity of one record": the header at off, or nil,
-- "short" | "bad", reason.
function M.decode_record_header(s, off)
  local size = #s
  if size - off < RHDR then
    return nil, "short", "fewer than 36 bytes left"
  end
  local crc, ts, expiry, rtype, kind, vtype, reserved, flags, klen, vlen =
    sunpack("<I4 I8 I8 B B B B I4 I4 I4", s, off + 1)
  local why
  if reserved ~= 0 then
    why = "reserved byte is not 0"
  elseif rtype < 1 or rtype > 5 then
    why = "unknown record type " .. rtype
  elseif (rtype == 2 or rtype == 4) and vlen ~= 0 then
    why = "a delete with a value"
  elseif rtype == 5 then
    if klen ~= 0 or vlen ~= 4 or kind ~= 0 then
      why = "a batch end that is not klen 0, vlen 4, key kind 0"
    end
  elseif kind > 2 then
    why = "unknown key kind " .. kind
  elseif kind == 1 and klen ~= 8 then
    why = "an integer key that is not 8 bytes"
  elseif kind == 2 and (klen < 9 or klen > M.MAX_KEY_SIZE + 9) then
    why = "a list element key of a bad length"
  elseif kind == 0 and klen > M.MAX_KEY_SIZE then
    why = "key longer than 65536 bytes"
  end
  -- The page asks readers to reject vlen > 1 GiB for integer keys too.
  if not why and rtype ~= 5 and vlen > M.MAX_VALUE_SIZE then
    why = "value longer than 1 GiB"
  end
  if why then
    return nil, "bad", why
  end
  return {
    offset = off, crc = crc, timestamp = ts, expiry = expiry, type = rtype,
    key_kind = kind, vtype = vtype, flags = flags, klen = klen, vlen = vlen,
    size = RHDR + klen + vlen,
  }
end

-- Classify the record at off (steps 1..5): "whole", rec; or "short" | "bad",
-- reason, header (the decoded header when it was valid).  rec adds key (a
-- Lua string or integer), value (bytes) and, for a batch end, count.
function M.read_record(s, off)
  local r, why, reason = M.decode_record_header(s, off)
  if not r then
    return why, reason
  end
  if r.size > #s - off then
    return "short", "the file ends inside the record", r
  end
  if crc32c(s, off + 5, off + r.size) ~= r.crc then
    return "bad", "CRC mismatch", r
  end
  local kstart = off + RHDR + 1
  if r.type == M.BATCH_END then
    r.count = sunpack("<I4", s, kstart)
  else
    r.key_bytes = ssub(s, kstart, kstart + r.klen - 1)
    if r.key_kind == M.KEY_INT then
      r.key = sunpack("<i8", s, kstart)
    else
      r.key = r.key_bytes -- byte keys, and list element keys (key_kind 2)
    end
    r.value = ssub(s, kstart + r.klen, kstart + r.klen + r.vlen - 1)
  end
  return "whole", r
end

-- ---- values (section 9) ----------------------------------------------------

-- The bytes and tag the Lua binding stores for a Lua value.
function M.encode_value(v)
  local tv = type(v)
  if tv == "string" then
    return v, M.TYPE_STRING
  elseif tv == "number" then
    if mtype(v) == "integer" then
      return spack("<i8", v), M.TYPE_INTEGER
    end
    return spack("<d", v), M.TYPE_FLOAT
  elseif tv == "boolean" then
    return v and "\1" or "\0", M.TYPE_BOOLEAN
  elseif tv == "table" then
    return msgpack.encode(v), M.TYPE_TABLE
  end
  error("caskdb.format: a value of type " .. tv .. " cannot be stored", 2)
end

-- The Lua value of bytes stored with tag; nil, message if they do not fit
-- the tag.  Tags 5..255 give the raw bytes.
function M.decode_value(tag, bytes)
  if tag == M.TYPE_STRING or tag > M.TYPE_TABLE then
    return bytes
  elseif tag == M.TYPE_INTEGER or tag == M.TYPE_FLOAT then
    if #bytes ~= 8 then
      return nil, "corrupt value: " .. #bytes .. " bytes for a number"
    end
    return (sunpack(tag == M.TYPE_INTEGER and "<i8" or "<d", bytes))
  elseif tag == M.TYPE_BOOLEAN then
    if bytes == "\0" then
      return false
    elseif bytes == "\1" then
      return true
    end
    return nil, "corrupt value: not a boolean"
  end
  local b = sbyte(bytes, 1)
  if not b or not ((b >= 0x80 and b <= 0x9F) or (b >= 0xDC and b <= 0xDF)) then
    return nil, "corrupt value: not a MessagePack array or map"
  end
  local v, err = msgpack.decode(bytes)
  if v == nil then
    return nil, "corrupt value: " .. err
  end
  return v
end

-- The canonical form of a key (docs/FORMAT.md section 6, key.h): compared
-- as strings (byte order, a shorter prefix first), canonical forms give the
-- engine's key order.  Integers: "\0" and the value with its sign bit
-- flipped, 8 bytes big-endian; byte keys: "\1" and the bytes; list
-- elements (key kind 2): "\2" and the bytes.
function M.canonical_key(key_kind, key)
  if key_kind == M.KEY_INT then
    return "\0" .. spack(">i8", key ~ math.mininteger)
  end
  return (key_kind == M.KEY_LIST_ELEM and "\2" or "\1") .. key
end

-- ---- hint files (hint.h; missing from FORMAT.md when this was written) -----

-- The bytes of one hint record.
function M.encode_hint(htype, key_kind, kbytes, ts, expiry, offset, size, vtype)
  local body = spack("<I8 I8 I4 I4 B B B B I4", ts or 0, expiry or 0, offset,
    size, htype, key_kind or 0, vtype or 0, 0, #kbytes) .. kbytes
  return spack("<I4", crc32c(body)) .. body
end

-- The hint records of hint file bytes hs for data file (id, part) of
-- data_size bytes, as a list of {type = "put"|"delete", key, key_kind,
-- timestamp, expiry, offset, size, hint_offset}; or nil, reason, offset when
-- the hint is not sound (the engine then reads the data file instead).
function M.read_hint(hs, id, part, data_size)
  local h, why, detail = M.decode_file_header(hs)
  if not h then
    return nil, "bad hint header: " .. (why == "version" and "unknown version" or detail), 0
  end
  if h.kind ~= M.KIND_HINT or h.id ~= id or h.part ~= (part or 0) then
    return nil, "hint header does not name this data file", 0
  end
  local out, off, size = {}, HDR, #hs
  while true do
    if size - off < M.HINT_HEADER_SIZE then
      return nil, "no end record", off
    end
    local crc, ts, expiry, roff, rsize, htype, kind, vtype, reserved, klen =
      sunpack("<I4 I8 I8 I4 I4 B B B B I4", hs, off + 1)
    if reserved ~= 0 or klen > M.MAX_KEY_SIZE + 9 or kind > 2
      or (kind == 0 and klen > M.MAX_KEY_SIZE) or (kind == 1 and klen ~= 8)
      or (kind == 2 and klen < 9) then
      return nil, "bad hint record", off
    end
    local total = M.HINT_HEADER_SIZE + klen
    if size - off < total then
      return nil, "hint record cut short", off
    end
    if crc ~= crc32c(hs, off + 5, off + total) then
      return nil, "hint record CRC mismatch", off
    end
    if htype == M.HINT_END then
      if klen ~= 0 or roff ~= data_size then
        return nil, "stale hint: it describes a data file of " .. roff .. " bytes", off
      end
      if rsize ~= #out then
        return nil, "hint end count mismatch", off
      end
      if off + total ~= size then
        return nil, "bytes after the hint end record", off + total
      end
      return out
    end
    if htype ~= M.HINT_PUT and htype ~= M.HINT_DELETE then
      return nil, "unknown hint type " .. htype, off
    end
    if roff < HDR or roff + rsize > data_size or rsize < RHDR + klen then
      return nil, "hint names a record outside the data file", off
    end
    local key
    if kind == 1 then
      key = sunpack("<i8", hs, off + M.HINT_HEADER_SIZE + 1)
    else
      key = ssub(hs, off + M.HINT_HEADER_SIZE + 1, off + total)
    end
    -- list element keys (kind 2) are given as their raw bytes
    out[#out + 1] = {
      type = htype == M.HINT_PUT and "put" or "delete", key = key, key_kind = kind,
      vtype = vtype, timestamp = ts, expiry = expiry, offset = roff, size = rsize, hint_offset = off,
    }
    off = off + total
  end
end

-- ---- one data file: batches and recovery (sections 5 and 8) -----------------

local function all_zero(s, off)
  return not s:find("[^%z]", off + 1)
end

-- The first offset p > off where a whole record starts (header and CRC; batch
-- rules not considered), or #s.
local function resync(s, off)
  local size = #s
  for p = off + 1, size - RHDR do
    if M.read_record(s, p) == "whole" then
      return p
    end
  end
  return size
end
M.resync = resync

-- Read the records of data file bytes s (header already checked), applying
-- the rules of sections 5 and 8.  opts: name (for messages), newest (bool),
-- salvage (bool), apply = function(rec) called for every committed record in
-- order (batch records when their end is read; batch ends are not given),
-- record = function(rec) called for every whole record read, committed or
-- not.  Returns a result table:
--   status          "ok" | "torn" | "corrupt" (corrupt: stopped, not salvage)
--   end_offset      where the file ends for the reader (the cut, if torn)
--   truncated       bytes a writer would cut off (torn tail)
--   corrupt_records records skipped (salvage) or 1 for the failing one
--   problems        { {offset =, what = "torn" | "corrupt", reason =} ... }
--   error           "corrupt record in NAME at offset OFF" (or "unfinished
--                   batch in NAME at offset START") when corrupt
function M.scan_data(s, opts)
  opts = opts or {}
  local name, newest, salvage = opts.name or "?", opts.newest, opts.salvage
  local apply, record = opts.apply, opts.record
  local size = #s
  local res = { status = "ok", end_offset = size, truncated = 0,
    corrupt_records = 0, problems = {} }
  local off, pending, pstart = HDR, {}, nil

  local function cut_at(at, reason)
    res.status, res.end_offset, res.truncated = "torn", at, size - at
    res.problems[#res.problems + 1] = { offset = at, what = "torn", reason = reason }
  end
  -- A corruption at `at`; true if reading stops here (no salvage).
  local function corrupt(at, reason, message)
    res.corrupt_records = res.corrupt_records + 1
    res.problems[#res.problems + 1] = { offset = at, what = "corrupt", reason = reason }
    pending, pstart = {}, nil
    if not salvage then
      res.status, res.end_offset = "corrupt", at
      res.error = message or sformat("corrupt record in %s at offset %d", name, at)
      return true
    end
  end

  while off < size do
    local verdict, r = M.read_record(s, off)
    local mismatch
    if verdict == "whole" then
      if record then record(r) end
      if r.type == M.BATCH_PUT or r.type == M.BATCH_DELETE then
        if #pending == 0 then pstart = off end
        pending[#pending + 1] = r
      elseif r.type == M.BATCH_END then
        if #pending == 0 then
          mismatch = "a batch end with no open batch"
        elseif r.count ~= #pending then
          mismatch = sformat("a batch end counting %d records after %d", r.count, #pending)
        else
          if apply then
            for i = 1, #pending do apply(pending[i]) end
          end
          pending, pstart = {}, nil
        end
      else
        if #pending > 0 then -- an unfinished batch: never a torn tail
          if corrupt(pstart, "unfinished batch",
              sformat("unfinished batch in %s at offset %d", name, pstart)) then
            return res
          end
        end
        if apply then apply(r) end
      end
      if not mismatch then
        off = off + r.size
        goto continue
      end
    end
    -- Short, bad, or a batch end that does not match: torn if this is the
    -- newest file and no whole record starts anywhere after off.
    do
      local p = (newest or salvage) and resync(s, off)
      if newest and p == size then
        cut_at(pstart or off, mismatch or r or verdict)
        return res
      end
      if corrupt(off, mismatch or r or verdict) then
        return res
      end
      off = p
    end
    ::continue::
  end
  if #pending > 0 then
    if newest then
      cut_at(pstart, "the file ends inside a batch")
    else
      corrupt(size, "an unterminated batch")
    end
  end
  return res
end

-- ---- files and directories -------------------------------------------------

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then
    return nil, err
  end
  local s = f:read("a")
  f:close()
  return s
end
M.read_file = read_file

local function write_file(path, bytes)
  local f = assert(io.open(path, "wb"))
  assert(f:write(bytes))
  assert(f:close())
end

-- The names in directory `path`: lfs if it is there, else `ls`.
local has_lfs, lfs = pcall(require, "lfs")
function M.list_dir(path)
  local names = {}
  if has_lfs then
    local ok, iter, state = pcall(lfs.dir, path)
    if not ok then
      return nil, tostring(iter)
    end
    for name in iter, state do
      if name ~= "." and name ~= ".." then names[#names + 1] = name end
    end
  else
    local p = io.popen("ls -A -- '" .. path:gsub("'", "'\\''") .. "' 2>/dev/null")
    for line in p:lines() do names[#names + 1] = line end
    if not p:close() then
      return nil, "cannot list " .. path
    end
  end
  table.sort(names)
  return names
end

-- The data files and hint files of directory `path`: files (a list of
-- {name, id, part, hint = hint file name or nil} in read order), others
-- (names CaskDB ignores), orphan hints (hint files with no data file).
function M.list_files(path)
  local names, err = M.list_dir(path)
  if not names then
    return nil, err
  end
  local files, hints, others = {}, {}, {}
  for _, name in ipairs(names) do
    local kind, id, part = M.parse_name(name)
    if kind == "data" then
      files[#files + 1] = { name = name, id = id, part = part }
    elseif kind == "hint" then
      hints[M.data_name(id, part)] = name
    else
      others[#others + 1] = name
    end
  end
  table.sort(files, M.file_less)
  local orphans = {}
  for _, f in ipairs(files) do
    f.hint = hints[f.name]
    hints[f.name] = nil
  end
  for _, h in pairs(hints) do orphans[#orphans + 1] = h end
  table.sort(orphans)
  return files, others, orphans
end

local function expired(expiry, now)
  return expiry ~= 0 and not ult(now, expiry) -- expiry <= now, unsigned
end
M.expired = expired

-- The current time in milliseconds: luasystem's clock when it is installed,
-- else os.time() (second resolution: pure Lua has no finer clock).
local has_system, system = pcall(require, "system")
function M.now_ms()
  if has_system and type(system) == "table" and system.gettime then
    return math.floor(system.gettime() * 1000)
  end
  return os.time() * 1000
end

-- Read a database directory the way the engine opens it (section 7 and 8,
-- plus hint files) and return its state:
--   keys            { [key] = entry } of the live keys
--   count           number of live keys
--   files           the data files read: {name, id, part, size, hint,
--                   hint_used, hint_error, dropped, skipped, live_bytes,
--                   records, scan (the scan_data result)}
--   truncated_bytes, corrupt_records, expired (keys hidden by expiry)
-- An entry is {key, key_kind, value (decoded), bytes, vtype, flags,
-- timestamp, expiry, file, id, part, offset, size, type}; when its record
-- cannot be read back (found through a hint, then failing its checks) it has
-- error = message and no value, as the engine's get would report corrupt.
-- opts: now (ms; default the current time), hints (default true: use sound
-- hint files for every file but the newest; false: read every data file),
-- salvage (default false).  On failure: nil, message, code ("corrupt",
-- "version", "io"), as caskdb.open would return.
function M.read_dir(path, opts)
  opts = opts or {}
  local now = opts.now or M.now_ms()
  local use_hints = opts.hints ~= false
  local files, err = M.list_files(path)
  if not files then
    return nil, err, "io"
  end
  local state = { keys = {}, elements = {}, count = 0, files = files, truncated_bytes = 0,
    corrupt_records = 0, expired = 0, path = path }
  local keys, hidden = state.keys, {}
  local bytes_of = {}

  local elements = state.elements
  local function set(kind, key, entry, exp)
    if kind == M.KEY_LIST_ELEM then -- engine-internal keys: not user keys
      elements[key] = exp == nil and entry or nil
      return
    end
    if exp ~= nil then
      keys[key] = nil
      hidden[key] = exp or nil
    else
      keys[key] = entry
      hidden[key] = nil
    end
  end

  for i, f in ipairs(files) do
    local newest = i == #files
    local s, rerr = read_file(path .. "/" .. f.name)
    if not s then
      return nil, "cannot open " .. path .. "/" .. f.name .. ": " .. tostring(rerr), "io"
    end
    f.size = #s
    if newest and (#s < HDR or (#s == HDR and all_zero(s, 0))) then
      f.dropped = true
      state.truncated_bytes = state.truncated_bytes + #s
      goto next_file
    end
    do
      local h, why, detail = M.check_data_header(s, f.id, f.part)
      if why == "version" then
        return nil, sformat("%s has format version %d; this library reads version %d",
          f.name, detail.version, M.VERSION), "version"
      elseif not h then
        f.header_error = detail
        if not opts.salvage then
          return nil, "bad file header in " .. f.name, "corrupt"
        end
        f.skipped = true
        state.corrupt_records = state.corrupt_records + 1
        goto next_file
      end
    end
    bytes_of[f.name] = s
    if use_hints and not newest and f.hint then
      local hs = read_file(path .. "/" .. f.hint)
      local hints, herr = nil, "cannot read"
      if hs then
        hints, herr = M.read_hint(hs, f.id, f.part, #s)
      end
      if hints then
        f.hint_used = true
        for _, h in ipairs(hints) do
          if h.type == "delete" then
            set(h.key_kind, h.key, nil, false)
          elseif expired(h.expiry, now) then
            set(h.key_kind, h.key, nil, true)
          else
            set(h.key_kind, h.key, { key = h.key, vtype = h.vtype, key_kind = h.key_kind, file = f.name, id = f.id,
              part = f.part, offset = h.offset, size = h.size, expiry = h.expiry,
              timestamp = h.timestamp, from_hint = true })
          end
        end
        goto next_file
      end
      f.hint_error = herr
    end
    do
      local res = M.scan_data(s, {
        name = f.name, newest = newest, salvage = opts.salvage,
        apply = function(r)
          if r.type == M.DELETE or r.type == M.BATCH_DELETE then
            set(r.key_kind, r.key, nil, false)
          elseif expired(r.expiry, now) then
            set(r.key_kind, r.key, nil, true)
          else
            r.file, r.id, r.part = f.name, f.id, f.part
            set(r.key_kind, r.key, r)
          end
        end,
      })
      f.scan = res
      if res.status == "corrupt" then
        return nil, res.error, "corrupt"
      end
      state.truncated_bytes = state.truncated_bytes + res.truncated
      state.corrupt_records = state.corrupt_records + res.corrupt_records
    end
    ::next_file::
  end

  -- Resolve the entries: values of records found through hints are read
  -- from their data file and checked as the engine's get does.
  for key, e in pairs(keys) do
    state.count = state.count + 1
    if e.from_hint then
      local s = bytes_of[e.file]
      local verdict, r = M.read_record(s, e.offset)
      local kind = M.key_bytes(key)
      if verdict ~= "whole" or r.size ~= e.size or r.key_kind ~= kind or r.key ~= key
        or (r.type ~= M.PUT and r.type ~= M.BATCH_PUT) then
        e.error = sformat("corrupt record in %s at offset %d", e.file, e.offset)
      else
        e.type, e.vtype, e.flags, e.value = r.type, r.vtype, r.flags, r.value
      end
    end
    e.bytes = e.value
    if not e.error then
      local v, verr = M.decode_value(e.vtype, e.bytes)
      if v == nil then
        e.error = verr
      end
      e.value = v
    else
      e.value = nil
    end
  end
  for _ in pairs(hidden) do state.expired = state.expired + 1 end

  for _, f in ipairs(files) do
    f.live_bytes = 0
  end
  local by_name = {}
  for _, f in ipairs(files) do by_name[f.name] = f end
  for _, map in ipairs { keys, elements } do
    for _, e in pairs(map) do
      local f = by_name[e.file]
      f.live_bytes = f.live_bytes + e.size
    end
  end
  for _, f in ipairs(files) do
    f.dead_bytes = (f.dropped or f.skipped) and f.size
      or (f.size - HDR - f.live_bytes)
  end
  return state
end

-- The live keys of a read_dir state, in key order.
function M.sorted_keys(state)
  local out = {}
  for k in pairs(state.keys) do out[#out + 1] = k end
  table.sort(out, M.key_less)
  return out
end

-- ---- writing ----------------------------------------------------------------

-- The bytes of data file (id, part) holding `records` (encode_record's
-- tables, in order).
function M.encode_data_file(id, part, records)
  local out = { M.encode_file_header { kind = M.KIND_DATA, id = id, part = part } }
  for i, r in ipairs(records) do
    out[i + 1] = M.encode_record(r)
  end
  return concat(out)
end

-- Write data file (id, part) into directory dir; returns its name.
function M.write_data_file(dir, id, part, records)
  local name = M.data_name(id, part)
  write_file(dir .. "/" .. name, M.encode_data_file(id, part, records))
  return name
end

-- The records of a batch: batch puts and deletes then the end record.
-- ops: { {key, value, vtype, ...} or {key, delete = true} ... }.
function M.batch(ops, timestamp)
  local out = {}
  for i, op in ipairs(ops) do
    local r = {}
    for k, v in pairs(op) do r[k] = v end
    r.type = op.delete and M.BATCH_DELETE or M.BATCH_PUT
    r.timestamp = r.timestamp or timestamp
    out[i] = r
  end
  out[#out + 1] = { type = M.BATCH_END, count = #ops, timestamp = timestamp }
  return out
end

-- The bytes of the hint of data file bytes s (a whole file with no torn
-- tail): committed records in file order, batch records at their end.
function M.encode_hint_file(s, id, part)
  local out = { M.encode_file_header { kind = M.KIND_HINT, id = id, part = part } }
  local n = 0
  local res = M.scan_data(s, { apply = function(r)
    local del = r.type == M.DELETE or r.type == M.BATCH_DELETE
    n = n + 1
    out[#out + 1] = M.encode_hint(del and M.HINT_DELETE or M.HINT_PUT, r.key_kind, r.key_bytes,
      r.timestamp, r.expiry, r.offset, r.size, del and 0 or r.vtype)
  end })
  assert(res.status == "ok", "caskdb.format: cannot hint a damaged file")
  out[#out + 1] = M.encode_hint(M.HINT_END, 0, "", 0, 0, #s, n)
  return concat(out)
end

-- Write the hint of data file (id, part) in dir; returns its name.
function M.write_hint_file(dir, id, part)
  local s = assert(read_file(dir .. "/" .. M.data_name(id, part)))
  local name = M.hint_name(id, part)
  write_file(dir .. "/" .. name, M.encode_hint_file(s, id, part))
  return name
end

-- A file of n zero bytes, for specs that need to pad: srep("\0", n).
M.zeros = function(n) return srep("\0", n) end

return M

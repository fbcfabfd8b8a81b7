-- Helpers for the format specs (spec/20..22): compare what the C engine sees
-- with what caskdb.format sees, byte surgery on files.
local helpers = require "spec.helpers"
local F = require "caskdb.format"

local M = {}

-- A deep comparison where floats compare by their bits (NaN, -0.0).
local function same(a, b)
  if math.type(a) == "float" or math.type(b) == "float" then
    return math.type(a) == math.type(b) and string.pack("<d", a) == string.pack("<d", b)
  end
  if type(a) ~= type(b) or math.type(a) ~= math.type(b) then
    return false
  end
  if type(a) ~= "table" then
    return a == b
  end
  for k, v in pairs(a) do
    if not same(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end
M.same = same

-- A readable form of a value, for failure messages.
local function show(v)
  if type(v) == "string" then
    return string.format("%q", v)
  elseif type(v) == "table" then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b)
      return tostring(a) < tostring(b)
    end)
    local out = {}
    for _, k in ipairs(keys) do out[#out + 1] = "[" .. show(k) .. "]=" .. show(v[k]) end
    return "{" .. table.concat(out, ",") .. "}"
  elseif math.type(v) == "float" then
    return string.format("%.17g(f)", v)
  end
  return tostring(v)
end
M.show = show

-- { {key, value}, ... } in key order, as the engine sees directory `path`
-- (opened read-only with opts); or nil, msg, code.
function M.engine_pairs(path, opts)
  local o = { readonly = true }
  for k, v in pairs(opts or {}) do o[k] = v end
  local db, msg, code = helpers.caskdb.open(path, o)
  if not db then
    return nil, msg, code
  end
  -- get_keys + get rather than pairs: a record that fails its checks (found
  -- through a hint) must show as an error, not stop the loop.
  local keys = db:get_keys(0)
  table.sort(keys, F.key_less)
  local out = {}
  for _, k in ipairs(keys) do
    local v, _, c = db:get(k)
    if v == nil and c then
      out[#out + 1] = { k, "ERROR" }
    elseif v ~= nil then
      out[#out + 1] = { k, v }
    end
  end
  local stats = db:stats()
  db:close()
  return out, stats
end

-- The same from caskdb.format; or nil, msg, code.
function M.format_pairs(path, opts)
  local st, msg, code = F.read_dir(path, opts)
  if not st then
    return nil, msg, code
  end
  local out = {}
  for _, k in ipairs(F.sorted_keys(st)) do
    local e = st.keys[k]
    out[#out + 1] = { k, e.error and "ERROR" or e.value }
  end
  return out, st
end

-- Assert that two pair lists are the same, key for key.
function M.assert_same_pairs(a, b, label)
  label = label or ""
  assert(#a == #b, label .. ": " .. #a .. " keys vs " .. #b)
  for i = 1, #a do
    assert(same(a[i][1], b[i][1]) and same(a[i][2], b[i][2]),
      label .. ": pair " .. i .. ": " .. show(a[i][1]) .. "=" .. show(a[i][2])
      .. " vs " .. show(b[i][1]) .. "=" .. show(b[i][2]))
  end
end

-- The engine's and the format's views of `path` must agree; `now` is the
-- engine's test clock too.  Returns the pairs.
function M.assert_agree(path, now, fopts)
  helpers.caskdb._testing.set_time(now)
  local a, stats = assert(M.engine_pairs(path))
  local o = { now = now }
  for k, v in pairs(fopts or {}) do o[k] = v end
  local b, st = assert(M.format_pairs(path, o))
  M.assert_same_pairs(a, b, path)
  assert(stats.keys == st.count, "key counts differ: " .. stats.keys .. " vs " .. st.count)
  return a, st
end

-- Every whole record of every data file of `path`, in file order:
-- { {file, offset, type, key, value (decoded or raw), vtype, expiry}, ... }.
function M.records(path)
  local files = assert(F.list_files(path))
  local out = {}
  for _, f in ipairs(files) do
    local s = assert(F.read_file(path .. "/" .. f.name))
    local off = F.FILE_HEADER_SIZE
    while off < #s do
      local verdict, r = F.read_record(s, off)
      assert(verdict == "whole", f.name .. " at " .. off .. ": " .. verdict)
      local v = r.value
      if r.type == F.PUT or r.type == F.BATCH_PUT then
        v = F.decode_value(r.vtype, r.value)
      end
      out[#out + 1] = { file = f.name, offset = off, type = r.type, key = r.key,
        value = v, vtype = r.vtype, expiry = r.expiry, count = r.count,
        timestamp = r.timestamp, flags = r.flags }
      off = off + r.size
    end
  end
  return out
end

function M.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

function M.write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

-- Copy directory src to dst (dst must not exist).
function M.copy_dir(src, dst)
  assert(os.execute("cp -r " .. helpers.quote(src) .. " " .. helpers.quote(dst)))
end

-- The names of the files in `path` (sorted).
function M.ls(path)
  return assert(F.list_dir(path))
end

-- The verdict of the engine on `path` opened read-only: "ok" with the
-- stats, or the error code with the message.
function M.engine_verdict(path, opts)
  local pairs_, stats, code = M.engine_pairs(path, opts)
  if not pairs_ then
    return code, stats, nil
  end
  return "ok", stats, pairs_
end

function M.format_verdict(path, opts)
  local pairs_, st, code = M.format_pairs(path, opts)
  if not pairs_ then
    return code, st, nil
  end
  return "ok", st, pairs_
end

return M

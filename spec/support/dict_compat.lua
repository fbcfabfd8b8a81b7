-- The ngx.shared.DICT compatibility script: one run of DICT calls, written
-- as a transcript (one line per call: "label -> results").  The same file
-- runs inside nginx (LuaJIT, Lua 5.1 syntax) against a real lua_shared_dict
-- and under Lua 5.4 against a CaskDB handle; spec/15-nginx_dict_spec.lua
-- compares the two transcripts.  So: no integer division, no table.pack,
-- no math.type, no goto.
--
-- run(d, advance) -> transcript string.  d is the dictionary; advance(s)
-- makes s seconds pass (ngx.sleep in nginx, the test clock for CaskDB).
local M = {}

local format, concat, sort, select, type, tostring, pcall, ipairs =
  string.format, table.concat, table.sort, select, type, tostring, pcall, ipairs

-- One value, with its type, so that "1" and 1 and true never look alike.
-- Numbers print with %.14g: LuaJIT has only floats, Lua 5.4 keeps integers.
local function show(v)
  local t = type(v)
  if t == "nil" then
    return "nil"
  elseif t == "number" then
    return "n:" .. format("%.14g", v)
  elseif t == "string" then
    -- Lua 5.1's %q writes a zero byte as \000 where LuaJIT and 5.2+ write
    -- \0 (unless a digit follows): one spelling for every version.
    return "s:" .. (format("%q", v):gsub("\\000(%D)", "\\0%1"))
  elseif t == "boolean" then
    return "b:" .. tostring(v)
  end
  return t -- a table, function, ...: its type only
end

-- A ttl: exact times differ (nginx's clock runs during the script), so a
-- ttl prints as its sign and its value to 0.1 s.
local function show_ttl(v)
  if type(v) ~= "number" then
    return show(v)
  elseif v < 0 then
    return "ttl:negative"
  elseif v == 0 then
    return "ttl:0"
  end
  return format("ttl:%.1f", v)
end

local function pack(...)
  return { n = select("#", ...), ... }
end

function M.run(d, advance)
  local out = {}

  local function line(label, r, first, shower)
    local parts = {}
    for i = first, r.n do
      parts[#parts + 1] = (shower or show)(r[i])
    end
    out[#out + 1] = label .. " -> " .. concat(parts, ", ")
  end

  -- call(label, method, args...): the results, or "error" if it raised
  -- (messages differ between implementations and are not compared).
  local function call(label, method, ...)
    local r = pack(pcall(d[method], d, ...))
    if not r[1] then
      out[#out + 1] = label .. " -> error"
    else
      line(label, r, 2)
    end
    return r[2], r[3], r[4]
  end

  local function call_ttl(label, key)
    local r = pack(pcall(d.ttl, d, key))
    if not r[1] then
      out[#out + 1] = label .. " -> error"
    else
      line(label, r, 2, show_ttl)
    end
  end

  -- get_keys: how many, and the sorted list when it is complete (DICT
  -- gives its keys in no particular order).
  local function keys(label, ...)
    local r = pack(pcall(d.get_keys, d, ...))
    if not r[1] then
      out[#out + 1] = label .. " -> error"
      return
    end
    local ks = r[2]
    local shown = {}
    for i = 1, #ks do
      shown[i] = show(ks[i])
    end
    sort(shown)
    out[#out + 1] = format("%s -> %d keys: %s", label, #ks, concat(shown, " "))
  end

  -- get and set ------------------------------------------------------------
  call("get missing", "get", "nope")
  call("get_stale missing", "get_stale", "nope")
  call("set string", "set", "a", "apple")
  call("get string", "get", "a")
  call("set integer", "set", "i", 42)
  call("get integer", "get", "i")
  call("set float", "set", "x", 2.5)
  call("get float", "get", "x")
  call("set negative", "set", "neg", -7)
  call("get negative", "get", "neg")
  call("set true", "set", "t", true)
  call("get true", "get", "t")
  call("set false", "set", "fa", false)
  call("get false", "get", "fa")
  call("set empty string value", "set", "es", "")
  call("get empty string value", "get", "es")
  call("set binary value", "set", "bin", "a\0b\255")
  call("get binary value", "get", "bin")
  call("set overwrite", "set", "a", "avocado")
  call("get overwritten", "get", "a")
  call("set nil deletes", "set", "a", nil)
  call("get deleted by set nil", "get", "a")

  -- flags --------------------------------------------------------------------
  call("set with flags", "set", "f", "fig", 0, 7)
  call("get with flags", "get", "f")
  call("get_stale with flags", "get_stale", "f")
  call("set with flags 0", "set", "f0", "v", 0, 0)
  call("get with flags 0", "get", "f0")
  call("get_stale with flags 0", "get_stale", "f0")
  call("set large flags", "set", "fl", "v", 0, 4294967295)
  call("get large flags", "get", "fl")
  call("set overwrite clears flags", "set", "f", "fig2")
  call("get after overwrite", "get", "f")

  -- safe_set, add, safe_add, replace -------------------------------------------
  call("safe_set", "safe_set", "s", "safe", 0, 3)
  call("get safe_set", "get", "s")
  call("add existing", "add", "s", "other")
  call("get after add existing", "get", "s")
  call("safe_add existing", "safe_add", "s", "other")
  call("add new", "add", "n1", "new", 0, 9)
  call("get added", "get", "n1")
  call("safe_add new", "safe_add", "n2", 5)
  call("get safe_added", "get", "n2")
  call("replace missing", "replace", "nobody", "x")
  call("get after replace missing", "get", "nobody")
  call("replace existing", "replace", "n1", "renewed", 0, 11)
  call("get replaced", "get", "n1")
  call("replace with nil deletes", "replace", "n2", nil)
  call("get replaced with nil", "get", "n2")
  call("add nil on missing", "add", "addnil", nil)
  call("get add nil", "get", "addnil")

  -- delete -------------------------------------------------------------------
  call("delete existing", "delete", "n1")
  call("get deleted", "get", "n1")
  call("delete missing", "delete", "n1")

  -- incr ---------------------------------------------------------------------
  call("incr missing", "incr", "c", 1)
  call("get after incr missing", "get", "c")
  call("incr missing with init", "incr", "c", 1, 10)
  call("get after incr with init", "get", "c")
  call("ttl after incr with init", "ttl", "c")
  call("incr existing", "incr", "c", 5)
  call("incr negative", "incr", "c", -20)
  call("incr float", "incr", "c", 0.5)
  call("get after incr float", "get", "c")
  call("incr existing ignores init", "incr", "c", 1, 100)
  call("incr on string", "incr", "s", 1)
  call("incr on string with init", "incr", "s", 1, 0)
  call("incr on boolean", "incr", "t", 1)
  call("set counter with flags", "set", "cf", 1, 0, 5)
  call("incr keeps flags", "incr", "cf", 1)
  call("get flags after incr", "get", "cf")
  call("set counter with ttl", "set", "ct", 1, 100)
  call("incr keeps ttl", "incr", "ct", 1, 0, 5)
  call_ttl("ttl after incr on ttl key", "ct")
  call("incr with init and init_ttl", "incr", "ci", 2, 1, 100)
  call("get incr init_ttl", "get", "ci")
  call_ttl("ttl of incr init_ttl", "ci")
  call("incr init float", "incr", "cfl", 1, 0.25)
  call("incr integer zero", "incr", "cz", 0, 0)

  -- ttl and expire -------------------------------------------------------------
  call("ttl missing", "ttl", "nope")
  call_ttl("ttl never", "i")
  call("set with ttl", "set", "e", "soon", 100)
  call_ttl("ttl with ttl", "e")
  call("set with fraction ttl", "set", "ef", "soon", 2.5)
  call_ttl("ttl with fraction", "ef")
  call("expire existing", "expire", "e", 50)
  call_ttl("ttl after expire", "e")
  call("get after expire", "get", "e")
  call("expire 0 removes expiry", "expire", "e", 0)
  call_ttl("ttl after expire 0", "e")
  call("expire missing", "expire", "nope", 10)
  call("set with ttl 0", "set", "z", "zero", 0)
  call_ttl("ttl 0", "z")
  call("set without ttl clears ttl", "set", "ef", "later")
  call_ttl("ttl cleared", "ef")
  call("expire keeps value and flags", "set", "ek", "kept", 0, 4)
  call("expire on flagged", "expire", "ek", 30)
  call("get flagged after expire", "get", "ek")

  -- expiry as time passes ---------------------------------------------------------
  call("set short 1", "set", "short1", "s1", 0.001, 8)
  call("set short 2", "set", "short2", "s2", 0.001)
  call("set short 3", "set", "short3", 3, 0.001)
  call("set short 4", "set", "short4", "s4", 0.001)
  call("incr short", "incr", "shortc", 1, 5, 0.001)
  call("set flagged for incr", "set", "shortf", 10, 0.001, 6)
  advance(0.05)
  call("get expired", "get", "short1")
  call("get_stale expired", "get_stale", "short1")
  call("get_stale expired no flags", "get_stale", "short2")
  call_ttl("ttl expired", "short1")
  call("replace expired", "replace", "short3", "r")
  call("incr expired no init", "incr", "short3", 1)
  call("incr expired with init", "incr", "short3", 1, 100)
  call("get incr expired with init", "get", "short3")
  call_ttl("ttl incr expired with init", "short3")
  call("incr expired with flags", "incr", "shortf", 1, 0)
  call("get incr expired with flags", "get", "shortf")
  call("add expired", "add", "short4", "again", 0, 2)
  call("get added over expired", "get", "short4")
  call("get expired incr init_ttl", "get", "shortc")
  keys("get_keys all", 0)

  -- get_keys and flush_expired -----------------------------------------------------
  call("set a short", "set", "gone1", 1, 0.001)
  call("set b short", "set", "gone2", 1, 0.001)
  call("set c short", "set", "gone3", 1, 0.001)
  advance(0.05)
  keys("get_keys default")
  keys("get_keys 0 skips expired", 0)
  local r = pack(pcall(d.get_keys, d, 2))
  out[#out + 1] = "get_keys 2 -> " .. (r[1] and #r[2] .. " keys" or "error")
  r = pack(pcall(d.get_keys, d, 1))
  out[#out + 1] = "get_keys 1 -> " .. (r[1] and #r[2] .. " keys" or "error")
  call("flush_expired 1", "flush_expired", 1)
  -- which one went first is the implementation's choice: count the rest
  local stale = 0
  for _, k in ipairs({ "gone1", "gone2", "gone3", "short1", "short2", "shortc" }) do
    if d:get_stale(k) ~= nil then
      stale = stale + 1
    end
  end
  out[#out + 1] = "expired keys left after flush 1 -> " .. stale
  call("flush_expired rest", "flush_expired")
  call("flush_expired none left", "flush_expired", 0)
  call("get_stale after flush", "get_stale", "gone2")
  call_ttl("ttl after flush", "gone3")
  call("expire after flush", "expire", "gone3", 10)

  -- expire on an expired key that is still there ------------------------------------
  call("set for expire", "set", "ee", "val", 0.001)
  advance(0.05)
  call("expire an expired key", "expire", "ee", 100)
  call("get after expire on expired", "get", "ee")

  -- arguments ---------------------------------------------------------------------
  call("set table value", "set", "tbl", { 1, 2 })
  call("set function value", "set", "fn", print)
  call("get nil key", "get", nil)
  call("set nil key", "set", nil, 1)
  call("set empty key", "set", "", 1)
  call("get empty key", "get", "")
  call("set number key", "set", 12, "twelve")
  call("get number key as string", "get", "12")
  call("set negative exptime", "set", "k", 1, -1)
  call("expire without exptime", "expire", "i")
  call("incr string value", "incr", "i", "x")
  call("incr bad init", "incr", "i", 1, {})
  call("incr init_ttl without init", "incr", "i", 1, nil, 10)
  call("incr negative init_ttl", "incr", "i", 1, 0, -1)
  call("get_keys bad count", "get_keys", "x")

  -- figures -------------------------------------------------------------------------
  r = pack(pcall(d.capacity, d))
  out[#out + 1] = "capacity -> " .. (r[1] and type(r[2]) or "error")
  r = pack(pcall(d.free_space, d))
  out[#out + 1] = "free_space -> " .. (r[1] and type(r[2]) or "error")

  return concat(out, "\n") .. "\n"
end

return M

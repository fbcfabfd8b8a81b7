-- caskdb.cli -- the `caskdb` command-line tool (bin/caskdb runs it).
--
--   require("caskdb.cli").main(args) -> exit code
--
-- Commands that change a database (set, del, merge, import, repair's
-- output, shell) go through the C engine (`require "caskdb"`).  Commands
-- that inspect files (stats, check, dump, export, repair's input) read them
-- with caskdb.format, so they work on a database the engine refuses to open
-- and never change it.
--
-- Exit codes: 0 success; 1 a negative answer (key not found, check found
-- errors, repair lost data); 2 a usage error; 3 a failure (cannot open,
-- corrupt, I/O).  Messages go to stderr, prefixed "caskdb: ".
local M = {}

local F = require "caskdb.format"
local json = require "caskdb.json"
local msgpack = require "caskdb.msgpack"

local sformat, concat, mtype = string.format, table.concat, math.type

M.VERSION = "0.1.0"

-- ---- plumbing ---------------------------------------------------------------

local EXIT_NO, EXIT_USAGE, EXIT_FAIL = 1, 2, 3

local function die(code, msg)
  error({ exit = code, msg = msg }, 0)
end
local function usage_error(msg) die(EXIT_USAGE, msg) end

local out, err_out, stdin = io.stdout, io.stderr, io.stdin
local function say(...) out:write(...) end
local function warn(...) err_out:write(...) end

local engine_mod
local function engine()
  if not engine_mod then
    local ok, mod = pcall(require, "caskdb")
    if not ok or type(mod) ~= "table" or not mod.open then
      die(EXIT_FAIL, "the caskdb module (caskdb.so) cannot be loaded: " .. tostring(mod))
    end
    engine_mod = mod
  end
  return engine_mod
end

local function open_db(path, opts)
  local db, msg, code = engine().open(path, opts)
  if not db then
    die(EXIT_FAIL, sformat("cannot open %s: %s (%s)", path, tostring(msg):gsub("^caskdb: ", ""),
      tostring(code)))
  end
  return db
end

local function is_dir(path)
  return os.execute("test -d '" .. path:gsub("'", "'\\''") .. "'") == true
end

local function now_ms() return F.now_ms() end

-- Options: spec = { flag = true | "value" }, short = { ["-i"] = "int-key" }.
-- Returns opts (name without dashes -> true or string) and positionals.
local function parse(args, spec, short)
  local opts, pos, i = {}, {}, 1
  while i <= #args do
    local a = args[i]
    if a == "--" then
      for j = i + 1, #args do pos[#pos + 1] = args[j] end
      break
    end
    local name, value = a:match("^%-%-([%w%-]+)=(.*)$")
    if not name then name = a:match("^%-%-([%w%-]+)$") end
    if not name and short and short[a] then name = short[a] end
    if name then
      local kind = spec[name]
      if kind == nil then usage_error("unknown option --" .. name) end
      if kind == "value" then
        if value == nil then
          i = i + 1
          value = args[i]
          if value == nil then usage_error("--" .. name .. " needs a value") end
        end
        opts[name] = value
      else
        if value ~= nil then usage_error("--" .. name .. " takes no value") end
        opts[name] = true
      end
    elseif a:match("^%-.") and not tonumber(a) then
      usage_error("unknown option " .. a)
    else
      pos[#pos + 1] = a
    end
    i = i + 1
  end
  return opts, pos
end

-- ---- showing values -----------------------------------------------------------

-- A string as a readable, unambiguous literal: "text" with escapes.
local function quote(s)
  local parts = {}
  local i, n = 1, #s
  while i <= n do
    local c = s:byte(i)
    local len = c < 0x80 and 1 or c >= 0xF0 and 4 or c >= 0xE0 and 3 or c >= 0xC2 and 2 or 0
    local ch = len > 0 and s:sub(i, i + len - 1)
    if len > 1 and #ch == len and utf8.len(ch) then
      parts[#parts + 1] = ch
      i = i + len
    else
      if c == 34 then parts[#parts + 1] = '\\"'
      elseif c == 92 then parts[#parts + 1] = "\\\\"
      elseif c == 10 then parts[#parts + 1] = "\\n"
      elseif c == 9 then parts[#parts + 1] = "\\t"
      elseif c == 13 then parts[#parts + 1] = "\\r"
      elseif c < 32 or c >= 127 then parts[#parts + 1] = sformat("\\x%02x", c)
      else parts[#parts + 1] = string.char(c) end
      i = i + 1
    end
  end
  return '"' .. concat(parts) .. '"'
end

local function show_float(x)
  if x ~= x then return "nan" end
  if x == math.huge then return "inf" end
  if x == -math.huge then return "-inf" end
  local s = sformat("%.17g", x)
  if tonumber(sformat("%.15g", x)) == x then s = sformat("%.15g", x) end
  if not s:find("[%.eEn]") then s = s .. ".0" end
  return s
end

-- A readable form of any value: strings quoted, numbers bare (floats with a
-- "." or exponent), tables as Lua constructors with sorted keys.
local function show(v, depth)
  depth = depth or 0
  local tv = type(v)
  if tv == "string" then
    return quote(v)
  elseif mtype(v) == "integer" then
    return tostring(v)
  elseif mtype(v) == "float" then
    return show_float(v)
  elseif tv == "table" then
    if depth > 70 then return "{...}" end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b)
      local ta, tb = type(a), type(b)
      if ta ~= tb then return ta < tb end
      if ta == "boolean" then return not a and b end
      return a < b
    end)
    local parts, n = {}, #v
    for i = 1, n do parts[#parts + 1] = show(v[i], depth + 1) end
    for _, k in ipairs(keys) do
      if not (mtype(k) == "integer" and k >= 1 and k <= n) then
        local ks = type(k) == "string" and k:match("^[%a_][%w_]*$") and k or ("[" .. show(k) .. "]")
        parts[#parts + 1] = ks .. " = " .. show(v[k], depth + 1)
      end
    end
    return "{" .. concat(parts, ", ") .. "}"
  end
  return tostring(v)
end
M.show = show

-- ---- the JSON line encoding of keys and values (export, --json) ----------------

local type_names = { [0] = "string", "integer", "float", "boolean", "table" }
local type_tags = { string = 0, integer = 1, float = 2, boolean = 3, table = 4 }

-- Add key / key_b64 for `key` to object o.
local function json_key(o, key)
  if mtype(key) == "integer" or utf8.len(key) then
    o.key = key
  else
    o.key_b64 = json.b64encode(key)
  end
  return o
end

-- Add type, value / value_b64 to object o for stored bytes with tag.
local function json_value(o, tag, bytes, value)
  o.type = type_names[tag] or tag
  if value == nil then
    value = F.decode_value(tag, bytes)
  end
  if tag == 0 then
    if utf8.len(bytes) then o.value = bytes else o.value_b64 = json.b64encode(bytes) end
  elseif (tag == 1 or tag == 3) and value ~= nil then
    o.value = value
  elseif tag == 2 and value ~= nil and value == value and value ~= math.huge
    and value ~= -math.huge then
    o.value = value
  else -- tables (MessagePack bytes), non-finite floats, tags 5..255, bad bytes
    o.value_b64 = json.b64encode(bytes)
  end
  return o
end

-- The line of export for a read_dir entry.
local function export_object(e)
  local o = json_key({}, e.key)
  json_value(o, e.vtype, e.bytes, e.value)
  if e.expiry ~= 0 then o.expiry = e.expiry end
  if e.flags and e.flags ~= 0 then o.flags = e.flags end
  return o
end

-- key, value, expiry, flags of an import line; nil, message if it is bad.
local function import_object(o)
  if type(o) ~= "table" then return nil, "not a JSON object" end
  local key = o.key
  if o.key_b64 ~= nil then
    key = type(o.key_b64) == "string" and json.b64decode(o.key_b64)
    if not key then return nil, "bad key_b64" end
  elseif type(key) ~= "string" and mtype(key) ~= "integer" then
    return nil, "key must be a string or an integer (or key_b64)"
  end
  local t = o.type or "string"
  local tag = type_tags[t] or (mtype(t) == "integer" and t) or nil
  if not tag or tag < 0 or tag > 255 then return nil, "unknown type " .. tostring(t) end
  local value
  if o.value_b64 ~= nil then
    local bytes = type(o.value_b64) == "string" and json.b64decode(o.value_b64)
    if not bytes then return nil, "bad value_b64" end
    local verr
    value, verr = F.decode_value(tag, bytes)
    if value == nil then return nil, verr end
  else
    value = o.value
    if tag == 0 and type(value) ~= "string" then return nil, "a string value expected" end
    if tag == 1 and mtype(value) ~= "integer" then return nil, "an integer value expected" end
    if tag == 2 then
      if type(value) ~= "number" then return nil, "a number value expected" end
      if mtype(value) == "integer" then value = value + 0.0 end -- keeps -0.0 as is
    end
    if tag == 3 and type(value) ~= "boolean" then return nil, "a boolean value expected" end
    if tag == 4 then return nil, "a table value must be given as value_b64 (MessagePack)" end
    if tag > 4 and type(value) ~= "string" then return nil, "a string value expected" end
  end
  local expiry = o.expiry or 0
  if mtype(expiry) ~= "integer" or expiry < 0 then return nil, "bad expiry" end
  local flags = o.flags or 0
  if mtype(flags) ~= "integer" or flags < 0 or flags > 0xFFFFFFFF then return nil, "bad flags" end
  return { key = key, value = value, tag = tag, expiry = expiry, flags = flags }
end

-- Write one imported entry with the engine; false if it had expired.
local function store(db, e, now)
  local ttl
  if e.expiry ~= 0 then
    if e.expiry <= now then return false end
    ttl = (e.expiry - now) / 1000
  end
  local ok, msg, code = db:set(e.key, e.value, ttl, e.flags ~= 0 and e.flags or nil)
  if not ok then die(EXIT_FAIL, sformat("cannot write: %s (%s)", tostring(msg), tostring(code))) end
  return true
end

-- ---- progress ------------------------------------------------------------------

local function stderr_is_tty()
  local ok, system = pcall(require, "system")
  if ok and type(system) == "table" and system.isatty then
    local ok2, r = pcall(system.isatty, io.stderr)
    if ok2 then return r and true or false end
  end
  return os.execute("test -t 2") == true
end

-- A progress line on stderr: "label  42%  1234 records  5678 records/s".
-- Drawn only when stderr is a terminal (or --progress), never with --quiet.
local function progress(opts, label, total)
  local enabled = opts.progress or (not opts.quiet and stderr_is_tty())
  local p = { done = 0, records = 0 }
  if not enabled then
    function p.update() end
    function p.finish() end
    return p
  end
  local start, last = os.time(), -1
  local clock0 = os.clock()
  local function draw(final)
    local elapsed = math.max(os.time() - start, os.clock() - clock0, 0.001)
    local pct = total and total > 0 and math.floor(p.done * 100 / total) or 100
    warn(sformat("\r%s %3d%%  %d records  %.0f records/s%s", label, math.min(pct, 100),
      p.records, p.records / elapsed, final and "\n" or ""))
  end
  function p.update(done, records)
    p.done, p.records = done or p.done, records or p.records
    local now = os.clock()
    if now - last >= 0.1 then
      last = now
      draw(false)
    end
  end
  function p.finish()
    p.done = total or p.done
    draw(true)
  end
  return p
end

-- ---- the help -------------------------------------------------------------------

local commands = {}
local order = {}
local function command(name, def)
  commands[name] = def
  order[#order + 1] = name
end

local KEY_HELP = [[
Keys are strings; with --int-key (-i) the key is a 64-bit integer key.]]

local function help_all()
  local lines = {
    "usage: caskdb COMMAND [OPTIONS] ARGS...",
    "",
    "A command-line tool for CaskDB databases (a database is a directory).",
    "",
    "Commands:",
  }
  for _, name in ipairs(order) do
    lines[#lines + 1] = sformat("  %-17s %s", name, commands[name].summary)
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "Run `caskdb COMMAND --help` for the options of a command."
  lines[#lines + 1] = "Exit codes: 0 ok, 1 negative answer (not found, problems found, data lost),"
  lines[#lines + 1] = "2 usage error, 3 failure (cannot open, corrupt, I/O)."
  return concat(lines, "\n") .. "\n"
end

local function help_of(name)
  local c = commands[name]
  return "usage: caskdb " .. c.usage .. "\n\n" .. c.summary .. ".\n" ..
    (c.help and ("\n" .. c.help:gsub("\n*$", "") .. "\n") or "")
end

-- ---- keys and values from the command line --------------------------------------

local function parse_key(s, opts)
  if opts["int-key"] then
    local n = math.tointeger(tonumber(s))
    if not n or not s:match("^%s*[-+]?%d+%s*$") then
      usage_error("not an integer key: " .. s)
    end
    return n
  end
  return s
end

local function parse_value(s, opts)
  local n = 0
  for _, o in ipairs { "int", "float", "bool", "json" } do
    if opts[o] then n = n + 1 end
  end
  if n > 1 then usage_error("give at most one of --int, --float, --bool, --json") end
  if opts.int then
    local v = s:match("^%s*[-+]?%d+%s*$") and math.tointeger(tonumber(s))
    if not v then usage_error("not an integer: " .. s) end
    return v
  elseif opts.float then
    local v = tonumber(s) or ({ nan = 0 / 0, inf = math.huge, ["-inf"] = -math.huge })[s]
    if not v then usage_error("not a number: " .. s) end
    return v + 0.0
  elseif opts.bool then
    if s == "true" then return true elseif s == "false" then return false end
    usage_error("not a boolean (true or false): " .. s)
  elseif opts.json then
    local v, jerr = json.decode(s)
    if v == nil then usage_error("bad JSON: " .. jerr) end
    if v == json.null then usage_error("null cannot be stored (use del)") end
    local function strip(t, depth) -- json.array metatables and nulls
      if type(t) ~= "table" then return t end
      if depth > 64 then usage_error("JSON nested deeper than 64 levels") end
      local r = {}
      for k, x in pairs(t) do
        if x ~= json.null then r[k] = strip(x, depth + 1) end
      end
      return r
    end
    return strip(v, 1)
  end
  return s
end

local function parse_ttl(opts)
  if opts.ttl == nil then return nil end
  local t = tonumber(opts.ttl)
  if not t or t < 0 then usage_error("--ttl needs seconds >= 0") end
  return t > 0 and t or nil
end

-- ---- get / set / del / scan --------------------------------------------------------

local function print_value(v, opts)
  if opts.json then
    local bytes, tag = F.encode_value(v)
    say(json.encode(json_value({}, tag, bytes, v)), "\n")
  elseif type(v) == "string" and not opts.quote then
    say(v, "\n")
  else
    say(show(v), "\n")
  end
end

command("get", {
  usage = "get DIR KEY [--int-key] [--json] [--quote]",
  summary = "print the value of a key",
  help = [[
A string value is printed as it is (its bytes, then a newline); other types
in a readable form: 42, 1.5, true, {1, 2, name = "x"}.  --quote prints
strings quoted and escaped too.  --json prints {"type":..., "value":...}
(or "value_b64" for bytes that are not UTF-8 text, tables and non-finite
floats; see `caskdb export --help`).  A missing key exits with 1.
]] .. KEY_HELP,
  spec = { ["int-key"] = true, json = true, quote = true },
  run = function(opts, pos)
    if #pos ~= 2 then usage_error("get needs DIR and KEY") end
    local db = open_db(pos[1], { readonly = true, create = false })
    local v, msg, code = db:get(parse_key(pos[2], opts))
    db:close()
    if v == nil and msg then die(EXIT_FAIL, sformat("%s (%s)", msg:gsub("^caskdb: ", ""), code)) end
    if v == nil then die(EXIT_NO, "key not found: " .. show(parse_key(pos[2], opts))) end
    print_value(v, opts)
  end,
})

command("set", {
  usage = "set DIR KEY VALUE [--int|--float|--bool|--json] [--ttl SECONDS] [--int-key]",
  summary = "store a value under a key",
  help = [[
The value is a string unless one of these says otherwise:
  --int    a 64-bit integer          --float  a float (also nan, inf, -inf)
  --bool   true or false             --json   a JSON value: objects and arrays
                                              become tables
--ttl SECONDS sets a time to live (fractions allowed).  The database is
created if missing.
]] .. KEY_HELP,
  spec = { ["int-key"] = true, int = true, float = true, bool = true, json = true, ttl = "value" },
  run = function(opts, pos)
    if #pos ~= 3 then usage_error("set needs DIR, KEY and VALUE") end
    local key, value, ttl = parse_key(pos[2], opts), parse_value(pos[3], opts), parse_ttl(opts)
    local db = open_db(pos[1])
    local ok, msg, code = db:set(key, value, ttl)
    db:close()
    if not ok then die(EXIT_FAIL, sformat("%s (%s)", tostring(msg), tostring(code))) end
  end,
})

command("del", {
  usage = "del DIR KEY [--int-key]",
  summary = "delete a key",
  help = "Exits with 1 if the key did not exist.\n" .. KEY_HELP,
  spec = { ["int-key"] = true },
  run = function(opts, pos)
    if #pos ~= 2 then usage_error("del needs DIR and KEY") end
    if not is_dir(pos[1]) then die(EXIT_FAIL, "no database at " .. pos[1]) end
    local db = open_db(pos[1], { create = false })
    local existed = db:delete(parse_key(pos[2], opts))
    db:close()
    if not existed then die(EXIT_NO, "key not found: " .. pos[2]) end
  end,
})

-- The (key, value) pairs of a scan, in key order.
local function scan_pairs(db, opts)
  local from, to = opts.from, opts.to
  if opts["int-key"] then
    from = from and parse_key(from, opts)
    to = to and parse_key(to, opts)
  end
  if opts.prefix and (from or to) then usage_error("--prefix cannot go with --from/--to") end
  if opts.prefix then return db:prefix(opts.prefix) end
  if from or to then return db:range(from, to) end
  return db:pairs()
end

local function scan_output(db, opts, write)
  local limit = opts.limit and math.tointeger(tonumber(opts.limit))
  if opts.limit and (not limit or limit < 0) then usage_error("--limit needs a count >= 0") end
  local n = 0
  for k, v in scan_pairs(db, opts) do
    if limit and n >= limit then break end
    n = n + 1
    if opts.json then
      local bytes, tag = F.encode_value(v)
      write(json.encode(json_value(json_key({}, k), tag, bytes, v)), "\n")
    elseif opts["keys-only"] then
      write(show(k), "\n")
    else
      write(show(k), "\t", show(v), "\n")
    end
  end
  return n
end

command("scan", {
  usage = "scan DIR [--prefix P | --from A --to B] [--limit N] [--int-key] [--keys-only] [--json]",
  summary = "list keys and values in key order",
  help = [[
One line per key: KEY<TAB>VALUE, both in readable form (strings quoted and
escaped, integer keys bare).  --from A --to B lists A <= key < B (either may
be left out; with --int-key they are integers).  --prefix P lists string
keys starting with P.  --json prints JSON lines as `caskdb export` does.
]],
  spec = { prefix = "value", from = "value", to = "value", limit = "value",
    ["int-key"] = true, ["keys-only"] = true, json = true },
  run = function(opts, pos)
    if #pos ~= 1 then usage_error("scan needs DIR") end
    local db = open_db(pos[1], { readonly = true, create = false })
    scan_output(db, opts, say)
    db:close()
  end,
})

-- ---- stats / check / dump (caskdb.format) -------------------------------------

local function read_state(path, opts)
  if not is_dir(path) then die(EXIT_FAIL, "no database at " .. path) end
  local st, msg, code = F.read_dir(path, opts)
  if not st then die(EXIT_FAIL, sformat("%s (%s)", msg, code)) end
  return st
end

command("stats", {
  usage = "stats DIR [--json]",
  summary = "figures of a database: files, live and dead bytes, keys",
  help = [[
Read with caskdb.format (the database is not opened by the engine, no lock
is taken).  For each data file: its size, the bytes of the records that hold
a live value (live), the rest (dead, headers included), and whether a hint
was used.  Then the totals, fragmentation (dead / total), the number of
keys, and the number of keys hidden by expiry.
]],
  spec = { json = true },
  run = function(opts, pos)
    if #pos ~= 1 then usage_error("stats needs DIR") end
    local st = read_state(pos[1], {})
    local files, total, live = {}, 0, 0
    for _, f in ipairs(st.files) do
      local lb = f.live_bytes or 0
      files[#files + 1] = { name = f.name, size = f.size, live_bytes = lb,
        dead_bytes = f.size - lb, hint = f.hint_used or false }
      total, live = total + f.size, live + lb
    end
    local frag = total > 0 and (total - live) / total or 0.0
    local s = { files = json.array(files), keys = st.count, expired = st.expired,
      disk_bytes = total, live_bytes = live, dead_bytes = total - live,
      fragmentation = frag, truncated_bytes = st.truncated_bytes }
    if opts.json then
      say(json.encode(s), "\n")
      return
    end
    say(sformat("%-28s %12s %12s %12s  %s\n", "file", "size", "live", "dead", "hint"))
    for _, f in ipairs(files) do
      say(sformat("%-28s %12d %12d %12d  %s\n", f.name, f.size, f.live_bytes, f.dead_bytes,
        f.hint and "used" or "-"))
    end
    say(sformat("%-28s %12d %12d %12d\n", "total", total, live, total - live))
    say(sformat("keys: %d\nexpired: %d\nfragmentation: %.1f%%\n", st.count, st.expired, frag * 100))
    if st.truncated_bytes > 0 then
      say(sformat("torn tail: %d bytes (cut at the next open by a writer)\n", st.truncated_bytes))
    end
  end,
})

-- Every problem of a directory: { {severity, file, offset, message} ... },
-- plus the number of files and records checked.
-- Whether a sound hint describes the committed records of its data file,
-- in one of the two orders docs/FORMAT.md allows: one hint per committed
-- record in file order (older engines, caskdb.format), or each key's last
-- committed record once, keys increasing (the engine's sorted hints).
-- true, or false and the offset of the first hint record that differs.
local function hint_matches(hints, committed)
  local function same(h, r)
    local del = r.type == F.DELETE or r.type == F.BATCH_DELETE
    return h ~= nil and h.offset == r.offset and h.size == r.size and h.key == r.key
      and h.key_kind == r.key_kind and (h.type == "delete") == del and h.expiry == r.expiry
  end
  local function first_bad(expected)
    for k, r in ipairs(expected) do
      if not same(hints[k], r) then return hints[k] and hints[k].hint_offset or 24 end
    end
    if #hints ~= #expected then return hints[#expected + 1].hint_offset end
  end
  local bad_file_order = first_bad(committed)
  if not bad_file_order then return true end
  local last, keys = {}, {}
  for _, r in ipairs(committed) do
    local c = F.canonical_key(r.key_kind, r.key)
    if not last[c] then keys[#keys + 1] = c end
    last[c] = r
  end
  table.sort(keys) -- byte order, shorter prefix first: the canonical order
  local by_key = {}
  for i, c in ipairs(keys) do by_key[i] = last[c] end
  local bad_key_order = first_bad(by_key)
  if not bad_key_order then return true end
  return false, math.max(bad_file_order, bad_key_order)
end

local function check_dir(path, opts)
  local files, others, orphans = F.list_files(path)
  if not files then die(EXIT_FAIL, "cannot list " .. path .. ": " .. tostring(others)) end
  local problems, nrecords = {}, 0
  local function problem(sev, file, offset, msg)
    problems[#problems + 1] = { severity = sev, file = file, offset = offset, message = msg }
  end
  local total = 0
  for _, f in ipairs(files) do
    local fh = io.open(path .. "/" .. f.name, "rb")
    if fh then total = total + (fh:seek("end") or 0); fh:close() end
  end
  local prog = progress(opts, "check", total)
  local done = 0
  for _, name in ipairs(others) do
    if name:match("%.tmp$") and F.parse_name(name:sub(1, -5)) then
      problem("warning", name, nil, "an unpublished temporary file (a writer removes it at open)")
    end
  end
  for _, name in ipairs(orphans) do
    problem("warning", name, nil, "a hint file without its data file (ignored)")
  end
  for i, f in ipairs(files) do
    local newest = i == #files
    local s = F.read_file(path .. "/" .. f.name)
    if not s then
      problem("error", f.name, nil, "cannot read the file")
      goto next_file
    end
    if newest and (#s < 24 or (#s == 24 and not s:find("[^%z]"))) then
      problem("warning", f.name, 0, sformat(
        "the newest file's header is torn (%d bytes): dropped at the next open", #s))
      goto next_file
    end
    do
      local h, why, detail = F.check_data_header(s, f.id, f.part)
      if why == "version" then
        problem("error", f.name, 0, sformat("format version %d; this tool reads version 1",
          detail.version))
        goto next_file
      elseif not h then
        problem("error", f.name, 0, "bad file header (" .. tostring(detail) .. ")")
        goto next_file
      end
      local committed = {}
      local res = F.scan_data(s, { name = f.name, newest = newest, salvage = true,
        apply = function(r) committed[#committed + 1] = r end,
        record = function()
          nrecords = nrecords + 1
          if nrecords % 1000 == 0 then prog.update(done, nrecords) end
        end })
      for _, p in ipairs(res.problems) do
        if p.what == "torn" then
          problem("warning", f.name, p.offset, sformat(
            "torn tail (%s): %d bytes are cut at the next open", p.reason, res.truncated))
        else
          problem("error", f.name, p.offset, "corrupt record (" .. tostring(p.reason) .. ")")
        end
      end
      for _, r in ipairs(committed) do
        if (r.type == F.PUT or r.type == F.BATCH_PUT) and r.vtype <= 4 then
          local v, verr = F.decode_value(r.vtype, r.value)
          if v == nil then
            problem("error", f.name, r.offset, "the value does not fit its type tag (" .. verr .. ")")
          end
        end
      end
      if f.hint and not newest then
        local hs = F.read_file(path .. "/" .. f.hint)
        local hints, herr, hoff = F.read_hint(hs or "", f.id, f.part, #s)
        if not hints then
          problem("warning", f.hint, hoff, herr .. ": ignored, the data file is read instead")
        elseif res.status == "ok" and #res.problems == 0 then
          local ok, bad = hint_matches(hints, committed)
          if not ok then
            problem("error", f.hint, bad, "the hint does not match its data file")
          end
        end
      end
    end
    ::next_file::
    done = done + (s and #s or 0)
    prog.update(done, nrecords)
  end
  prog.finish()
  return problems, #files, nrecords
end

command("check", {
  usage = "check DIR [--json] [--strict] [--quiet|--progress]",
  summary = "verify every file, report each problem with file and offset",
  help = [[
Reads every data file in full with caskdb.format (hints are checked against
their data file, not trusted), and every hint file.  Each problem is one
line: SEVERITY FILE offset OFFSET: what.  Errors are damage no crash
explains (a bad record or header, a broken batch, a value that does not fit
its type, a hint that lies).  Warnings are what the engine handles by
itself: a torn tail on the newest file, a damaged or stale hint (the data
file is read instead), leftover temporary files.  Exit 0 if there is no
error (with --strict: no warning either), 1 otherwise.  Never changes the
database.  --json prints one JSON object per problem, then a summary.
]],
  spec = { json = true, strict = true, quiet = true, progress = true },
  run = function(opts, pos)
    if #pos ~= 1 then usage_error("check needs DIR") end
    if not is_dir(pos[1]) then die(EXIT_FAIL, "no database at " .. pos[1]) end
    local problems, nfiles, nrecords = check_dir(pos[1], opts)
    local errors, warnings = 0, 0
    for _, p in ipairs(problems) do
      if p.severity == "error" then errors = errors + 1 else warnings = warnings + 1 end
      if opts.json then
        say(json.encode(p), "\n")
      else
        say(sformat("%s %s%s: %s\n", p.severity:upper(), p.file,
          p.offset and (" offset " .. p.offset) or "", p.message))
      end
    end
    local clean = errors == 0 and (not opts.strict or warnings == 0)
    if opts.json then
      say(json.encode { files = nfiles, records = nrecords, errors = errors,
        warnings = warnings, clean = clean }, "\n")
    else
      say(sformat("%d files, %d records: %d errors, %d warnings\n", nfiles, nrecords, errors,
        warnings))
    end
    if not clean then return EXIT_NO end
  end,
})

command("dump", {
  usage = "dump DIR [--json] [--hints]",
  summary = "print every record in file order",
  help = [[
One line per record: FILE OFFSET TYPE KEY [VALUE] and its fields (value type
tag, expiry, flags, size).  Bytes that are not a whole record are shown as
one BAD line (what is wrong) and skipped up to the next whole record.
--hints prints the records of hint files too.  --json prints JSON lines:
{"file", "offset", "size", "type", "key"/"key_b64", "value_type", "value" /
"value_b64", "expiry", "flags", "timestamp", "count"}, or {"file",
"offset", "bad": reason} for damage.
]],
  spec = { json = true, hints = true },
  run = function(opts, pos)
    if #pos ~= 1 then usage_error("dump needs DIR") end
    if not is_dir(pos[1]) then die(EXIT_FAIL, "no database at " .. pos[1]) end
    local files = F.list_files(pos[1])
    for _, f in ipairs(files) do
      local s = F.read_file(pos[1] .. "/" .. f.name) or ""
      local h, _, detail = F.check_data_header(s, f.id, f.part)
      local off = 24
      if not h then
        if opts.json then
          say(json.encode { file = f.name, offset = 0, bad = "file header: " .. tostring(detail) }, "\n")
        else
          say(sformat("%s 0 BAD file header (%s)\n", f.name, tostring(detail)))
        end
        off = #s
      end
      while off < #s do
        local verdict, r = F.read_record(s, off)
        if verdict ~= "whole" then
          local nxt = F.resync(s, off)
          if opts.json then
            say(json.encode { file = f.name, offset = off, bad = verdict .. ": " .. tostring(r),
              skipped = nxt - off }, "\n")
          else
            say(sformat("%s %d BAD %s (%s), %d bytes skipped\n", f.name, off, verdict, tostring(r),
              nxt - off))
          end
          off = nxt
        else
          local tname = F.record_type_names[r.type]
          if opts.json then
            local o = { file = f.name, offset = off, size = r.size, type = tname,
              timestamp = r.timestamp }
            if r.type == F.BATCH_END then
              o.count = r.count
            else
              json_key(o, r.key)
            end
            if r.type == F.PUT or r.type == F.BATCH_PUT then
              json_value(o, r.vtype, r.value)
              o.value_type, o.type = o.type, tname
              if r.expiry ~= 0 then o.expiry = r.expiry end
              if r.flags ~= 0 then o.flags = r.flags end
            end
            say(json.encode(o), "\n")
          else
            local line = { f.name, tostring(off), (tname:upper():gsub(" ", "_")) }
            if r.type == F.BATCH_END then
              line[#line + 1] = "count=" .. r.count
            else
              line[#line + 1] = show(r.key)
            end
            if r.type == F.PUT or r.type == F.BATCH_PUT then
              local v = F.decode_value(r.vtype, r.value)
              line[#line + 1] = v == nil and ("<bad value " .. #r.value .. " bytes>") or show(v)
              line[#line + 1] = "tag=" .. r.vtype
              if r.expiry ~= 0 then line[#line + 1] = "expiry=" .. r.expiry end
              if r.flags ~= 0 then line[#line + 1] = "flags=" .. r.flags end
            end
            line[#line + 1] = "size=" .. r.size
            say(concat(line, " "), "\n")
          end
          off = off + r.size
        end
      end
      if opts.hints and f.hint then
        local hs = F.read_file(pos[1] .. "/" .. f.hint) or ""
        local hints, herr, hoff = F.read_hint(hs, f.id, f.part, #s)
        if not hints then
          say(sformat("%s %d BAD %s\n", f.hint, hoff or 0, herr))
        else
          for _, x in ipairs(hints) do
            if opts.json then
              say(json.encode(json_key({ file = f.hint, offset = x.hint_offset, type = x.type,
                record_offset = x.offset, record_size = x.size, expiry = x.expiry }, x.key)), "\n")
            else
              say(sformat("%s %d HINT_%s %s -> %d (%d bytes)%s\n", f.hint, x.hint_offset,
                x.type:upper(), show(x.key), x.offset, x.size,
                x.expiry ~= 0 and (" expiry=" .. x.expiry) or ""))
            end
          end
        end
      end
    end
  end,
})

-- ---- export / import -------------------------------------------------------------

local EXPORT_HELP = [[
One JSON object per line, one line per live key, in key order:
  {"key": "name", "type": "string", "value": "text"}
  {"key": 42, "type": "integer", "value": 7}
  {"key_b64": "AP8=", "type": "float", "value": 1.5, "expiry": 1700000060000}
  {"key": "t", "type": "table", "value_b64": "kwECAw==", "flags": 7}
- key: a string key that is valid UTF-8, or an integer key (a JSON
  integer); other string keys are given as key_b64 (base64 of the bytes).
- type: string, integer, float, boolean, table, or the number of another
  value type tag (5..255).
- value: the value when JSON holds it exactly: UTF-8 text, integers (all 64
  bits), finite floats (always written with a "." or an exponent, so they
  read back as floats; -0.0 is kept), booleans.
- value_b64: base64 of the stored bytes otherwise: strings that are not
  UTF-8, tables (their MessagePack bytes, FORMAT.md section 9), NaN and
  infinities (the 8 bytes of the float), other tags.
- expiry: absolute, in ms since the epoch (absent: never); flags: the
  record's user flags (absent: 0).
Import reads the same lines; "type" defaults to "string".  A key whose
expiry has passed is skipped.  Values of tags 5..255 are imported as
strings (the Lua binding writes tags 0..4 only).]]

command("export", {
  usage = "export DIR [FILE] [--quiet|--progress]",
  summary = "write every live key as JSON lines (to FILE or stdout)",
  help = EXPORT_HELP .. "\nRead with caskdb.format: no lock, nothing changed.",
  spec = { quiet = true, progress = true },
  run = function(opts, pos)
    if #pos < 1 or #pos > 2 then usage_error("export needs DIR [FILE]") end
    local st = read_state(pos[1], {})
    local dest = out
    if pos[2] and pos[2] ~= "-" then
      dest = io.open(pos[2], "wb") or die(EXIT_FAIL, "cannot write " .. pos[2])
    end
    local keys = F.sorted_keys(st)
    local prog = progress(opts, "export", #keys)
    local bad = 0
    for i, k in ipairs(keys) do
      local e = st.keys[k]
      if e.error then
        bad = bad + 1
        warn("caskdb: export: skipped ", show(k), ": ", e.error, "\n")
      else
        dest:write(json.encode(export_object(e)), "\n")
      end
      if i % 1000 == 0 then prog.update(i, i) end
    end
    prog.finish()
    if dest ~= out then dest:close() end
    if bad > 0 then return EXIT_NO end
  end,
})

command("import", {
  usage = "import DIR [FILE] [--quiet|--progress]",
  summary = "read JSON lines (from FILE or stdin) into a database",
  help = EXPORT_HELP .. [[

Every line is checked before anything is written; a bad line stops the
import with its line number and nothing is written.  The database is
created if missing; keys already in it are overwritten.]],
  spec = { quiet = true, progress = true },
  run = function(opts, pos)
    if #pos < 1 or #pos > 2 then usage_error("import needs DIR [FILE]") end
    local src = stdin
    if pos[2] and pos[2] ~= "-" then
      src = io.open(pos[2], "rb") or die(EXIT_FAIL, "cannot read " .. pos[2])
    end
    local entries, n = {}, 0
    for line in src:lines() do
      n = n + 1
      if line:find("%S") then
        local o, jerr = json.decode(line)
        local e, ierr
        if o ~= nil then e, ierr = import_object(o) end
        if not e then die(EXIT_FAIL, sformat("line %d: %s", n, jerr or ierr)) end
        entries[#entries + 1] = e
      end
    end
    if src ~= stdin then src:close() end
    local db = open_db(pos[1])
    local now, written, expired = now_ms(), 0, 0
    local prog = progress(opts, "import", #entries)
    for i, e in ipairs(entries) do
      if store(db, e, now) then written = written + 1 else expired = expired + 1 end
      if i % 1000 == 0 then prog.update(i, i) end
    end
    prog.finish()
    db:close()
    warn(sformat("caskdb: imported %d keys%s\n", written,
      expired > 0 and sformat(" (%d already expired, skipped)", expired) or ""))
  end,
})

-- ---- merge / repair ---------------------------------------------------------------

command("merge", {
  usage = "merge DIR [--quiet|--progress]",
  summary = "compact the data files (db:merge)",
  help = "Rewrites the data files keeping only live records; prints disk bytes before and after.",
  spec = { quiet = true, progress = true },
  run = function(opts, pos)
    if #pos ~= 1 then usage_error("merge needs DIR") end
    if not is_dir(pos[1]) then die(EXIT_FAIL, "no database at " .. pos[1]) end
    local db = open_db(pos[1], { create = false })
    if not db.merge then
      db:close()
      die(EXIT_FAIL, "this build of the caskdb module has no merge")
    end
    local before = db:stats()
    local step = 1024 * 1024
    local prog = progress(opts, "merge", before.disk_bytes)
    local done, steps = 0, 0
    while true do
      local ok, more, code = db:merge { max_bytes = step }
      if not ok then
        db:close()
        die(EXIT_FAIL, sformat("merge failed: %s (%s)", tostring(more), tostring(code)))
      end
      steps = steps + 1
      done = done + step
      prog.update(math.min(done, before.disk_bytes), nil)
      if not more then break end
    end
    prog.finish()
    local after = db:stats()
    db:close()
    say(sformat("merged: %d -> %d bytes on disk, %d keys\n", before.disk_bytes, after.disk_bytes,
      after.keys))
  end,
})

-- ---- backup / restore ---------------------------------------------------------

-- Copy the database at `from` into the new directory `to` through a
-- read-only handle: consistent as of that handle's open, even while a
-- writer goes on (db:backup).
local function copy_database(from, to, what)
  if not is_dir(from) then die(EXIT_FAIL, "no database at " .. from) end
  if is_dir(to) then die(EXIT_FAIL, to .. " exists: " .. what .. " needs a new directory") end
  local db = open_db(from, { readonly = true, create = false })
  local ok, msg, code = db:backup(to)
  local st = db:stats()
  db:close()
  if not ok then
    die(EXIT_FAIL, sformat("%s failed: %s (%s)", what, tostring(msg):gsub("^caskdb: ", ""),
      tostring(code)))
  end
  return st
end

command("backup", {
  usage = "backup DIR DEST",
  summary = "a consistent copy of a database, also while a writer uses it",
  help = [[
Opens DIR read-only (beside a writer, if one is running) and copies it into
the new directory DEST with db:backup: files that no longer change are
hard-linked where the file system allows, the file taking writes is copied
up to a record boundary.  DEST holds exactly the writes acknowledged before
the backup began (possibly later ones, never half of a batch).]],
  spec = {},
  run = function(_, pos)
    if #pos ~= 2 then usage_error("backup needs DIR DEST") end
    local st = copy_database(pos[1], pos[2], "backup")
    say(sformat("backed up %s to %s: %d keys, %d data files, %d bytes\n", pos[1], pos[2],
      st.keys, st.data_files, st.disk_bytes))
  end,
})

command("restore", {
  usage = "restore BACKUP DIR",
  summary = "make a database from a backup (DIR must not exist)",
  help = [[
Copies the backup BACKUP into the new directory DIR, the same way backup
copies (BACKUP itself is only read).  A backup is also a database: it can
be opened as it is.]],
  spec = {},
  run = function(_, pos)
    if #pos ~= 2 then usage_error("restore needs BACKUP DIR") end
    local st = copy_database(pos[1], pos[2], "restore")
    say(sformat("restored %s to %s: %d keys\n", pos[1], pos[2], st.keys))
  end,
})

command("repair", {
  usage = "repair SRC DEST [--json] [--quiet|--progress]",
  summary = "copy everything readable from a damaged database into a new one",
  help = [[
Reads every data file of SRC in full with caskdb.format in salvage mode
(hints are not trusted): bad records are skipped up to the next whole
record, broken batches are dropped, files with a bad header are skipped,
a torn tail is left out.  Every live key whose value reads back is written
to the new database DEST (which must not exist or be empty).  SRC is never
changed.  Prints what was recovered and what was lost (each corrupt region
with its file and offset, keys whose value cannot be read).  Exit 0 if
nothing was lost, 1 if something was, 3 if the copy could not be made.
]],
  spec = { json = true, quiet = true, progress = true },
  run = function(opts, pos)
    if #pos ~= 2 then usage_error("repair needs SRC and DEST") end
    local src, dest = pos[1], pos[2]
    if not is_dir(src) then die(EXIT_FAIL, "no database at " .. src) end
    if is_dir(dest) then
      local names = F.list_dir(dest)
      if names and #names > 0 then die(EXIT_FAIL, dest .. " exists and is not empty") end
    end
    local now = now_ms()
    local st = read_state(src, { salvage = true, hints = false, now = now })
    local lost = {}
    local function loss(file, offset, what)
      lost[#lost + 1] = { file = file, offset = offset, what = what }
    end
    for _, f in ipairs(st.files) do
      if f.skipped then
        loss(f.name, 0, "bad file header (" .. tostring(f.header_error) .. "): whole file skipped, "
          .. f.size .. " bytes")
      elseif f.dropped then
        loss(f.name, 0, "torn file header: " .. f.size .. " bytes")
      elseif f.scan then
        for _, p in ipairs(f.scan.problems) do
          if p.what == "torn" then
            loss(f.name, p.offset, "torn tail (" .. p.reason .. "): " .. f.scan.truncated .. " bytes")
          else
            loss(f.name, p.offset, "corrupt record (" .. tostring(p.reason) .. ")")
          end
        end
      end
    end
    local keys = F.sorted_keys(st)
    local db = open_db(dest)
    local prog = progress(opts, "repair", #keys)
    local written, retagged = 0, 0
    for i, k in ipairs(keys) do
      local e = st.keys[k]
      if e.error then
        loss(e.file, e.offset, "key " .. show(k) .. ": " .. e.error)
      else
        if e.vtype > 4 then retagged = retagged + 1 end
        store(db, { key = k, value = e.value, expiry = e.expiry, flags = e.flags or 0 }, now)
        written = written + 1
      end
      if i % 1000 == 0 then prog.update(i, i) end
    end
    prog.finish()
    db:close()
    if opts.json then
      say(json.encode { recovered = written, lost = json.array(lost), retagged = retagged }, "\n")
    else
      say(sformat("recovered %d keys into %s\n", written, dest))
      for _, l in ipairs(lost) do
        say(sformat("LOST %s offset %d: %s\n", l.file, l.offset, l.what))
      end
      if retagged > 0 then
        say(sformat("note: %d values of type tags 5..255 were written as strings\n", retagged))
      end
      say(#lost == 0 and "nothing lost\n" or sformat("%d problems: data was lost\n", #lost))
    end
    if #lost > 0 then return EXIT_NO end
  end,
})

-- ---- import-caskdb-py --------------------------------------------------------------

-- Read a file of the original Python CaskDB: records of a 12-byte header
-- (u32 timestamp, key size, value size, little-endian) then key and value.
-- `chars`: the sizes count UTF-8 characters (the original's quirk) rather
-- than bytes.  Returns the records, or nil, offset where reading failed.
local function read_py(s, chars)
  local recs, pos, n = {}, 1, #s
  local function take(count, at)
    if not chars then
      if at + count - 1 > n then return nil end
      return s:sub(at, at + count - 1), at + count
    end
    local ok, stop = pcall(utf8.offset, s, count + 1, at)
    if not ok or not stop or stop > n + 1 then return nil end
    local piece = s:sub(at, stop - 1)
    if utf8.len(piece) ~= count then return nil end
    return piece, stop
  end
  while pos <= n do
    if n - pos + 1 < 12 then return nil, pos - 1 end
    local ts, ksz, vsz = string.unpack("<I4 I4 I4", s, pos)
    local key, value, p
    key, p = take(ksz, pos + 12)
    if key then value, p = take(vsz, p) end
    if not value then return nil, pos - 1 end
    recs[#recs + 1] = { timestamp = ts, key = key, value = value }
    pos = p
  end
  return recs
end
M.read_py = read_py

command("import-caskdb-py", {
  usage = "import-caskdb-py FILE DIR [--json]",
  summary = "import a database file of the original Python CaskDB",
  help = [[
The Python CaskDB file has no header; each record is 12 bytes (u32
timestamp, key size, value size; little-endian) then the UTF-8 key and
value; no CRC, no tombstones; a later record for a key wins.  The original
wrote the *character* counts of key and value into the size fields, so for
non-ASCII text they are not byte counts.  The file is read with character
counts first; if that does not parse the whole file exactly, with byte
counts (files from forks that fixed the quirk).  The reading used is
reported ("characters" or "bytes"; for ASCII-only files both agree).  Keys
and values are stored as strings in DIR (created if missing).
]],
  spec = { json = true },
  run = function(opts, pos)
    if #pos ~= 2 then usage_error("import-caskdb-py needs FILE and DIR") end
    local s = F.read_file(pos[1]) or die(EXIT_FAIL, "cannot read " .. pos[1])
    local reading = "characters"
    local recs, coff = read_py(s, true)
    local boff
    if not recs then
      reading = "bytes"
      recs, boff = read_py(s, false)
    end
    if not recs then
      die(EXIT_FAIL, sformat("%s is not a Python CaskDB file: read with character counts it "
        .. "fails at offset %d, with byte counts at offset %d", pos[1], coff, boff))
    end
    local ascii = not s:find("[\128-\255]")
    local db = open_db(pos[2])
    local keys = {}
    for _, r in ipairs(recs) do
      local ok, msg, code = db:set(r.key, r.value)
      if not ok then die(EXIT_FAIL, sformat("cannot write: %s (%s)", tostring(msg), tostring(code))) end
      keys[r.key] = true
    end
    db:close()
    local nkeys = 0
    for _ in pairs(keys) do nkeys = nkeys + 1 end
    if opts.json then
      say(json.encode { records = #recs, keys = nkeys, reading = reading, ascii = ascii }, "\n")
    else
      say(sformat("imported %d records (%d keys) from %s, sizes read as %s counts%s\n", #recs,
        nkeys, pos[1], reading, ascii and " (ASCII only: both readings agree)" or ""))
    end
  end,
})

-- ---- shell --------------------------------------------------------------------------

-- Split a shell line into words: blanks separate, "double quotes" take
-- escapes (\n \t \r \\ \" \xNN), 'single quotes' are literal.
local function split_words(line)
  local words, i, n = {}, 1, #line
  while true do
    i = line:find("%S", i)
    if not i then return words end
    local w = {}
    while i <= n and not line:sub(i, i):match("%s") do
      local c = line:sub(i, i)
      if c == '"' then
        local j = i + 1
        while true do
          local d = line:sub(j, j)
          if d == "" then return nil, "unterminated \"" end
          if d == '"' then break end
          if d == "\\" then
            local e = line:sub(j + 1, j + 1)
            if e == "x" and line:sub(j + 2, j + 3):match("^%x%x$") then
              w[#w + 1] = string.char(tonumber(line:sub(j + 2, j + 3), 16))
              j = j + 4
            else
              w[#w + 1] = ({ n = "\n", t = "\t", r = "\r", ["0"] = "\0" })[e] or e
              j = j + 2
            end
          else
            w[#w + 1] = d
            j = j + 1
          end
        end
        i = j + 1
      elseif c == "'" then
        local j = line:find("'", i + 1, true)
        if not j then return nil, "unterminated '" end
        w[#w + 1] = line:sub(i + 1, j - 1)
        i = j + 1
      else
        w[#w + 1] = c
        i = i + 1
      end
    end
    words[#words + 1] = concat(w)
  end
end
M.split_words = split_words

local SHELL_HELP = [[
Commands (words may be "quoted" with \n \t \xNN escapes, or 'quoted'):
  get KEY [-i]                     print the value (readable form)
  set KEY VALUE [--int|--float|--bool|--json] [--ttl S] [-i]
  del KEY [-i]                     delete
  scan [--prefix P | --from A --to B] [--limit N] [-i]
  prefix P [--limit N]             same as scan --prefix P
  count                            number of live keys
  stats                            the engine's figures
  merge                            compact the files
  help                             this text
  quit                             leave (also exit, or end of input)
-i (--int-key) makes KEY (and scan bounds) an integer key.]]

local function shell_readline()
  local ok, rl = pcall(require, "readline")
  if ok and type(rl) == "table" and rl.readline then
    return function(prompt)
      local line = rl.readline(prompt)
      if line and line:find("%S") and rl.add_history then rl.add_history(line) end
      return line
    end
  end
  local ok2, ln = pcall(require, "linenoise")
  if ok2 and type(ln) == "table" and ln.linenoise then
    return function(prompt)
      local line = ln.linenoise(prompt)
      if line and line:find("%S") and ln.historyadd then ln.historyadd(line) end
      return line
    end
  end
  return nil
end

local function shell_command(db, words)
  local cmd = table.remove(words, 1)
  local key_spec = { ["int-key"] = true }
  local short = { ["-i"] = "int-key" }
  if cmd == "get" then
    local opts, pos = parse(words, key_spec, short)
    if #pos ~= 1 then usage_error("get KEY") end
    local v, msg, code = db:get(parse_key(pos[1], opts))
    if v == nil and msg then
      say("error: ", msg, " (", code, ")\n")
    else
      say(v == nil and "(nil)" or show(v), "\n")
    end
  elseif cmd == "set" then
    local opts, pos = parse(words, { ["int-key"] = true, int = true, float = true, bool = true,
      json = true, ttl = "value" }, short)
    if #pos ~= 2 then usage_error("set KEY VALUE") end
    local ok, msg, code = db:set(parse_key(pos[1], opts), parse_value(pos[2], opts), parse_ttl(opts))
    say(ok and "ok\n" or ("error: " .. tostring(msg) .. " (" .. tostring(code) .. ")\n"))
  elseif cmd == "del" or cmd == "delete" then
    local opts, pos = parse(words, key_spec, short)
    if #pos ~= 1 then usage_error("del KEY") end
    say(db:delete(parse_key(pos[1], opts)) and "deleted\n" or "(not found)\n")
  elseif cmd == "scan" or cmd == "prefix" then
    local opts, pos = parse(words, { prefix = "value", from = "value", to = "value",
      limit = "value", ["int-key"] = true, ["keys-only"] = true }, short)
    if cmd == "prefix" then
      if #pos ~= 1 then usage_error("prefix P") end
      opts.prefix = pos[1]
    elseif #pos > 0 then
      usage_error("scan takes options only")
    end
    local n = scan_output(db, opts, say)
    say(sformat("(%d keys)\n", n))
  elseif cmd == "count" then
    say(db:count(), "\n")
  elseif cmd == "stats" then
    local s = db:stats()
    local names = {}
    for k in pairs(s) do names[#names + 1] = k end
    table.sort(names)
    for _, k in ipairs(names) do say(k, ": ", show(s[k]), "\n") end
  elseif cmd == "merge" then
    if not db.merge then
      say("error: this build of the caskdb module has no merge\n")
    else
      local ok, msg = db:merge()
      say(ok and "merged\n" or ("error: " .. tostring(msg) .. "\n"))
    end
  elseif cmd == "help" or cmd == "?" then
    say(SHELL_HELP, "\n")
  else
    say("unknown command: ", tostring(cmd), " (try help)\n")
  end
end

command("shell", {
  usage = "shell DIR",
  summary = "an interactive prompt on a database",
  help = SHELL_HELP .. [[


Line editing and history come from a Lua readline module (`readline` or
`linenoise`) when one is installed and input is a terminal; otherwise lines
are read plainly.  Input may be piped: `echo 'get k' | caskdb shell DIR`
(no prompt is printed then).  Values print in readable form: strings quoted
and escaped, 42, 1.5, true, {1, 2, name = "x"}.]],
  spec = {},
  run = function(_, pos)
    if #pos ~= 1 then usage_error("shell needs DIR") end
    local db = open_db(pos[1])
    local tty = os.execute("test -t 0") == true
    local readline = tty and shell_readline()
    local prompt = tty and "caskdb> " or nil
    while true do
      local line
      if readline then
        line = readline(prompt)
      else
        if prompt then out:write(prompt); out:flush() end
        line = stdin:read("l")
      end
      if line == nil then break end
      local words, werr = split_words(line)
      if not words then
        say("error: ", werr, "\n")
      elseif #words > 0 then
        if words[1] == "quit" or words[1] == "exit" then break end
        local ok, e = pcall(shell_command, db, words)
        if not ok then
          if type(e) == "table" then
            say("error: ", e.msg, "\n")
          else
            say("error: ", tostring(e):gsub("^caskdb: ", ""), "\n")
          end
        end
      end
      out:flush()
    end
    db:close()
  end,
})

-- ---- main ---------------------------------------------------------------------------

function M.main(args)
  args = args or {}
  local ok, code = xpcall(function()
    local name = args[1]
    if name == nil or name == "--help" or name == "-h" or name == "help" then
      if name == "help" and args[2] and commands[args[2]] then
        say(help_of(args[2]))
      else
        (name == nil and function(s) err_out:write(s) end or say)(help_all())
      end
      return name == nil and EXIT_USAGE or 0
    end
    if name == "--version" then
      say("caskdb ", M.VERSION, "\n")
      return 0
    end
    local c = commands[name]
    if not c then usage_error("unknown command " .. name) end
    local rest = table.move(args, 2, #args, 1, {})
    for _, a in ipairs(rest) do
      if a == "--help" or a == "-h" then
        say(help_of(name))
        return 0
      end
      if a == "--" then break end
    end
    local short = { ["-i"] = "int-key", ["-q"] = "quiet" }
    local opts, pos = parse(rest, c.spec, short)
    return c.run(opts, pos) or 0
  end, function(e)
    if type(e) == "table" and e.exit then return e end
    return { exit = EXIT_FAIL, msg = "internal error: " .. debug.traceback(tostring(e), 2) }
  end)
  out:flush()
  if ok then return code end
  warn("caskdb: ", code.msg, "\n")
  if code.exit == EXIT_USAGE then
    warn("(see caskdb --help)\n")
  end
  return code.exit
end

return M

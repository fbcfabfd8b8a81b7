-- The caskdb command-line tool (bin/caskdb, lua/caskdb/cli.lua), run as a
-- process against databases written by the engine, sound and damaged.
local helpers = require "spec.helpers"
local U = require "spec.support.format_util"
local R = require "spec.support.cli_run"
local F = require "caskdb.format"
local json = require "caskdb.json"
local caskdb = helpers.caskdb

local run = R.run

local function lines(s)
  local t = {}
  for l in s:gmatch("[^\n]+") do t[#t + 1] = l end
  return t
end

local dir, path
before_each(function()
  dir, path = helpers.setup()
end)
after_each(function()
  collectgarbage()
  helpers.rmrf(dir)
end)

-- A database of several files (with hints), written by the engine.
local function several_files(p)
  local db = helpers.open(p, { max_file_size = 4096 })
  for i = 1, 80 do
    db:set("key" .. (i % 20), string.rep(string.char(97 + i % 26), 120))
  end
  db:set(5, 5.5)
  db:delete("key0")
  db:close()
end

describe("caskdb --help", function()
  it("lists every command and exits 0", function()
    local out, err, code = run { "--help" }
    assert.equal(0, code)
    assert.equal("", err)
    for _, c in ipairs { "shell", "get", "set", "del", "scan", "stats", "check", "repair",
      "merge", "dump", "export", "import", "import-caskdb-py" } do
      assert.matches("\n  " .. c:gsub("%-", "%%-") .. " ", out)
      local o, e, c2 = run { c, "--help" }
      assert.equal(0, c2, c)
      assert.equal("", e)
      assert.matches("^usage: caskdb " .. c:gsub("%-", "%%-"), o)
    end
  end)

  it("exits 2 with a message on stderr for usage errors", function()
    for _, args in ipairs { {}, { "bogus" }, { "get" }, { "get", path, "k", "--nope" },
      { "set", path, "k", "x", "--int" }, { "set", path, "k", "1", "--int", "--bool" },
      { "scan", path, "--limit" } } do
      local out, err, code = run(args)
      assert.equal(2, code, table.concat(args, " "))
      if #args > 0 then
        assert.matches("^caskdb: ", err)
        assert.equal("", out)
      else
        assert.matches("^usage: caskdb", err)
      end
    end
  end)
end)

describe("get, set, del", function()
  it("store typed values the engine reads back", function()
    assert.equal(0, select(3, run { "set", path, "s", "text" }))
    assert.equal(0, select(3, run { "set", path, "i", "-42", "--int" }))
    assert.equal(0, select(3, run { "set", path, "f", "1.5", "--float" }))
    assert.equal(0, select(3, run { "set", path, "n", "nan", "--float" }))
    assert.equal(0, select(3, run { "set", path, "b", "false", "--bool" }))
    assert.equal(0, select(3, run { "set", path, "t", '{"a":[1,2.5,"x"],"b":true}', "--json" }))
    assert.equal(0, select(3, run { "set", path, "7", "int key", "--int-key" }))
    assert.equal(0, select(3, run { "set", path, "ttl", "x", "--ttl", "100" }))
    local db = helpers.open(path, { readonly = true })
    assert.equal("text", db:get("s"))
    assert.equal(-42, db:get("i"))
    assert.equal("integer", math.type(db:get("i")))
    assert.equal("float", math.type(db:get("f")))
    assert.is_true(db:get("n") ~= db:get("n"))
    assert.is_false(db:get("b"))
    assert.same({ a = { 1, 2.5, "x" }, b = true }, db:get("t"))
    assert.equal("int key", db:get(7))
    assert.is_nil(db:get("7"))
    assert.truthy(db:ttl("ttl") > 90)
    db:close()
  end)

  it("get prints strings raw, other types readably, and --json", function()
    local db = helpers.open(path)
    db:set("s", "two\nlines")
    db:set("i", 42)
    db:set("f", 2.0)
    db:set("t", { 1, "x", k = false })
    db:set(-3, "neg")
    db:close()
    assert.same({ "two\nlines\n", "", 0 }, { run { "get", path, "s" } })
    assert.equal('"two\\nlines"\n', (run { "get", path, "s", "--quote" }))
    assert.equal("42\n", (run { "get", path, "i" }))
    assert.equal("2.0\n", (run { "get", path, "f" }))
    assert.equal('{1, "x", k = false}\n', (run { "get", path, "t" }))
    assert.equal("neg\n", (run { "get", path, "-3", "-i" }))
    assert.same({ type = "integer", value = 42 }, json.decode((run { "get", path, "i", "--json" })))
  end)

  it("get and del of a missing key exit 1; a missing database exits 3", function()
    run { "set", path, "a", "1" }
    local out, err, code = run { "get", path, "b" }
    assert.same({ "", 1 }, { out, code })
    assert.matches("not found", err)
    assert.equal(0, select(3, run { "del", path, "a" }))
    assert.equal(1, select(3, run { "del", path, "a" }))
    local _, err2, code2 = run { "get", dir .. "/nothing", "a" }
    assert.equal(3, code2)
    assert.matches("^caskdb: cannot open", err2)
  end)
end)

describe("scan", function()
  before_each(function()
    local db = helpers.open(path)
    for _, k in ipairs { "apple", "apricot", "banana", "cherry", "a\0b" } do db:set(k, k:upper()) end
    db:set(1, true)
    db:set(20, 2.5)
    db:close()
  end)

  it("lists every key in order, readably", function()
    local out, _, code = run { "scan", path }
    assert.equal(0, code)
    assert.same({ "1\ttrue", "20\t2.5", '"a\\x00b"\t"A\\x00B"', '"apple"\t"APPLE"',
      '"apricot"\t"APRICOT"', '"banana"\t"BANANA"', '"cherry"\t"CHERRY"' }, lines(out))
  end)

  it("takes --prefix, --from/--to, --limit, --int-key and --json", function()
    assert.same({ '"apple"\t"APPLE"', '"apricot"\t"APRICOT"' },
      lines((run { "scan", path, "--prefix", "ap" })))
    assert.same({ '"apricot"\t"APRICOT"', '"banana"\t"BANANA"' },
      lines((run { "scan", path, "--from", "apr", "--to", "cherry" })))
    assert.same({ "1\ttrue" }, lines((run { "scan", path, "--limit", "1" })))
    assert.same({ "20\t2.5" }, lines((run { "scan", path, "--from", "2", "--to", "100", "-i" })))
    local js = lines((run { "scan", path, "--json", "--prefix", "a" }))
    assert.equal(3, #js)
    -- NUL is valid UTF-8: plain JSON strings (\u0000); bytes that are not
    -- UTF-8 go as base64
    assert.same({ key = "a\0b", type = "string", value = "A\0B" }, json.decode(js[1]))
    assert.matches('"key":"a\\u0000b"', js[1])
  end)
end)

describe("stats", function()
  it("gives per-file live and dead bytes that add up to the engine's figures", function()
    several_files(path)
    local db = helpers.open(path, { readonly = true })
    local es = db:stats()
    db:close()
    local out, err, code = run { "stats", path, "--json" }
    assert.same({ 0, "" }, { code, err })
    local s = json.decode(out)
    assert.equal(es.keys, s.keys)
    assert.equal(es.live_bytes, s.live_bytes)
    assert.equal(es.disk_bytes, s.disk_bytes)
    assert.equal(es.data_files, #s.files)
    assert.is_true(s.files[1].hint)
    assert.is_false(s.files[#s.files].hint)
    local text = run { "stats", path }
    assert.matches("keys: " .. es.keys, text)
    assert.matches("fragmentation: %d+%.%d%%", text)
    assert.matches("0000000001%.cask", text)
  end)

  it("counts keys hidden by expiry", function()
    caskdb._testing.set_time(1000000)
    local db = helpers.open(path)
    db:set("old", "x", 1)
    db:set("new", "y")
    db:close()
    caskdb._testing.set_time(nil)
    local s = json.decode((run { "stats", path, "--json" }))
    assert.same({ 1, 1 }, { s.keys, s.expired })
  end)
end)

describe("check", function()
  before_each(function() several_files(path) end)

  local function flip(file, off)
    local s = U.read(file)
    U.write(file, s:sub(1, off) .. string.char(s:byte(off + 1) ~ 0x10) .. s:sub(off + 2))
  end

  it("exits 0 on a sound database, a missing hint included", function()
    os.remove(path .. "/0000000001.hint")
    local out, err, code = run { "check", path }
    assert.same({ 0, "" }, { code, err })
    assert.matches("0 errors, 0 warnings", out)
  end)

  it("reports a flipped bit in an older file with file and offset, exit 1", function()
    flip(path .. "/0000000002.cask", 100)
    local out, _, code = run { "check", path }
    assert.equal(1, code)
    assert.matches("ERROR 0000000002%.cask offset %d+: corrupt record", out)
    local js = lines((run { "check", path, "--json" }))
    local p = json.decode(js[1])
    assert.same({ "error", "0000000002.cask" }, { p.severity, p.file })
    assert.is_false(json.decode(js[#js]).clean)
  end)

  it("warns about a torn tail (exit 0, 1 with --strict)", function()
    local files = F.list_files(path)
    local newest = path .. "/" .. files[#files].name
    U.write(newest, U.read(newest):sub(1, -5))
    local out, _, code = run { "check", path }
    assert.equal(0, code)
    assert.matches("WARNING " .. files[#files].name .. " offset %d+: torn tail", out)
    assert.equal(1, select(3, run { "check", path, "--strict" }))
  end)

  it("warns about a damaged hint and flags a hint that lies", function()
    local h = path .. "/0000000001.hint"
    local s = U.read(h)
    U.write(h, s:sub(1, -2))
    local out, _, code = run { "check", path }
    assert.equal(0, code)
    assert.matches("WARNING 0000000001%.hint offset %d+: .*ignored", out)
    -- a sound hint (CRCs fine) that lies: two records' places swapped
    local data = U.read(path .. "/0000000001.cask")
    local hints = F.read_hint(s, 1, 0, #data)
    local parts = { F.encode_file_header { kind = F.KIND_HINT, id = 1 } }
    for i, x in ipairs(hints) do
      local y = i == 1 and hints[2] or i == 2 and hints[1] or x
      local kind, kb = F.key_bytes(x.key)
      parts[#parts + 1] = F.encode_hint(x.type == "put" and 1 or 2, kind, kb, x.timestamp,
        x.expiry, y.offset, y.size)
    end
    parts[#parts + 1] = F.encode_hint(F.HINT_END, 0, "", 0, 0, #data, #hints)
    U.write(h, table.concat(parts))
    assert.truthy(F.read_hint(U.read(h), 1, 0, #data))
    out, _, code = run { "check", path }
    assert.equal(1, code)
    assert.matches("ERROR 0000000001%.hint offset 24: the hint does not match", out)
  end)

  it("reports a garbage file named like a data file, and ignores other names", function()
    U.write(path .. "/notes.txt", "hello")
    assert.equal(0, select(3, run { "check", path }))
    U.write(path .. "/0000000099.cask", string.rep("garbage ", 20))
    local out, _, code = run { "check", path }
    assert.equal(1, code)
    assert.matches("ERROR 0000000099%.cask offset 0: bad file header", out)
  end)
end)

describe("repair", function()
  it("copies what is readable into a new database and reports the loss", function()
    several_files(path)
    local victim = path .. "/0000000002.cask"
    local s = U.read(victim)
    U.write(victim, s:sub(1, 200) .. "\255\255\255\255" .. s:sub(205))
    local before = {}
    for _, n in ipairs(U.ls(path)) do before[n] = U.read(path .. "/" .. n) end
    local src_open = caskdb.open(path, { readonly = true })
    -- through the hint the engine still opens; read in full it would not
    if src_open then src_open:close() end
    local dest = dir .. "/fixed"
    local out, _, code = run { "repair", path, dest }
    assert.equal(1, code)
    assert.matches("LOST 0000000002%.cask offset %d+: corrupt record", out)
    assert.matches("recovered %d+ keys", out)
    for n, b in pairs(before) do assert.equal(b, U.read(path .. "/" .. n), n) end
    local db = helpers.open(dest, { readonly = true })
    local n = db:count()
    assert.truthy(n >= 15)
    assert.equal(5.5, db:get(5))
    db:close()
    assert.equal(0, select(3, run { "check", dest }))
    -- a sound database repairs with nothing lost
    local out2, _, code2 = run { "repair", dest, dir .. "/again" }
    assert.equal(0, code2)
    assert.matches("nothing lost", out2)
    assert.equal(3, select(3, run { "repair", dest, dir .. "/again" })) -- not empty
  end)
end)

describe("merge", function()
  it("compacts through the engine, or says the module cannot", function()
    several_files(path)
    local db = helpers.open(path)
    local has_merge = db.merge ~= nil
    db:close()
    local out, err, code = run { "merge", path }
    if not has_merge then
      assert.equal(3, code)
      assert.matches("no merge", err)
      return
    end
    assert.equal(0, code)
    assert.matches("merged: %d+ %-> %d+ bytes", out)
    assert.equal(0, select(3, run { "check", path }))
  end)
end)

describe("dump", function()
  it("prints every record in file order, and damage as BAD", function()
    local db = helpers.open(path)
    db:set("a", 1)
    db:batch(function(b) b:set("b", "x"); b:delete("a") end)
    db:set(9, { 1 }, 60, 3)
    db:close()
    local out, _, code = run { "dump", path }
    assert.equal(0, code)
    local l = lines(out)
    assert.equal(5, #l)
    assert.matches('^0000000001%.cask 24 PUT "a" 1 tag=1 size=%d+$', l[1])
    assert.matches('BATCH_PUT "b" "x"', l[2])
    assert.matches('BATCH_DELETE "a"', l[3])
    assert.matches("BATCH_END count=2", l[4])
    assert.matches("PUT 9 {1} tag=4 expiry=%d+ flags=3", l[5])
    local js = lines((run { "dump", path, "--json" }))
    assert.same({ "put", "a", "integer", 1 }, { json.decode(js[1]).type, json.decode(js[1]).key,
      json.decode(js[1]).value_type, json.decode(js[1]).value })
    local s = U.read(path .. "/0000000001.cask")
    -- byte 31 is in the first record's timestamp: flip all its bits (writing
    -- a zero would change nothing when the byte happens to be zero already)
    U.write(path .. "/0000000001.cask", s:sub(1, 30) .. string.char(s:byte(31) ~ 0xff) .. s:sub(32))
    out = run { "dump", path }
    assert.matches("^0000000001%.cask 24 BAD bad %(CRC mismatch%), %d+ bytes skipped", out)
  end)
end)

describe("export and import", function()
  it("round-trip every type, binary keys and values, expiry and flags", function()
    local db = helpers.open(path)
    db:set("text", "héllo")
    db:set("bin\255", "\0\1\255")
    db:set(-7, math.mininteger)
    db:set("f", -0.0)
    db:set("inf", 1 / 0)
    db:set("yes", true)
    db:set("tbl", { 1, { x = "y" } })
    db:set("ttl", "v", 1000)
    db:set("flags", "v", nil, 42)
    db:close()
    local out, err, code = run { "export", path }
    assert.same({ 0, "" }, { code, err })
    local l = lines(out)
    assert.equal(9, #l)
    assert.same({ key = -7, type = "integer", value = math.mininteger }, json.decode(l[1]))
    for _, line in ipairs(l) do
      local o = json.decode(line)
      if o.key == "f" then assert.equal('{"key":"f","type":"float","value":-0.0}', line) end
      if o.key == "flags" then assert.equal(42, o.flags) end
      if o.key == "ttl" then assert.truthy(o.expiry > os.time() * 1000) end
    end
    local f = dir .. "/x.jsonl"
    U.write(f, out)
    local _, err2, code2 = run { "import", dir .. "/copy", f }
    assert.equal(0, code2)
    assert.matches("imported 9 keys", err2)
    local a = U.engine_pairs(path)
    local b = U.engine_pairs(dir .. "/copy")
    U.assert_same_pairs(a, b, "copy")
    -- the same lines, but for the expiry: the binding takes a time to live,
    -- so the copy's expiry may move by the time the import took
    local again = run { "export", dir .. "/copy" }
    local e1, e2 = out:match('"expiry":(%d+)'), again:match('"expiry":(%d+)')
    assert.truthy(math.abs(tonumber(e1) - tonumber(e2)) < 3000)
    assert.equal((out:gsub('"expiry":%d+', "")), (again:gsub('"expiry":%d+', "")))
    -- import from stdin, and a bad line stops everything with its number
    assert.equal(0, select(3, run({ "import", dir .. "/stdin" }, '{"key":"k","value":"v"}\n')))
    local _, e3, c3 = run({ "import", dir .. "/bad" }, '{"key":"k","value":"v"}\n{"key":1,"type":"integer","value":"x"}\n')
    assert.equal(3, c3)
    assert.matches("line 2: ", e3)
    assert.is_false(helpers.exists(dir .. "/bad"))
  end)

  it("show no progress when stderr is not a terminal, unless --progress", function()
    several_files(path)
    local _, err = run { "export", path, dir .. "/o.jsonl" }
    assert.equal("", err)
    local _, err2 = run { "check", path, "--progress" }
    assert.matches("check +100%%", err2)
    assert.matches("records/s", err2)
  end)
end)

describe("shell", function()
  it("runs commands from a pipe", function()
    local script = table.concat({
      'set greeting "hello\\nworld"',
      "set n 5 --int",
      "set -i 3 three",
      "get greeting",
      "get n",
      "get -i 3",
      "get missing",
      "count",
      "scan --prefix gr",
      "prefix n",
      "del n",
      "del n",
      "set x",
      "bogus",
      "stats",
      "help",
      "quit",
      "get n",
    }, "\n")
    local out, err, code = run({ "shell", path }, script)
    assert.same({ 0, "" }, { code, err })
    local l = lines(out)
    assert.same({ "ok", "ok", "ok", '"hello\\nworld"', "5", '"three"', "(nil)", "3",
      '"greeting"\t"hello\\nworld"', "(1 keys)", '"n"\t5', "(1 keys)", "deleted", "(not found)" },
      { table.unpack(l, 1, 14) })
    assert.matches("^error: ", l[15])
    assert.equal("unknown command: bogus (try help)", l[16])
    assert.matches("keys: 2", out)
    assert.matches("quit", out)
    local db = helpers.open(path, { readonly = true })
    assert.equal("hello\nworld", db:get("greeting"))
    assert.is_nil(db:get("n"))
    db:close()
  end)
end)

describe("import-caskdb-py", function()
  -- A file as the original Python CaskDB writes it: sizes are character
  -- counts (len() of a str) when `chars`, byte counts otherwise.
  local function py_file(records, chars)
    local out = {}
    for i, r in ipairs(records) do
      local k, v = r[1], r[2]
      local ks = chars and utf8.len(k) or #k
      local vs = chars and utf8.len(v) or #v
      out[#out + 1] = string.pack("<I4 I4 I4", 1600000000 + i, ks, vs) .. k .. v
    end
    return table.concat(out)
  end
  local records = {
    { "name", "Zoë" }, { "città", "Roma" }, { "emoji", "😀 ok" }, { "name", "Zoë again" },
    { "ascii", "plain" }, { "κλειδί", "τιμή" }, { "", "empty key" }, { "città", "Milano" },
  }
  local expected = {
    { "", "empty key" }, { "ascii", "plain" }, { "città", "Milano" }, { "emoji", "😀 ok" },
    { "name", "Zoë again" }, { "κλειδί", "τιμή" },
  }

  it("reads character counts, as the original wrote them", function()
    local f = dir .. "/py.db"
    U.write(f, py_file(records, true))
    local out, err, code = run { "import-caskdb-py", f, path }
    assert.same({ 0, "" }, { code, err })
    assert.matches("imported 8 records %(6 keys%).*as characters counts", out)
    U.assert_same_pairs(expected, U.engine_pairs(path), "chars")
  end)

  it("falls back to byte counts for files from forks that fixed the quirk", function()
    local f = dir .. "/py.db"
    U.write(f, py_file(records, false))
    local out, _, code = run { "import-caskdb-py", f, path, "--json" }
    assert.equal(0, code)
    assert.same({ records = 8, keys = 6, reading = "bytes", ascii = false }, json.decode(out))
    U.assert_same_pairs(expected, U.engine_pairs(path), "bytes")
  end)

  it("says both readings agree for an ASCII file, and refuses garbage", function()
    local f = dir .. "/py.db"
    U.write(f, py_file({ { "a", "1" }, { "b", "2" }, { "a", "3" } }, true))
    local out, _, code = run { "import-caskdb-py", f, path }
    assert.equal(0, code)
    assert.matches("ASCII only", out)
    U.assert_same_pairs({ { "a", "3" }, { "b", "2" } }, U.engine_pairs(path), "ascii")
    U.write(f, py_file({ { "a", "1" } }, true) .. "\1\2\3")
    local _, err, code2 = run { "import-caskdb-py", f, dir .. "/other" }
    assert.equal(3, code2)
    assert.matches("not a Python CaskDB file.*offset 14.*offset 14", err)
  end)
end)

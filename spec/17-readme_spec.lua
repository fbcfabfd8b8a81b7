-- Examples are tests: every Lua and C code block of README.md runs here.
-- A Lua block that does not open the database itself gets `caskdb` and an
-- open `db` first.
local helpers = require "spec.helpers"

local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function write_file(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

local function blocks(lang)
  local out = {}
  for code in read_file("README.md"):gmatch("```" .. lang .. "\n(.-)```") do
    out[#out + 1] = code
  end
  return out
end

local function build_dir()
  return os.getenv("CASKDB_BUILD") or "build"
end

local root = io.popen("pwd"):read("*l")

-- package.cpath with every relative entry made absolute.
local function absolute_cpath()
  local parts = {}
  for entry in package.cpath:gmatch("[^;]+") do
    if entry:sub(1, 1) ~= "/" then entry = root .. "/" .. entry end
    parts[#parts + 1] = entry
  end
  return table.concat(parts, ";")
end

describe("README", function()
  it("has Lua and C examples", function()
    assert.is_true(#blocks("lua") >= 2)
    assert.is_true(#blocks("c") >= 1)
  end)

  for i, code in ipairs(blocks("lua")) do
    it("Lua example " .. i .. " runs", function()
      local dir = helpers.tmpdir()
      local prelude = ""
      if not code:find('require "caskdb"', 1, true) then
        prelude = 'local caskdb = require "caskdb"; ' ..
                  'local db = assert(caskdb.open("prelude.db"))\n'
      end
      write_file(dir .. "/example.lua", prelude .. code)
      local cmd = ("cd %s && %s -e 'package.cpath=%q' example.lua >out 2>&1")
        :format(helpers.quote(dir), helpers.interpreter, absolute_cpath())
      local ok = helpers.execute(cmd)
      local out = read_file(dir .. "/out")
      helpers.rmrf(dir)
      assert(ok == true, out)
    end)
  end

  for i, code in ipairs(blocks("c")) do
    it("C example " .. i .. " compiles, links and runs", function()
      local lib = build_dir() .. "/libcaskdb.a"
      if lib:sub(1, 1) ~= "/" then lib = root .. "/" .. lib end
      local dir = helpers.tmpdir()
      write_file(dir .. "/example.c", code)
      local san = build_dir():find("asan") and " -fsanitize=address,undefined" or ""
      local cmd = ("cd %s && cc -std=c11 -Wall -Wextra -Werror%s -I%s/core/include " ..
                   "example.c %s -lpthread -o example >out 2>&1 && ./example >>out 2>&1")
        :format(helpers.quote(dir), san, root, lib)
      local ok = helpers.execute(cmd)
      local out = read_file(dir .. "/out")
      helpers.rmrf(dir)
      assert(ok == true, out)
    end)
  end
end)

-- The rockspec builds the module from its own list of C files: that list
-- must name every engine source, and `luarocks make` must build a module
-- that loads, offline, into a private tree.
local helpers = require "spec.helpers"

local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function sorted(t)
  table.sort(t)
  return t
end

describe("rockspec", function()
  local rockspec = "rockspec/caskdb-scm-1.rockspec"

  it("lists every C source of the engine and the binding", function()
    local listed = {}
    for src in read_file(rockspec):gmatch('"((%a+)/src/[%w_]+%.c)"') do
      listed[#listed + 1] = src
    end
    for src in read_file(rockspec):gmatch('"(lua/[%w_]+%.c)"') do
      listed[#listed + 1] = src
    end
    local present = {}
    local p = assert(io.popen("ls core/src/*.c lua/*.c"))
    for line in p:lines() do present[#present + 1] = line end
    p:close()
    assert.same(sorted(present), sorted(listed))
  end)

  -- `luarocks make` for one Lua version (the rock's ABI: LuaJIT loads what
  -- is built for 5.1), the module then loaded by `interpreter`.
  local function luarocks_make(abi, interpreter)
    if not helpers.execute("command -v luarocks >/dev/null 2>&1") then
      pending("luarocks is not installed")
      return
    end
    local tree = helpers.tmpdir()
    local build = helpers.tmpdir()
    -- Build from a copy so the work tree gets no objects.
    assert(helpers.execute(("cp -r core lua rockspec bin %q/"):format(build)))
    local cmd = ("cd %q && luarocks --lua-version=%s make --tree=%q " ..
                 "rockspec/caskdb-scm-1.rockspec >%q/log 2>&1"):format(build, abi, tree, build)
    local ok = helpers.execute(cmd)
    if ok ~= true then print(read_file(build .. "/log")) end
    assert.is_true(ok)
    local check = ("%s -e 'package.cpath=%q; local c = require \"caskdb\"; " ..
                   "io.write(c.version)'"):format(interpreter, tree .. "/lib/lua/" .. abi .. "/?.so")
    local p = assert(io.popen(check))
    local out = p:read("*a")
    p:close()
    assert.equal(require("caskdb").version, out)
    helpers.rmrf(tree)
    helpers.rmrf(build)
  end

  -- Every run of the suite builds the rock for the Lua that runs it, so CI
  -- (which runs the suite under 5.1, 5.2, 5.3, 5.4 and LuaJIT) builds all.
  local abi = helpers.lua == "luajit" and "5.1" or helpers.lua
  it("builds with luarocks make --lua-version=" .. abi .. " into a private tree, "
      .. "and the module loads in " .. helpers.interpreter, function()
    luarocks_make(abi, helpers.interpreter)
  end)

  it("asks for lua >= 5.1 (one source for 5.1 to 5.4 and LuaJIT)", function()
    assert.matches('"lua >= 5%.1",', read_file(rockspec))
  end)
end)

-- The rockspec builds the module from its own list of C files: that list
-- must name every engine source, and `luarocks make` must build a module
-- that loads, offline, into a private tree.
local helpers = require "spec.helpers"

local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
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

  it("builds with luarocks make into a private tree, and the module loads", function()
    if os.execute("command -v luarocks >/dev/null 2>&1") ~= true then
      pending("luarocks is not installed")
      return
    end
    local tree = helpers.tmpdir()
    local build = helpers.tmpdir()
    -- Build from a copy so the work tree gets no objects.
    assert(os.execute(("cp -r core lua rockspec bin %q/"):format(build)))
    local cmd = ("cd %q && luarocks --lua-version=5.4 make --tree=%q " ..
                 "rockspec/caskdb-scm-1.rockspec >%q/log 2>&1"):format(build, tree, build)
    local ok = os.execute(cmd)
    if ok ~= true then print(read_file(build .. "/log")) end
    assert.is_true(ok)
    local check = ("lua5.4 -e 'package.cpath=%q; local c = require \"caskdb\"; " ..
                   "io.write(c.version)'"):format(tree .. "/lib/lua/5.4/?.so")
    local p = assert(io.popen(check))
    local out = p:read("a")
    p:close()
    assert.equal(require("caskdb").version, out)
    helpers.rmrf(tree)
    helpers.rmrf(build)
  end)
end)

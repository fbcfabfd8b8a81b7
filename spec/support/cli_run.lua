-- Run bin/caskdb as a separate process for the CLI specs.
local helpers = require "spec.helpers"
local M = {}

local BIN = "lua5.4 bin/caskdb"

-- Run `caskdb ARGS` (a list of words, quoted here) with `input` on stdin;
-- returns stdout, stderr, exit code.
function M.run(args, input, env)
  local dir = helpers.tmpdir()
  local words = {}
  for i, a in ipairs(args) do words[i] = helpers.quote(a) end
  local inf = dir .. "/in"
  local f = assert(io.open(inf, "wb"))
  f:write(input or "")
  f:close()
  local cmd = (env or "") .. " " .. BIN .. " " .. table.concat(words, " ") .. " <" .. helpers.quote(inf)
    .. " >" .. helpers.quote(dir .. "/out") .. " 2>" .. helpers.quote(dir .. "/err")
  local ok, how, code = os.execute(cmd)
  local function slurp(name)
    local h = assert(io.open(dir .. "/" .. name, "rb"))
    local s = h:read("a")
    h:close()
    return s
  end
  local out, err = slurp("out"), slurp("err")
  helpers.rmrf(dir)
  return out, err, (how == "exit" and code or 128 + (code or 0))
end

return M

-- What the nginx specs (15 and 30) share: running commands without a
-- sanitizer's preload, small file helpers, and finding the nginx modules.
local helpers = require "spec.helpers"
local M = {}

-- Run a shell command; true if it exited with 0.  nginx and curl must not
-- inherit a sanitizer's LD_PRELOAD (the specs run under ASan that way).
function M.run(cmd)
  local ok, how, code = helpers.execute("env -u LD_PRELOAD sh -c " .. helpers.quote(cmd))
  return ok == true and how == "exit" and code == 0
end

-- The bytes of a file, or nil.
function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

function M.write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

-- The directory holding both nginx modules (ndk and lua), or nil.
function M.module_dir()
  for _, dir in ipairs({ "/usr/lib/nginx/modules", "/usr/share/nginx/modules",
                          "/usr/lib64/nginx/modules" }) do
    if helpers.exists(dir .. "/ngx_http_lua_module.so")
      and helpers.exists(dir .. "/ndk_http_module.so") then
      return dir
    end
  end
end

return M

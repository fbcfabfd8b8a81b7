-- ngx.shared.DICT compatibility, proved against the real thing: the script
-- spec/support/dict_compat.lua runs inside nginx (Debian's nginx with
-- libnginx-mod-http-lua, on a loopback port, under a temporary prefix)
-- against a lua_shared_dict, and under Lua 5.4 against a CaskDB handle; the
-- two transcripts must be equal line for line, except for the lines listed
-- in ALLOWED below, each with both expected texts and the reason.
--
-- nginx and the lua module are installed by scripts/deps.sh.  If they are
-- missing this spec fails and says so; set CASKDB_SKIP_NGINX=1 to mark it
-- pending instead (on a machine that cannot have nginx).
local helpers = require "spec.helpers"
local caskdb = helpers.caskdb
local compat = require "spec.support.dict_compat"
local quote = helpers.quote

-- Every line allowed to differ: what nginx prints, what CaskDB prints, why.
local ALLOWED = {
  ["get large flags"] = {
    nginx = 's:"v", n:-2147483648',
    caskdb = 's:"v", n:4294967295',
    why = "DICT passes flags through a C int, so 2^32-1 comes back mangled; "
      .. "CaskDB keeps flags as an unsigned 32-bit integer (0 to 2^32-1)",
  },
  ["replace with nil deletes"] = {
    nginx = 'b:false, s:"attempt to add or replace nil values", b:false',
    caskdb = "error",
    why = "a nil value for add/replace is a programming error: CaskDB raises "
      .. "(DESIGN.md section 5) where DICT returns false, message",
  },
  ["add nil on missing"] = {
    nginx = 'b:false, s:"attempt to add or replace nil values", b:false',
    caskdb = "error",
    why = "as for replace with nil",
  },
  ["delete existing"] = {
    nginx = "b:true, nil, b:false",
    caskdb = "b:true",
    why = "CaskDB's delete returns whether the key existed (DESIGN.md "
      .. "section 4); DICT's delete is set(key, nil)",
  },
  ["delete missing"] = {
    nginx = "b:true, nil, b:false",
    caskdb = "b:false",
    why = "as for delete existing: false tells the key was not there",
  },
  ["set table value"] = {
    nginx = 'nil, s:"bad value type"',
    caskdb = "b:true, nil, b:false",
    why = "CaskDB stores tables (MessagePack); DICT cannot",
  },
  ["set function value"] = {
    nginx = 'nil, s:"bad value type"',
    caskdb = "error",
    why = "a value that cannot be stored is a programming error: CaskDB raises",
  },
  ["get nil key"] = {
    nginx = 'nil, s:"nil key"',
    caskdb = "error",
    why = "a bad key is a programming error: CaskDB raises",
  },
  ["set nil key"] = {
    nginx = 'nil, s:"nil key"',
    caskdb = "error",
    why = "a bad key is a programming error: CaskDB raises",
  },
  ["set empty key"] = {
    nginx = 'nil, s:"empty key"',
    caskdb = "b:true, nil, b:false",
    why = "the empty string is a valid CaskDB key (DESIGN.md section 5)",
  },
  ["get empty key"] = {
    nginx = 'nil, s:"empty key"',
    caskdb = "n:1",
    why = "the empty string is a valid CaskDB key",
  },
  ["get number key as string"] = {
    nginx = 's:"twelve"',
    caskdb = "nil",
    why = "DICT turns every key into a string; CaskDB keeps integer keys "
      .. "apart from string keys (12 and \"12\" are two keys)",
  },
}

local function lines(s)
  local t = {}
  for l in s:gmatch("([^\n]*)\n") do
    t[#t + 1] = l
  end
  return t
end

local nginx_util = require "spec.support.nginx_util"
local run, read, write = nginx_util.run, nginx_util.read, nginx_util.write
local module_dir = nginx_util.module_dir

local NGINX_CONF = [[
load_module %s/ndk_http_module.so;
load_module %s/ngx_http_lua_module.so;
worker_processes 1;
error_log logs/error.log;
pid logs/nginx.pid;
events { worker_connections 16; }
http {
  access_log off;
  client_body_temp_path tmp;
  proxy_temp_path tmp;
  fastcgi_temp_path tmp;
  uwsgi_temp_path tmp;
  scgi_temp_path tmp;
  lua_shared_dict compat 1m;
  lua_package_path "%s/?.lua;;";
  server {
    listen 127.0.0.1:%d;
    location = /compat {
      content_by_lua_block {
        local compat = require "dict_compat"
        ngx.print(compat.run(ngx.shared.compat, function(s) ngx.sleep(s) end))
      }
    }
  }
}
]]

-- Run the script in nginx under prefix `dir`; the transcript, or nil and
-- why.  nginx is always stopped before this returns.
local function nginx_transcript(dir, modules)
  assert(run("mkdir -p " .. quote(dir .. "/logs") .. " " .. quote(dir .. "/tmp")))
  -- nginx started as root runs its worker as nobody: let it in
  assert(run("chmod 755 " .. quote(dir) .. " " .. quote(dir:match("^(.*)/[^/]+$"))))
  write(dir .. "/dict_compat.lua", assert(read("spec/support/dict_compat.lua")))
  local conf, pidfile = dir .. "/nginx.conf", dir .. "/logs/nginx.pid"
  local started, port
  for _ = 1, 5 do -- a random port; try another if it is taken
    port = math.random(20000, 60000)
    write(conf, NGINX_CONF:format(modules, modules, dir, port))
    if run("nginx -p " .. quote(dir) .. " -c " .. quote(conf)
        .. " -g 'daemon on;' >" .. quote(dir .. "/start.out") .. " 2>&1") then
      started = true
      break
    end
  end
  if not started then
    return nil, "nginx did not start: " .. tostring(read(dir .. "/start.out"))
      .. tostring(read(dir .. "/logs/error.log"))
  end
  local out = dir .. "/transcript"
  local got = run("curl -sS --fail --max-time 30 -o " .. quote(out)
    .. (" http://127.0.0.1:%d/compat"):format(port) .. " 2>" .. quote(dir .. "/curl.err"))
  -- stop nginx and wait (bounded) until its master has gone
  local pid = (read(pidfile) or ""):match("%d+")
  run("nginx -p " .. quote(dir) .. " -c " .. quote(conf) .. " -s stop >/dev/null 2>&1")
  if pid then
    for _ = 1, 200 do
      if not run("kill -0 " .. pid .. " 2>/dev/null") then break end
      run("sleep 0.02")
    end
    run("kill -9 " .. pid .. " 2>/dev/null")
  end
  if not got then
    return nil, "curl failed: " .. tostring(read(dir .. "/curl.err"))
      .. tostring(read(dir .. "/logs/error.log"))
  end
  return read(out)
end

-- Run the script against CaskDB with the test clock.
local function caskdb_transcript(path)
  local now = 1700000000000
  caskdb._testing.set_time(now)
  local db = helpers.open(path)
  local ok, res = pcall(compat.run, db, function(s)
    now = now + math.floor(s * 1000 + 0.5)
    caskdb._testing.set_time(now)
  end)
  db:close()
  caskdb._testing.set_time(nil)
  assert(ok, res)
  return res
end

describe("ngx.shared.DICT compatibility", function()
  local dir, path
  before_each(function()
    dir, path = helpers.setup()
  end)
  after_each(function()
    caskdb._testing.set_time(nil)
    helpers.rmrf(dir)
  end)

  local have_nginx = run("command -v nginx >/dev/null 2>&1")
    and run("command -v curl >/dev/null 2>&1")
  local modules = module_dir()
  local skip = os.getenv("CASKDB_SKIP_NGINX") == "1"
  local test = (skip and not (have_nginx and modules)) and pending or it

  test("the same script gives the same transcript in nginx and in CaskDB", function()
    assert(have_nginx, "nginx or curl is missing: run scripts/deps.sh "
      .. "(or set CASKDB_SKIP_NGINX=1)")
    assert(modules, "the nginx lua module is missing (libnginx-mod-http-lua)")
    local ngx_out, why = nginx_transcript(dir .. "/nginx", modules)
    assert(ngx_out, why)
    local cdb_out = caskdb_transcript(path)
    local a, b = lines(ngx_out), lines(cdb_out)
    assert.is_true(#a > 140, "short nginx transcript:\n" .. ngx_out)
    assert.equal(#a, #b)
    local used = {}
    for i = 1, #a do
      local la, ra = a[i]:match("^(.-) %-> (.*)$")
      local lb, rb = b[i]:match("^(.-) %-> (.*)$")
      assert.equal(la, lb, "line " .. i)
      if ra ~= rb then
        local allowed = ALLOWED[la]
        assert(allowed, ("line %d differs and is not allowed:\n  nginx:  %s\n"
          .. "  caskdb: %s"):format(i, a[i], b[i]))
        assert.equal(allowed.nginx, ra, "nginx side of " .. la)
        assert.equal(allowed.caskdb, rb, "CaskDB side of " .. la)
        used[la] = true
      end
    end
    for label in pairs(ALLOWED) do
      assert(used[label], "allowed difference not seen: " .. label)
    end
  end)

  it("gives CaskDB's transcript exactly again on a fresh database", function()
    assert.equal(caskdb_transcript(path), caskdb_transcript(dir .. "/db2"))
  end)
end)

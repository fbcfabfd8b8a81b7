-- CaskDB inside nginx for real: Debian's nginx with libnginx-mod-http-lua
-- (OpenResty's lua module; its Lua is LuaJIT, so it loads the module built
-- for LuaJIT, build-luajit/lua/caskdb.so), two workers, a loopback port, a
-- temporary prefix, driven over HTTP with curl.  The application is
-- spec/support/nginx_app.lua (the pattern the README recommends: worker 0
-- is the one writer, every worker reads through read-only handles); the
-- configuration is spec/support/nginx_app.conf.
--
-- The spec runs where the module under test is the LuaJIT build: under
-- `luajit /usr/bin/busted` (scripts/test.sh does that run), or with
-- CASKDB_LUAJIT_MODULE=/path/to/caskdb.so under any interpreter.  Elsewhere
-- it is pending.  nginx, its lua module and curl are installed by
-- scripts/deps.sh; if they are missing it fails, unless CASKDB_SKIP_NGINX=1.
local helpers = require "spec.helpers"
local quote = helpers.quote

local nginx_util = require "spec.support.nginx_util"
local run, read, write = nginx_util.run, nginx_util.read, nginx_util.write
local module_dir = nginx_util.module_dir

-- The LuaJIT build of the module, or nil.
local function luajit_module()
  local env = os.getenv("CASKDB_LUAJIT_MODULE")
  if env and env ~= "" then return env end
  if helpers.lua == "luajit" then
    return (helpers.searchpath("caskdb", package.cpath))
  end
end

local root = io.popen("pwd"):read("*l")

-- One nginx under prefix `dir`.
local Nginx = {}
Nginx.__index = Nginx

local function new_nginx(dir, modules, module)
  local self = setmetatable({ dir = dir, conf = dir .. "/nginx.conf" }, Nginx)
  assert(run("mkdir -p " .. quote(dir .. "/logs") .. " " .. quote(dir .. "/tmp")))
  local template = assert(read("spec/support/nginx_app.conf"))
  local is_root = (io.popen("id -u"):read("*l") == "0")
  local subst = {
    MODULES = modules,
    -- as root, workers would run as nobody: keep them root, so that they
    -- can use the databases under our private temporary directory
    USER = is_root and "user root;" or "",
    SUPPORT = root .. "/spec/support",
    CPATH = (module:gsub("caskdb%.so$", "?.so")),
    DB = ("%q"):format(dir .. "/db"),
    MASTER_DB = ("%q"):format(dir .. "/master.db"),
    PORT = "@PORT@", -- filled in at each start
  }
  self.template = template:gsub("@(%u[%u_]*)@", function(name)
    return assert(subst[name], name)
  end)
  return self
end

function Nginx:log()
  return tostring(read(self.dir .. "/start.out")) .. tostring(read(self.dir .. "/logs/error.log"))
end

-- Start on a random free port (the same one on a restart).
function Nginx:start()
  for _ = 1, 5 do
    self.port = self.port or math.random(20000, 60000)
    write(self.conf, (self.template:gsub("@PORT@", tostring(self.port))))
    if run("nginx -p " .. quote(self.dir) .. " -c " .. quote(self.conf)
        .. " -g 'daemon on;' >" .. quote(self.dir .. "/start.out") .. " 2>&1") then
      self.pid = (read(self.dir .. "/logs/nginx.pid") or ""):match("%d+")
      return true
    end
    if self.fixed_port then break end
    self.port = nil
  end
  return false
end

function Nginx:signal(sig)
  return run("nginx -p " .. quote(self.dir) .. " -c " .. quote(self.conf)
    .. " -s " .. sig .. " >/dev/null 2>&1")
end

-- Stop and wait (bounded) until the master has gone.
function Nginx:stop()
  self:signal("stop")
  if self.pid then
    for _ = 1, 250 do
      if not run("kill -0 " .. self.pid .. " 2>/dev/null") then break end
      run("sleep 0.02")
    end
    run("kill -9 " .. self.pid .. " 2>/dev/null")
    self.pid = nil
  end
end

-- GET a path; the answer as { worker = id, pid = pid, text = rest }.
function Nginx:get(path)
  local out = self.dir .. "/curl.out"
  local ok = run("curl -sS --fail --max-time 15 -o " .. quote(out) .. " "
    .. quote(("http://127.0.0.1:%d%s"):format(self.port, path))
    .. " 2>" .. quote(self.dir .. "/curl.err"))
  assert(ok, "curl " .. path .. " failed: " .. tostring(read(self.dir .. "/curl.err"))
    .. self:log())
  local body = read(out)
  local worker, pid, text = body:match("^worker=(%d+) pid=(%d+) (.-)\n$")
  assert(worker, "unexpected answer to " .. path .. ": " .. body)
  return { worker = tonumber(worker), pid = pid, text = text }
end

describe("CaskDB in nginx-lua (2 workers, one writer)", function()
  local have_nginx = run("command -v nginx >/dev/null 2>&1")
    and run("command -v curl >/dev/null 2>&1")
  local modules = module_dir()
  local module = luajit_module()
  local skip = os.getenv("CASKDB_SKIP_NGINX") == "1"
  if not module then
    pending("runs with the LuaJIT build of the module (luajit /usr/bin/busted, "
      .. "or CASKDB_LUAJIT_MODULE=.../caskdb.so)")
    return
  end
  if skip and not (have_nginx and modules) then
    pending("nginx or its lua module is missing (CASKDB_SKIP_NGINX=1)")
    return
  end

  local dir, ngx
  setup(function()
    math.randomseed(os.time())
    assert(have_nginx, "nginx or curl is missing: run scripts/deps.sh "
      .. "(or set CASKDB_SKIP_NGINX=1)")
    assert(modules, "the nginx lua module is missing (libnginx-mod-http-lua)")
    dir = helpers.tmpdir()
    ngx = new_nginx(dir .. "/nginx", modules, module)
    assert(ngx:start(), "nginx did not start: " .. ngx:log())
  end)
  teardown(function()
    if ngx then ngx:stop() end
    if dir then helpers.rmrf(dir) end
  end)

  -- Write n keys through /set, then read them all back through /get; the
  -- workers that answered.
  local function write_and_read(prefix, n)
    local seen = {}
    for i = 1, n do
      local a = ngx:get(("/set?k=%s%d&v=value%d"):format(prefix, i, i))
      assert.equal("ok", a.text)
      seen[a.worker] = true
    end
    for i = 1, n do
      local a = ngx:get(("/get?k=%s%d"):format(prefix, i))
      assert.equal("value=value" .. i, a.text)
      seen[a.worker] = true
    end
    return seen
  end

  it("reads in one request what another wrote, whichever worker serves it", function()
    local seen = write_and_read("a", 30)
    -- reuseport spreads the connections over both workers
    assert.is_true(seen[0] and seen[1], "one worker served every request")
    assert.equal("value=nil", ngx:get("/get?k=missing").text)
  end)

  it("a handle opened in init_by_lua reads in the workers after fork()", function()
    local a = ngx:get("/master/get?k=seed")
    assert.equal("value=written by the master", a.text)
  end)

  it("a handle opened in init_by_lua refuses to write in a worker, clearly", function()
    for _ = 1, 4 do -- whichever worker answers
      local a = ngx:get("/master/set?k=x")
      assert.matches("^error caskdb: this handle of .*master%.db was opened by the parent "
        .. "process; open the database again after fork%(%)$", a.text)
    end
    assert.equal("value=nil", ngx:get("/master/get?k=x").text)
    -- and the rest of nginx goes on working
    assert.equal("value=value1", ngx:get("/get?k=a1").text)
  end)

  it("the database survives nginx -s reload (new workers, a new writer)", function()
    local old = {}
    for _ = 1, 6 do old[ngx:get("/get?k=a1").pid] = true end
    assert.is_true(ngx:signal("reload"), ngx:log())
    -- wait (bounded) until the new workers answer
    local new
    for _ = 1, 250 do
      local a = ngx:get("/get?k=a1")
      if not old[a.pid] then new = a break end
      run("sleep 0.02")
    end
    assert(new, "no new worker answered after the reload")
    assert.equal("value=value1", new.text)
    write_and_read("b", 10)
    for i = 1, 30 do
      assert.equal("value=value" .. i, ngx:get("/get?k=a" .. i).text)
    end
  end)

  it("the database survives a stop and a start", function()
    ngx:stop()
    ngx.fixed_port = true
    assert(ngx:start(), "nginx did not start again: " .. ngx:log())
    for i = 1, 30 do
      assert.equal("value=value" .. i, ngx:get("/get?k=a" .. i).text)
    end
    for i = 1, 10 do
      assert.equal("value=value" .. i, ngx:get("/get?k=b" .. i).text)
    end
    write_and_read("c", 10)
  end)
end)

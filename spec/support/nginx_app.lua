-- The application that spec/30-nginx_spec.lua runs inside nginx (OpenResty's
-- lua module, LuaJIT): CaskDB shared by the workers of one nginx the way
-- the README recommends while the engine allows one writer process per
-- database directory.
--
--   * Worker 0 is the writer.  It opens the database in init_worker_by_lua
--     (retrying on a timer while a worker of the previous generation still
--     holds the writer lock, as during `nginx -s reload`), and applies the
--     writes of every worker from a queue in a lua_shared_dict, on a timer.
--   * Every worker reads through a read-only handle.  A read-only handle
--     sees the database as it was when it was opened, so a reader that
--     wants fresh data reopens: here once per request (cheap for a small
--     database; a big one would reopen on a timer instead).
--   * Merge runs in small steps on worker 0's timer (db:merge{max_bytes}),
--     so no request waits behind a whole merge.
--   * init_by_lua may open a handle in the master (here to show what that
--     gives): after fork() a worker can read through it, and a write
--     raises "... opened by the parent process; open the database again
--     after fork()".
--
-- Lua 5.1 syntax (LuaJIT).  Requests:
--   GET  /set?k=K&v=V    queue a write, wait until worker 0 applied it
--   GET  /get?k=K        read K through a fresh read-only handle
--   GET  /master/get?k=K read K through the handle opened in the master
--   GET  /master/set?k=K try to write through it: the error message
-- Each answer starts with "worker=<id> pid=<pid> ".
local caskdb = require "caskdb"

local M = {}

local path            -- the database directory
local master_db       -- opened in init_by_lua (the master), inherited
local master_err      -- why the master could not open, if it could not
local writer          -- worker 0's writer handle

local QUEUE = "caskdb_queue" -- the lua_shared_dict of pending writes

-- init_by_lua (the master, before fork): remember the paths; open a handle
-- on `master_path` if given and write one key through it.
function M.init(db_path, master_path)
  path = db_path
  if master_path then
    local db, err = caskdb.open(master_path)
    if db then
      assert(db:set("seed", "written by the master"))
      master_db = db
    else
      master_err = err -- e.g. after a reload: the old master handle lives on
    end
  end
end

-- Apply every queued write (worker 0's timer).
local function drain(queue)
  while true do
    local item = queue:lpop("q")
    if not item then return end
    local id, klen, rest = item:match("^(%d+):(%d+):(.*)$")
    local k, v = rest:sub(1, tonumber(klen)), rest:sub(tonumber(klen) + 1)
    local ok, err = writer:set(k, v)
    queue:set("ack:" .. id, ok and "ok" or tostring(err), 60)
  end
end

local function writer_tick(premature)
  if premature then -- the worker is exiting: give the lock back now
    if writer then writer:close() end
    writer = nil
    return
  end
  if not writer then
    writer = caskdb.open(path) -- nil while the old worker 0 holds the lock
    if not writer then return end
  end
  drain(ngx.shared[QUEUE])
  -- one bounded step of merge at a time: never a long stall
  if writer:merge_needed() then
    writer:merge { max_bytes = 64 * 1024 }
  end
end

-- init_worker_by_lua: worker 0 becomes the writer.
function M.init_worker()
  if ngx.worker.id() == 0 then
    assert(ngx.timer.every(0.01, writer_tick))
  end
end

local function answer(s)
  ngx.say("worker=", ngx.worker.id(), " pid=", ngx.worker.pid(), " ", s)
end

-- One request.
function M.handle()
  local uri, args = ngx.var.uri, ngx.req.get_uri_args()
  if uri == "/set" then
    local queue = ngx.shared[QUEUE]
    local id = assert(queue:incr("seq", 1, 0))
    assert(queue:rpush("q", id .. ":" .. #args.k .. ":" .. args.k .. args.v))
    for _ = 1, 1000 do -- up to 10 s
      local ack = queue:get("ack:" .. id)
      if ack then
        queue:delete("ack:" .. id)
        return answer(ack)
      end
      ngx.sleep(0.01)
    end
    return answer("timeout")
  elseif uri == "/get" then
    local db, err = caskdb.open(path, { readonly = true })
    if not db then return answer("error " .. tostring(err)) end
    local v = db:get(args.k)
    db:close()
    return answer("value=" .. tostring(v))
  elseif uri == "/master/get" then
    if not master_db then return answer("no master handle: " .. tostring(master_err)) end
    return answer("value=" .. tostring(master_db:get(args.k)))
  elseif uri == "/master/set" then
    if not master_db then return answer("no master handle: " .. tostring(master_err)) end
    local ok, err = pcall(master_db.set, master_db, args.k, "from a worker")
    return answer(ok and "written" or "error " .. tostring(err))
  end
  ngx.status = 404
  return answer("not found")
end

return M

-- caskdb backup / restore while another process writes: the copy holds
-- every batch acknowledged before the backup began, and never half of one.
local helpers = require "spec.helpers"
local cli = require "spec.support.cli_run"

describe("caskdb backup while a writer runs", function()
  it("copies every acknowledged batch, each one whole", function()
    local dir = helpers.tmpdir()
    local path, copy, restored = dir .. "/db", dir .. "/copy", dir .. "/restored"
    local child = ("%s -e 'package.cpath=%q' spec/support/backup_writer.lua %s 2000")
      :format(helpers.interpreter, package.cpath, helpers.quote(path))
    local pipe = assert(io.popen(child, "r"))
    local acked = 0
    while acked < 300 do
      acked = assert(tonumber(pipe:read("*l")))
    end
    -- The writer goes on while the backup runs.
    local out, err, code = cli.run({ "backup", path, copy })
    assert.equal(0, code, err)
    assert.matches("backed up", out)
    local after = assert(tonumber(pipe:read("*l")))
    assert.is_true(after < 2000, "the writer was still writing after the backup")
    local last = after
    for line in pipe:lines() do last = tonumber(line) end
    pipe:close()
    assert.equal(2000, last)

    local db = helpers.open(copy, { readonly = true })
    local highest = 0
    for g = 1, 2000 do
      local a, b = db:get("a" .. g), db:get("b" .. g)
      if g <= acked then
        assert.equal(g, a)
        assert.equal(g, b)
      end
      assert.equal(a == nil, b == nil) -- never half a batch
      if a then highest = g end
    end
    assert.equal(highest * 2, db:count()) -- batches form a prefix
    db:close()

    out, err, code = cli.run({ "restore", copy, restored })
    assert.equal(0, code, err)
    db = helpers.open(restored)
    assert.equal(highest * 2, db:count())
    db:close()
    out, err, code = cli.run({ "restore", copy, restored })
    assert.equal(3, code)
    assert.matches("exists", err)
    helpers.rmrf(dir)
  end)
end)

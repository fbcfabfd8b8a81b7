-- caskdb.json: the JSON and base64 the tool's export/import lines use.
local json = require "caskdb.json"

describe("caskdb.json", function()
  it("round-trips integers exactly and keeps floats floats", function()
    for _, v in ipairs { 0, -1, math.maxinteger, math.mininteger, 0.5, -0.0, 1e300, 2.0 } do
      local back = json.decode(json.encode(v))
      assert.equal(math.type(v), math.type(back))
      assert.equal(string.pack("<n", v + 0.0), string.pack("<n", back + 0.0))
    end
    assert.equal("2.0", json.encode(2.0))
    assert.equal("float", math.type(json.decode("18446744073709551616")))
  end)

  it("encodes strings with escapes and decodes \\u escapes and surrogate pairs", function()
    assert.equal([["a\"b\\c\n\u0000é"]], json.encode("a\"b\\c\n\0é"))
    assert.equal("😀é/", json.decode([["\ud83d\ude00\u00e9\/"]]))
    assert.has_error(function() json.encode("\255") end)
    assert.is_nil(json.decode([["\ud800"]]))
  end)

  it("writes objects with sorted keys and arrays in order", function()
    assert.equal('{"a":[1,true,null],"b":{}}', json.encode { b = {}, a = { 1, true, json.null } })
    assert.same({ a = { 1, true }, b = {} }, json.decode(' { "a" : [ 1 , true ] , "b" : { } } '))
    assert.equal(json.null, json.decode("null"))
  end)

  it("rejects bad input with a message", function()
    for _, bad in ipairs { "", "[1,", "{a:1}", "01x", "[1] 2", '"\n"', "tru", "nan" } do
      local v, err = json.decode(bad)
      assert.is_nil(v, bad)
      assert.matches("^caskdb.json: ", err)
    end
    assert.has_error(function() json.encode(0 / 0) end)
    assert.has_error(function() json.encode({ [true] = 1 }) end)
  end)

  it("base64 round-trips every byte and rejects bad text", function()
    local all = {}
    for i = 0, 255 do all[#all + 1] = string.char(i) end
    all = table.concat(all)
    for n = 0, 5 do
      assert.equal(all:sub(1, n), json.b64decode(json.b64encode(all:sub(1, n))))
    end
    assert.equal(all, json.b64decode(json.b64encode(all)))
    assert.equal("aGVsbG8=", json.b64encode("hello"))
    for _, bad in ipairs { "a", "a===", "a=bc", "ab!d" } do assert.is_nil(json.b64decode(bad)) end
  end)
end)

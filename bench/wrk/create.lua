-- POST a new conversation from a (mostly new) customer.
package.path = package.path .. ";" .. debug.getinfo(1).source:match("@?(.*/)") .. "?.lua"
local common = require("common")
local n = 0
local tag = tostring(os.time()) .. tostring(math.random(100000))
function init(args) common.setup_headers(); tag = tag .. tostring({}):sub(8) end
function request()
  n = n + 1
  local body = string.format(
    '{"customer": {"email": "bench-%s-%d@example.com", "name": "Bench Customer %d"}, '
    .. '"subject": "Where is my order #%d?", "channel": "api", '
    .. '"message": {"body": "Hello, I ordered a tent two weeks ago and it has not arrived yet. Order %d."}}',
    tag, n, n, n, n)
  return wrk.format("POST", "/api/v1/conversations", nil, body)
end
done = common.done

-- POST an agent reply (kind=reply) to random conversations.
package.path = package.path .. ";" .. debug.getinfo(1).source:match("@?(.*/)") .. "?.lua"
local common = require("common")
local max_id = tonumber(os.getenv("CARTDESK_BENCH_MAX_ID"))
function init(args) common.setup_headers(); math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 1000) end
function request()
  local id = math.random(1, max_id)
  local body = '{"kind": "reply", "status": "pending", "body": "Thanks for waiting - your parcel left our warehouse today and tracking will update tonight."}'
  return wrk.format("POST", "/api/v1/conversations/" .. id .. "/messages", nil, body)
end
done = common.done

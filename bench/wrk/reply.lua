-- POST an agent reply (kind=reply) to random conversations.
package.path = package.path .. ";" .. debug.getinfo(1).source:match("@?(.*/)") .. "?.lua"
local common = require("common")
-- Ids of conversations that accept a reply (not closed, not merged), one per line,
-- written by http_bench.py: a reply to a closed conversation is a 409 by design.
local ids = {}
function init(args)
  common.setup_headers()
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 1000)
  for line in io.lines(os.getenv("CARTDESK_BENCH_OPEN_IDS")) do ids[#ids + 1] = line end
end
function request()
  local id = ids[math.random(1, #ids)]
  local body = '{"kind": "reply", "status": "pending", "body": "Thanks for waiting - your parcel left our warehouse today and tracking will update tonight."}'
  return wrk.format("POST", "/api/v1/conversations/" .. id .. "/messages", nil, body)
end
done = common.done

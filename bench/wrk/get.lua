-- GET one conversation (with customer and messages), ids spread over the whole table.
package.path = package.path .. ";" .. debug.getinfo(1).source:match("@?(.*/)") .. "?.lua"
local common = require("common")
local max_id = tonumber(os.getenv("CARTDESK_BENCH_MAX_ID"))
local counter = 0
function init(args) common.setup_headers(); math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 1000) end
function request()
  local id = math.random(1, max_id)
  return wrk.format("GET", "/api/v1/conversations/" .. id)
end
done = common.done

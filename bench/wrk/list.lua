-- GET the open inbox: first page, or (CARTDESK_BENCH_CURSOR set) a deep keyset page.
package.path = package.path .. ";" .. debug.getinfo(1).source:match("@?(.*/)") .. "?.lua"
local common = require("common")
local cursor = os.getenv("CARTDESK_BENCH_CURSOR")
function init(args) common.setup_headers() end
function request()
  local path = "/api/v1/conversations?status=open&limit=25"
  if cursor and cursor ~= "" then path = path .. "&cursor=" .. cursor end
  return wrk.format("GET", path)
end
done = common.done

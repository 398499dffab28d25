-- GET each path of the file named by CARTDESK_BENCH_PATHS in turn (one per line), with the
-- headers of CARTDESK_BENCH_HEADERS ("Name: value|Name: value"), no auth: public pages.
package.path = package.path .. ";" .. debug.getinfo(1).source:match("@?(.*/)") .. "?.lua"
local common = require("common")
local paths = {}
local i = 0
function init(args)
  for line in io.lines(os.getenv("CARTDESK_BENCH_PATHS")) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  for pair in string.gmatch(os.getenv("CARTDESK_BENCH_HEADERS") or "", "[^|]+") do
    local name, value = pair:match("^%s*(.-)%s*:%s*(.-)%s*$")
    if name then wrk.headers[name] = value end
  end
end
function request()
  i = i + 1
  return wrk.format("GET", paths[((i - 1) % #paths) + 1])
end
done = common.done

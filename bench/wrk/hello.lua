-- The load generator's own ceiling: a bare endpoint with no database work.
package.path = package.path .. ";" .. debug.getinfo(1).source:match("@?(.*/)") .. "?.lua"
local common = require("common")
function init(args) end
function request() return wrk.format("GET", "/bench/hello") end
done = common.done

-- GET /search with a rotating set of everyday support words.
package.path = package.path .. ";" .. debug.getinfo(1).source:match("@?(.*/)") .. "?.lua"
local common = require("common")
local words = {"refund", "tracking", "damaged", "exchange", "invoice", "discount", "warranty", "cancel",
               "address", "parcel", "zipper", "backpack", "tent", "boots", "jacket", "courier"}
local i = 0
function init(args) common.setup_headers() end
function request()
  i = i + 1
  return wrk.format("GET", "/api/v1/search?q=" .. words[(i % #words) + 1] .. "&limit=20")
end
done = common.done

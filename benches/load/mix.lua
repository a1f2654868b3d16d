-- wrk script for benches/load/run.sh: a mix of cache hits (70%), cold renders with unique
-- titles (20%) and bad requests (10%), counting responses by status across threads.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  hot = {}
  for i = 1, 20 do
    hot[i] = "/og/post.png?title=Popular%20post%20" .. i .. "&author=Ada"
  end
end

function request()
  counter = counter + 1
  local pick = counter % 10
  local path
  if pick < 7 then
    path = hot[(counter % 20) + 1]
  elseif pick < 9 then
    path = "/og/post.png?title=Fresh%20title%20" .. id .. "-" .. counter
  else
    path = "/og/post.png?title=Hi&font=Comic"
  end
  return wrk.format("GET", path)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for status, n in pairs(s) do
      totals[status] = (totals[status] or 0) + n
    end
  end
  local keys = {}
  for status in pairs(totals) do table.insert(keys, status) end
  table.sort(keys)
  for _, status in ipairs(keys) do
    io.write(string.format("status %d: %d\n", status, totals[status]))
  end
  io.write(string.format("p50 %.2f ms, p99 %.2f ms, requests/s %.0f\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests / (summary.duration / 1e6)))
end

-- wrk script: every request asks for a title no request asked for before (a cold render).
-- The URL given to wrk must end where the URL-encoded title goes (`...?title=`).
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
function init(args)
  prefix = wrk.path .. "A%20card%20nobody%20asked%20for%20before%20" .. os.time() .. "-" .. id .. "-"
  counter = 0
end
function request()
  counter = counter + 1
  return wrk.format(nil, prefix .. counter)
end

-- wrk script: every request asks for a title no request asked for before (a cold render):
-- card A's title from ../shared/peers, three lines, with a unique number appended as the
-- peer harness does. The URL given to wrk must end where the URL-encoded title goes
-- (`...?title=`).
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
function init(args)
  prefix = wrk.path .. "How%20we%20rendered%20a%20million%20social%20cards%20without%20a%20browser"
    .. "%2C%20and%20what%20it%20cost%20us%20%23" .. os.time() .. "-" .. id .. "-"
  counter = 0
end
function request()
  counter = counter + 1
  return wrk.format(nil, prefix .. counter)
end

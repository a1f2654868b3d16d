-- wrk script: every request a new card, spread over every bundled template, both post
-- themes, 8 colours, scales 1 and 2 and the PNG, JPEG and WebP formats (the URL given to
-- wrk is the server's root).
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
local colors = { "0ea5e9", "e11d48", "16a34a", "9333ea", "f59e0b", "0f766e", "be123c", "1d4ed8" }
local themes = { "dark", "light" }
local formats = { "png", "jpg", "webp" }
function init(args)
  tag = os.time() .. "-" .. id .. "-"
  counter = 0
end
function request()
  counter = counter + 1
  local n = counter
  local color = colors[n % 8 + 1]
  local scale = (math.floor(n / 8) % 2) + 1
  local title = "Card%20" .. tag .. n
  local kind = math.floor(n / 16) % 5
  local ext = formats[n % 3 + 1]
  local path
  if kind == 0 then
    path = "/og/card-a." .. ext .. "?title=" .. title
  elseif kind == 1 then
    path = "/og/post." .. ext .. "?theme=" .. themes[math.floor(n / 80) % 2 + 1] .. "&color=" .. color .. "&title=" .. title
  elseif kind == 2 then
    path = "/og/product." .. ext .. "?price=19.5&color=" .. color .. "&name=" .. title
  elseif kind == 3 then
    path = "/og/certificate." .. ext .. "?achievement=Rust&color=" .. color .. "&recipient=" .. title
  else
    path = "/og/travel." .. ext .. "?canvas=" .. color .. "&title=" .. title
  end
  return wrk.format(nil, path .. "&scale=" .. scale)
end

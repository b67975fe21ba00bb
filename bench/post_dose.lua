-- wrk: patients recording a dose taken at home ("I took it at" now), each through its
-- own dose link whose check said go. The links are in $LINKS (one token per line);
-- wrk's threads take every n-th one ($WRK_THREADS). A thread whose links are used up
-- sends a used one again (a 404), so `done` prints only the doses recorded:
-- "recorded <n> in <microseconds>".
local links = {}
for line in io.lines(os.getenv("LINKS")) do links[#links + 1] = line end
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  next_link = id
  stride = tonumber(os.getenv("WRK_THREADS") or "2")
end

request = function()
  local token = links[next_link] or links[id]
  next_link = next_link + stride
  local body = string.format('{"token":"%s","taken_at":"%s"}', token, os.date("!%Y-%m-%dT%H:%M:%SZ"))
  return wrk.format("POST", "/api/v1/self-report/dose", { ["Content-Type"] = "application/json" }, body)
end

function done(summary, latency, requests)
  io.write(string.format("recorded %d in %d\n", summary.requests - summary.errors.status, summary.duration))
end

-- wrk: durable rating writes, each to a random patient of PATIENTS (one patient: every
-- write to them), rated two hours ago by the clock: each is later than every other of its
-- series, as a patient answering link after link makes them, and none falls in the
-- windows of the self-report links the run makes next (a rating in a window completes it).
local patients = {}
for id in string.gmatch(os.getenv("PATIENTS") or "", "[^,]+") do patients[#patients + 1] = id end
local token = os.getenv("TOKEN")
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))

request = function()
  local patient = patients[math.random(#patients)]
  local body = string.format(
    '{"instrument":"ocd_vas","rated_at":"%s","recall":"NOW","items":{"1":%d},"rater":"self","collected_via":"app"}',
    os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() - 7200), math.random(0, 100))
  return wrk.format("POST", "/api/v1/patients/" .. patient .. "/assessments",
    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, body)
end

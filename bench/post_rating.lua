-- wrk: durable rating writes, each to a random patient of the demo clinic.
local patients = {}
for id in string.gmatch(os.getenv("PATIENTS") or "", "[^,]+") do patients[#patients + 1] = id end
local token = os.getenv("TOKEN")
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))

request = function()
  local patient = patients[math.random(#patients)]
  local body = string.format(
    '{"instrument":"ocd_vas","rated_at":"2026-01-01T00:00:00Z","recall":"NOW","items":{"1":%d},"rater":"self","collected_via":"app"}',
    math.random(0, 100))
  return wrk.format("POST", "/api/v1/patients/" .. patient .. "/assessments",
    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, body)
end

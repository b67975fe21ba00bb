-- wrk: trajectory reads of random patients of the demo clinic.
local patients = {}
for id in string.gmatch(os.getenv("PATIENTS") or "", "[^,]+") do patients[#patients + 1] = id end
local token = os.getenv("TOKEN")
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))

request = function()
  local patient = patients[math.random(#patients)]
  return wrk.format("GET", "/api/v1/patients/" .. patient .. "/trajectory", { ["Authorization"] = "Bearer " .. token })
end

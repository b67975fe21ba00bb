"""Prepares dose links for the benchmark, through the public API.

    python3 bench/dose_links.py BASE TOKEN PATIENTS(comma-separated, or @FILE holding them) OUT

Each patient gets a home plan in force now (one dose), one dose link, and a pre-dose
check that says go, so each link in OUT (one token per line) can record a dose at once.
Eight keep-alive connections, so preparing is quick.
"""
import sys
from datetime import datetime, timedelta, timezone

from onset_http import Api, in_parallel

base, token, patients, out = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
patients = (open(patients[1:]).read().strip() if patients.startswith("@") else patients).split(",")
call = Api(base, token).call


now = datetime.now(timezone.utc)
plan = {"drug": "ketamine", "route": "sublingual", "dose_mg": 150, "doses_allowed": 1, "min_interval": "P3D",
        "starts_at": (now - timedelta(days=1)).isoformat(), "ends_at": (now + timedelta(days=7)).isoformat()}


def prepare(patient):
    plan_id = call("POST", f"/api/v1/patients/{patient}/home-plans", plan)["id"]
    link = call("POST", f"/api/v1/home-plans/{plan_id}/invitation")["url"].rsplit("#", 1)[1]
    check = call("POST", "/api/v1/self-report/dose-check", {"token": link, "systolic": 124, "diastolic": 78, "heart_rate": 70, "monitor_present": True}, auth=False)
    assert check["go"], check
    return link


links = in_parallel(prepare, patients)
with open(out, "w") as f:
    f.write("\n".join(links) + "\n")
print(len(links))

"""Prepares dose links for the benchmark, through the public API.

    python3 bench/dose_links.py BASE TOKEN PATIENTS(comma-separated, or @FILE holding them) OUT

Each patient gets a home plan in force now (one dose), one dose link, and a pre-dose
check that says go, so each link in OUT (one token per line) can record a dose at once.
Eight keep-alive connections, so preparing is quick.
"""
import http.client
import json
import sys
import threading
from datetime import datetime, timedelta, timezone
from urllib.parse import urlparse

base, token, patients, out = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
patients = (open(patients[1:]).read().strip() if patients.startswith("@") else patients).split(",")
host = urlparse(base)
local = threading.local()


def call(method, path, body=None, auth=True):
    headers = {"content-type": "application/json"}
    if auth:
        headers["authorization"] = f"Bearer {token}"
    for attempt in (1, 2):
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
        try:
            local.conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
            response = local.conn.getresponse()
            break
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            del local.conn
            if attempt == 2:
                raise
    data = response.read()
    if response.status >= 300:
        raise SystemExit(f"{method} {path}: {response.status} {data[:300]!r}")
    return json.loads(data) if data else None


now = datetime.now(timezone.utc)
plan = {"drug": "ketamine", "route": "sublingual", "dose_mg": 150, "doses_allowed": 1, "min_interval": "P3D",
        "starts_at": (now - timedelta(days=1)).isoformat(), "ends_at": (now + timedelta(days=7)).isoformat()}


def prepare(patient):
    plan_id = call("POST", f"/api/v1/patients/{patient}/home-plans", plan)["id"]
    link = call("POST", f"/api/v1/home-plans/{plan_id}/invitation")["url"].rsplit("#", 1)[1]
    check = call("POST", "/api/v1/self-report/dose-check", {"token": link, "systolic": 124, "diastolic": 78, "heart_rate": 70, "monitor_present": True}, auth=False)
    assert check["go"], check
    return link


links = [None] * len(patients)


def run(worker):
    for i in range(worker, len(patients), 8):
        links[i] = prepare(patients[i])


threads = [threading.Thread(target=run, args=(w,)) for w in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
with open(out, "w") as f:
    f.write("\n".join(links) + "\n")
print(len(links))

"""Prepares single-use self-report links for the benchmark, through the public API.

    python3 bench/self_report_links.py BASE TOKEN PATIENTS(comma-separated) COUNT OUT

A protocol asks for the OCD VAS one minute after each session, open for twelve hours; it
is attached to the given patients, each gets sessions that started a minute ago until
COUNT due ratings are open, and each open due rating gets one link. OUT receives the
links' tokens, one per line. Eight keep-alive connections, so preparing is quick.
"""
import sys
from datetime import datetime, timedelta, timezone

from onset_http import Api, in_parallel

base, token, patients, count, out = sys.argv[1], sys.argv[2], sys.argv[3].split(","), int(sys.argv[4]), sys.argv[5]
call = Api(base, token).call


protocol = call("POST", "/api/v1/protocols", {"name": "Benchmark: VAS after each session", "items": [
    {"instrument": "ocd_vas", "offset": "PT1M", "window_before": "PT1M", "window_after": "PT12H", "recall": "NOW"}]})["id"]
in_parallel(lambda p: call("POST", f"/api/v1/patients/{p}/protocols", {"protocol_id": protocol}), patients)
started = (datetime.now(timezone.utc) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
session = {"drug": "ketamine", "route": "iv", "started_at": started, "dose_mg": 35.0, "weight_kg": 70.0, "guidance": "self_guided"}
rounds = -(-count // len(patients))
in_parallel(lambda p: [call("POST", f"/api/v1/patients/{p}/infusions", session) for _ in range(rounds)], patients)

due, cursor = [], None
while len(due) < count:
    page = call("GET", "/api/v1/due?status=open&limit=500" + (f"&cursor={cursor}" if cursor else ""))
    due += [d["id"] for d in page["items"] if d["instrument"] == "ocd_vas" and d["protocol_id"] == protocol]
    cursor = page.get("next_cursor")
    if not cursor:
        break
links = in_parallel(lambda d: call("POST", f"/api/v1/due/{d}/invitation", {})["url"].rsplit("#", 1)[1], due[:count])
with open(out, "w") as f:
    f.write("\n".join(links) + "\n")
print(len(links))

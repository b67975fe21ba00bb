#!/usr/bin/env bash
# The onset summaries stay true on a large clinic: seeds a demo clinic (BENCH_LARGE,
# default 100,000 patients), then makes random changes through the API (BENCH_CHANGES,
# default 600: ratings amended and retracted, sessions backdated before the first,
# moved and retracted, new ratings), then runs `onset check-summaries`, which derives
# every summary afresh from the records and compares it with the stored one.
#
#   cargo build --release && bench/summaries.sh [sqlite|postgres]
set -euo pipefail
cd "$(dirname "$0")/.."
WHICH="${1:-sqlite}"
LARGE="${BENCH_LARGE:-100000}"
CHANGES="${BENCH_CHANGES:-600}"
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
BIN="${BENCH_BIN:-target/release/onset}"
PORT="${BENCH_PORT:-18970}"
BASE="http://127.0.0.1:$PORT"
WORK="$(mktemp -d)"
trap 'kill "${SERVER:-0}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
export ONSET_JWT_SECRET="benchmark secret that is at least thirty-two bytes"
export RUST_LOG=error
if [ "$WHICH" = sqlite ]; then
    export DATABASE_URL="$WORK/summaries.db"
else
    psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS onset_summaries_check" -c "CREATE DATABASE onset_summaries_check" >/dev/null
    export DATABASE_URL="$PG/onset_summaries_check"
fi
started=$(date +%s)
"$BIN" demo-data --seed 9 --patients "$LARGE" >"$WORK/seed.txt"
head -1 "$WORK/seed.txt"
echo "seeded in $(( $(date +%s) - started )) s"
read -r EMAIL PASSWORD < <("$BIN" demo-data --seed 9 --print-admin)
ONSET_BIND="127.0.0.1:$PORT" "$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.1; done
python3 - "$BASE" "$EMAIL" "$PASSWORD" "$CHANGES" <<'PY'
import json, random, sys, urllib.request, urllib.error
base, email, password, changes = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def call(method, path, body=None, token=None):
    request = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"content-type": "application/json", **({"authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(request) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")
status, login = call("POST", "/api/v1/auth/login", {"email": email, "password": password})
token = login["access_token"]
rng = random.Random(9)
# Patients spread over the whole clinic: pages from the start, the middle and the end.
patients, cursor = [], None
for _ in range(40):
    status, page = call("GET", "/api/v1/patients?limit=500" + (f"&cursor={cursor}" if cursor else ""), token=token)
    patients += [p["id"] for p in page["items"]]
    cursor = page["next_cursor"]
    if not cursor:
        break
done = {"amended": 0, "retracted": 0, "backdated": 0, "moved": 0, "sessions retracted": 0, "rated": 0}
for _ in range(changes):
    patient = rng.choice(patients)
    _, sessions = call("GET", f"/api/v1/patients/{patient}/infusions?limit=50", token=token)
    _, ratings = call("GET", f"/api/v1/patients/{patient}/assessments?limit=100", token=token)
    sessions = [s for s in sessions["items"] if s["status"] == "active"]
    ratings = [r for r in ratings["items"] if r["status"] == "active" and r["instrument"] in ("ybocs", "ocd_vas", "ybocs_sr")]
    choice = rng.random()
    if choice < 0.3 and ratings:
        r = rng.choice(ratings)
        total = rng.randint(0, 100 if r["instrument"] == "ocd_vas" else 40)
        body = {"items": {"1": total}} if r["instrument"] == "ocd_vas" else {"total": total, "items": None}
        status, _ = call("PATCH", f"/api/v1/assessments/{r['id']}", {**body, "reason": "re-scored"}, token)
        done["amended"] += status == 200
    elif choice < 0.45 and ratings:
        status, _ = call("DELETE", f"/api/v1/assessments/{rng.choice(ratings)['id']}", {"reason": "entered in error"}, token)
        done["retracted"] += status == 200
    elif choice < 0.6 and sessions:
        first = min(s["started_at"] for s in sessions)
        import datetime
        earlier = (datetime.datetime.fromisoformat(first.replace("Z", "+00:00")) - datetime.timedelta(hours=rng.randint(1, 72))).strftime("%Y-%m-%dT%H:%M:%SZ")
        status, _ = call("POST", f"/api/v1/patients/{patient}/infusions", {"drug": "ketamine", "route": "iv", "started_at": earlier, "dose_mg": 35, "weight_kg": 70}, token)
        done["backdated"] += status == 201
    elif choice < 0.7 and sessions:
        s = rng.choice(sessions)
        import datetime
        moved = (datetime.datetime.fromisoformat(s["started_at"].replace("Z", "+00:00")) + datetime.timedelta(hours=rng.randint(-12, 12))).strftime("%Y-%m-%dT%H:%M:%SZ")
        status, _ = call("PATCH", f"/api/v1/infusions/{s['id']}", {"started_at": moved, "reason": "the clock was wrong"}, token)
        done["moved"] += status == 200
    elif choice < 0.75 and sessions:
        status, _ = call("DELETE", f"/api/v1/infusions/{rng.choice(sessions)['id']}", {"reason": "wrong patient"}, token)
        done["sessions retracted"] += status == 200
    else:
        status, _ = call("POST", f"/api/v1/patients/{patient}/assessments", {"instrument": "ybocs", "rated_at": "2025-06-01T09:00:00Z", "recall": "P7D", "total": rng.randint(0, 40), "rater": "clinician", "collected_via": "interview"}, token)
        done["rated"] += status == 201
print("changes made through the API: " + ", ".join(f"{n} {what}" for what, n in done.items()))
PY
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
"$BIN" check-summaries
[ "$WHICH" = postgres ] && psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS onset_summaries_check" >/dev/null
exit 0

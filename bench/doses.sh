#!/usr/bin/env bash
# Home doses recorded per second (DESIGN.md §10): a demo clinic (2,000 patients, seed 1),
# a one-dose plan, a link and a go for each of BENCH_DOSES patients (default 2,000), then
# (BENCH_CONNECTIONS, default)
# 16 connections (wrk, 2 threads) post "I took it at" for BENCH_SECONDS (3): the rate is
# only true if the links last that long, which the script checks. Each dose
# locks its patient and plan, records the session, plans its ratings and sends its event.
#
#   bench/doses.sh BIN [sqlite|postgres]
#
# PostgreSQL at $BENCH_PG (default postgres://postgres@127.0.0.1:5432). Needs wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$1"; BACKEND="${2:-sqlite}"
DOSES="${BENCH_DOSES:-2000}"
SECONDS_EACH="${BENCH_SECONDS:-3}"
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
PORT="${BENCH_PORT:-18961}"
BASE="http://127.0.0.1:$PORT"
WORK="$(mktemp -d)"
trap 'kill ${SERVER:-} 2>/dev/null || true; rm -rf "$WORK"' EXIT
export ONSET_JWT_SECRET="benchmark secret that is at least thirty-two bytes"
export ONSET_LOGIN_PER_ADDRESS_PER_MINUTE=1000000 ONSET_LOGIN_PER_ACCOUNT_PER_MINUTE=1000000 ONSET_SELF_REPORT_PER_ADDRESS_PER_MINUTE=1000000 RUST_LOG=error
json() { python3 -c "import sys, json; print(json.load(sys.stdin)$1)"; }
if [ "$BACKEND" = sqlite ]; then
    URL="$WORK/doses.db"
else
    psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS onset_bench_doses" -c "CREATE DATABASE onset_bench_doses" >/dev/null
    URL="$PG/onset_bench_doses"
fi
DATABASE_URL="$URL" "$BIN" demo-data --seed 1 --patients "$((DOSES > 2000 ? DOSES : 2000))" >/dev/null 2>&1
DATABASE_URL="$URL" ONSET_BIND="127.0.0.1:$PORT" "$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.1; done
read -r EMAIL PASSWORD < <(DATABASE_URL="$URL" "$BIN" demo-data --seed 1 --print-admin)
TOKEN=$(curl -sf "$BASE/api/v1/auth/login" -H 'content-type: application/json' -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" | json '["access_token"]')
python3 - "$BASE" "$TOKEN" "$DOSES" >"$WORK/patients.txt" <<'PY'
import json, sys, urllib.request
base, token, wanted = sys.argv[1], sys.argv[2], int(sys.argv[3])
ids, cursor = [], None
while len(ids) < wanted:
    url = f"{base}/api/v1/patients?limit=500" + (f"&cursor={cursor}" if cursor else "")
    page = json.load(urllib.request.urlopen(urllib.request.Request(url, headers={"authorization": f"Bearer {token}"})))
    ids += [p["id"] for p in page["items"]]
    cursor = page["next_cursor"]
    if not cursor:
        break
print(",".join(ids[:wanted]))
PY
python3 bench/dose_links.py "$BASE" "$TOKEN" "@$WORK/patients.txt" "$WORK/links.txt" >/dev/null
[ -n "${BENCH_PERF:-}" ] && { perf record --call-graph dwarf,16384 -F 300 -o "$BENCH_PERF" -p "$SERVER" 2>/dev/null & PERF=$!; sleep 0.5; }
LINKS="$WORK/links.txt" WRK_THREADS="$(( ${BENCH_CONNECTIONS:-16} < 2 ? 1 : 2 ))" wrk -t"$(( ${BENCH_CONNECTIONS:-16} < 2 ? 1 : 2 ))" -c"${BENCH_CONNECTIONS:-16}" -d"${SECONDS_EACH}s" --latency -s bench/post_dose.lua "$BASE" >"$WORK/out.txt"
[ -n "${BENCH_PERF:-}" ] && { kill -INT "$PERF"; wait "$PERF" || true; }
recorded=$(awk '/^recorded/ {print $2}' "$WORK/out.txt")
micros=$(awk '/^recorded/ {print $4}' "$WORK/out.txt")
p99=$(awk '/ 99%/ {print $2}' "$WORK/out.txt")
RECORDED=$recorded MICROS=$micros python3 -c "import os; r, us = int(os.environ['RECORDED']), int(os.environ['MICROS']); print(f'$BACKEND: {r} doses recorded in {us / 1e6:.1f} s, {r / (us / 1e6):.0f}/s with ${BENCH_CONNECTIONS:-16} connections; p99 $p99')"
[ "$recorded" -lt "$(wc -l <"$WORK/links.txt")" ] || echo "$BACKEND: the links ran out before the end: raise BENCH_DOSES"
if [ -n "${BENCH_PERF:-}" ]; then echo "perf record of the server left in $BENCH_PERF"; fi

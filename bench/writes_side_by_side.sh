#!/usr/bin/env bash
# Rating writes of two builds, side by side in one run: each seeds the same demo clinic
# (2,000 patients, seed 1), then takes 2 s of unmeasured writes and BENCH_SECONDS (10) of
# measured ones with wrk (16 connections, 2 threads), alternating A B A B, on one backend.
#
#   bench/writes_side_by_side.sh BIN_A BIN_B [sqlite|postgres]
#
# Used for the audit hash chain's cost per write (the build before it against the build
# with it). PostgreSQL at $BENCH_PG (default postgres://postgres@127.0.0.1:5432).
set -euo pipefail
cd "$(dirname "$0")/.."
A="$1"; B="$2"; BACKEND="${3:-sqlite}"
SECONDS_EACH="${BENCH_SECONDS:-10}"
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
PORT="${BENCH_PORT:-18960}"
BASE="http://127.0.0.1:$PORT"
WORK="$(mktemp -d)"
trap 'kill ${SERVER:-} 2>/dev/null || true; rm -rf "$WORK"' EXIT
export ONSET_JWT_SECRET="benchmark secret that is at least thirty-two bytes"
export ONSET_LOGIN_PER_ADDRESS_PER_MINUTE=1000000 ONSET_LOGIN_PER_ACCOUNT_PER_MINUTE=1000000 RUST_LOG=error
json() { python3 -c "import sys, json; print(json.load(sys.stdin)$1)"; }

measure() { # binary label → writes/s and p99
    local bin="$1" url
    if [ "$BACKEND" = sqlite ]; then
        url="$WORK/$2.db"; rm -f "$url" "$url-wal" "$url-shm"
    else
        psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS onset_bench_sbs" -c "CREATE DATABASE onset_bench_sbs" >/dev/null
        url="$PG/onset_bench_sbs"
    fi
    DATABASE_URL="$url" "$bin" demo-data --seed 1 --patients 2000 >/dev/null 2>&1
    DATABASE_URL="$url" ONSET_BIND="127.0.0.1:$PORT" "$bin" serve >"$WORK/server.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 100); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.1; done
    read -r email password < <(DATABASE_URL="$url" "$bin" demo-data --seed 1 --print-admin)
    local token patients
    token=$(curl -sf "$BASE/api/v1/auth/login" -H 'content-type: application/json' -d "{\"email\":\"$email\",\"password\":\"$password\"}" | json '["access_token"]')
    patients=$(curl -sf "$BASE/api/v1/patients?limit=200" -H "authorization: Bearer $token" | python3 -c "import sys, json; print(','.join(p['id'] for p in json.load(sys.stdin)['items']))")
    TOKEN="$token" PATIENTS="$patients" wrk -t2 -c16 -d2s -s bench/post_rating.lua "$BASE" >/dev/null
    TOKEN="$token" PATIENTS="$patients" wrk -t2 -c16 -d"${SECONDS_EACH}s" --latency -s bench/post_rating.lua "$BASE" >"$WORK/out.txt"
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
    printf '%s: %s writes/s, p99 %s\n' "$2" "$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$WORK/out.txt")" "$(awk '$1 == "99%" {print $2}' "$WORK/out.txt")"
}

for round in 1 2; do
    measure "$A" "A (round $round)"
    measure "$B" "B (round $round)"
done

#!/usr/bin/env bash
# onset benchmark: seeds demo cohorts and measures onset beside the database's own limit,
# on SQLite and on PostgreSQL, then prints one table per backend.
#
#   cargo build --release && bench/run.sh [sqlite|postgres|both]
#
# Needs wrk and pgbench (Debian: apt-get install wrk postgresql-client) and a PostgreSQL
# at $BENCH_PG (default postgres://postgres@127.0.0.1:5432) where the user may create
# databases. Sizes: BENCH_PATIENTS (20000, the clinic that is written and read),
# BENCH_SMALL (2000) and BENCH_LARGE (100000) for the analytics growth, BENCH_SECONDS (10),
# BENCH_SELF_REPORTS (5000 single-use links answered), BENCH_ONE_SECONDS (8: writes to one
# patient, whose history grows to thousands of ratings);
# BENCH_BIN (target/release/onset) to measure another build side by side.
set -euo pipefail
cd "$(dirname "$0")/.."

WHICH="${1:-both}"
PATIENTS="${BENCH_PATIENTS:-20000}"
SMALL="${BENCH_SMALL:-2000}"
LARGE="${BENCH_LARGE:-100000}"
SECONDS_EACH="${BENCH_SECONDS:-10}"
SELF_REPORTS="${BENCH_SELF_REPORTS:-5000}"
ONE_SECONDS="${BENCH_ONE_SECONDS:-8}"
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
BIN="${BENCH_BIN:-target/release/onset}"
PORT="${BENCH_PORT:-18950}"
BASE="http://127.0.0.1:$PORT"
WORK="$(mktemp -d)"
# Only the servers started here: `kill 0` would signal the whole process group (this
# script's caller too), which is what an unset pid defaulting to 0 did.
trap 'for pid in ${SERVER:-} ${SECOND:-}; do kill "$pid" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT

[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 1; }
for tool in wrk curl python3; do command -v "$tool" >/dev/null || { echo "bench/run.sh needs $tool" >&2; exit 1; }; done

export ONSET_JWT_SECRET="benchmark secret that is at least thirty-two bytes"
export ONSET_EXPORT_KEY="benchmark export key, thirty-two bytes or more"
export ONSET_LOGIN_PER_ADDRESS_PER_MINUTE=1000000
export ONSET_LOGIN_PER_ACCOUNT_PER_MINUTE=1000000
export ONSET_SELF_REPORT_PER_ADDRESS_PER_MINUTE=1000000
export RUST_LOG=error

json() { python3 -c "import sys, json; print(json.load(sys.stdin)$1)"; }
login() { # seed → token of the demo clinic's admin
    read -r email password < <("$BIN" demo-data --seed "$1" --print-admin)
    curl -sf "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
        -d "{\"email\":\"$email\",\"password\":\"$password\"}" | json '["access_token"]'
}
seconds_of() { curl -s -o /dev/null -w '%{time_total}' "$@"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms() { awk -v s="$1" 'BEGIN {printf "%.1f", s * 1000}'; }
peak_rss() { awk '/VmHWM/ {printf "%.1f MiB", $2 / 1024}' "/proc/$SERVER/status"; }
# wrk's latency distribution line for a percentile, in ms
wrk_ms() { awk -v p="$2" '$1 == p { v = $2; if (v ~ /us$/) { sub(/us/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms/, "", v) } else if (v ~ /s$/) { sub(/s/, "", v); v *= 1000 } printf "%.1f", v }' "$1"; }
wrk_rate() { awk '/Requests\/sec/ {printf "%.0f", $2}' "$1"; }
wrk_errors() { awk '/Non-2xx/ {print $5} /Socket errors/ {print}' "$1"; }

start_server() {
    DATABASE_URL="$1" ONSET_BIND="127.0.0.1:$PORT" "$BIN" serve >"$WORK/server.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 100); do curl -sf "$BASE/healthz" >/dev/null && return; sleep 0.1; done
    echo "the server did not start:" >&2; cat "$WORK/server.log" >&2; exit 1
}

run() {
    local backend="$1" url
    if [ "$backend" = sqlite ]; then
        url="$WORK/bench.db"
    else
        psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS onset_bench_run" -c "CREATE DATABASE onset_bench_run" >/dev/null
        url="$PG/onset_bench_run"
    fi
    echo "== $backend: seeding $PATIENTS, $SMALL and $LARGE patients" >&2
    for pair in "1 $PATIENTS" "2 $SMALL" "3 $LARGE"; do
        set -- $pair
        if [ "$2" -gt 0 ]; then
            local seeded; seeded=$(DATABASE_URL="$url" "$BIN" demo-data --seed "$1" --patients "$2" 2>"$WORK/seed.log") || { cat "$WORK/seed.log" >&2; exit 1; }
            echo "${seeded%%$'\n'*}" >&2
        fi
    done
    start_server "$url"
    local token patients
    token=$(login 1)
    # The writes go to 200 patients of the clinic (each ~25 ratings from the demo, ~100
    # more from the writes), and the reads after them read those patients.
    patients=$(curl -sf "$BASE/api/v1/patients?limit=200" -H "authorization: Bearer $token" | json '["items"]' | python3 -c "import sys, ast; print(','.join(p['id'] for p in ast.literal_eval(sys.stdin.read())))")
    local one="${patients%%,*}"

    # Two seconds of writes first, not measured: threads, connections and caches start
    # warm for every build alike.
    TOKEN="$token" PATIENTS="$patients" wrk -t2 -c16 -d2s -s bench/post_rating.lua "$BASE" >/dev/null
    echo "== $backend: rating writes spread over 200 patients, 16 connections, ${SECONDS_EACH}s" >&2
    TOKEN="$token" PATIENTS="$patients" wrk -t2 -c16 -d"${SECONDS_EACH}s" --latency -s bench/post_rating.lua "$BASE" >"$WORK/writes.txt"
    echo "== $backend: rating writes to one patient, 16 connections, ${ONE_SECONDS}s" >&2
    TOKEN="$token" PATIENTS="$one" wrk -t2 -c16 -d"${ONE_SECONDS}s" --latency -s bench/post_rating.lua "$BASE" >"$WORK/one.txt"
    local history; history=$(curl -sf "$BASE/api/v1/patients/$one/trajectory?limit=1" -H "authorization: Bearer $token" | python3 -c "import sys, json; print(sum(s['ratings_total'] for s in json.load(sys.stdin)['series']))")
    local raw
    if [ "$backend" = sqlite ]; then
        raw=$(python3 bench/sqlite_raw_insert.py "$WORK/raw.db" "$SECONDS_EACH")
        local raw_label="python sqlite3, 16 threads, WAL + synchronous=FULL"
    else
        psql "$url" -qc "CREATE TABLE IF NOT EXISTS bench_raw (id uuid PRIMARY KEY, patient_id uuid NOT NULL, total int NOT NULL, created_at timestamptz NOT NULL)" >/dev/null
        echo "INSERT INTO bench_raw VALUES (gen_random_uuid(), gen_random_uuid(), 1, now());" >"$WORK/insert.sql"
        raw=$(pgbench -n -c16 -j2 -T"$SECONDS_EACH" -f "$WORK/insert.sql" "$url" 2>/dev/null | awk '/^tps/ {printf "%.0f", $3}')
        local raw_label="pgbench, 16 clients, single-row INSERT"
    fi

    echo "== $backend: trajectory reads of the 200 patients after the writes, 16 connections, ${SECONDS_EACH}s" >&2
    TOKEN="$token" PATIENTS="$patients" wrk -t2 -c16 -d"${SECONDS_EACH}s" --latency -s bench/get_trajectory.lua "$BASE" >"$WORK/reads.txt"

    echo "== $backend: due-list reads, 16 connections, ${SECONDS_EACH}s" >&2
    wrk -t2 -c16 -d"${SECONDS_EACH}s" --latency -H "authorization: Bearer $token" "$BASE/api/v1/due?limit=50" >"$WORK/due.txt"

    echo "== $backend: self-report submissions, $SELF_REPORTS single-use links, 16 connections" >&2
    python3 bench/self_report_links.py "$BASE" "$token" "$patients" "$SELF_REPORTS" "$WORK/links.txt" >/dev/null
    # Each link answers once: the run is short enough that they do not run out.
    LINKS="$WORK/links.txt" WRK_THREADS=2 wrk -t2 -c16 -d2s --latency -s bench/post_self_report.lua "$BASE" >"$WORK/self.txt"
    local answered; answered=$(awk '/^answered/ {printf "%.0f", $2 / ($4 / 1e6)}' "$WORK/self.txt")
    [ "$(awk '/^answered/ {print $2}' "$WORK/self.txt")" -lt "$SELF_REPORTS" ] || answered="$answered (links ran out: raise BENCH_SELF_REPORTS)"

    local pair_rows=""
    if [ "$backend" = postgres ]; then
        # A second instance on the same database: writes and reads spread across both.
        local second=$((PORT + 1))
        DATABASE_URL="$url" ONSET_BIND="127.0.0.1:$second" "$BIN" serve >"$WORK/second.log" 2>&1 &
        SECOND=$!
        for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$second/healthz" >/dev/null && break; sleep 0.1; done
        echo "== $backend: two instances, rating writes and trajectory reads, 8 + 8 connections, ${SECONDS_EACH}s each" >&2
        for kind in post_rating get_trajectory; do
            TOKEN="$token" PATIENTS="$patients" wrk -t1 -c8 -d"${SECONDS_EACH}s" --latency -s "bench/$kind.lua" "$BASE" >"$WORK/$kind-a.txt" &
            local first=$!
            TOKEN="$token" PATIENTS="$patients" wrk -t1 -c8 -d"${SECONDS_EACH}s" --latency -s "bench/$kind.lua" "http://127.0.0.1:$second" >"$WORK/$kind-b.txt"
            wait "$first"
        done
        kill "$SECOND"; wait "$SECOND" 2>/dev/null || true
        local both_writes both_reads
        both_writes=$(( $(wrk_rate "$WORK/post_rating-a.txt") + $(wrk_rate "$WORK/post_rating-b.txt") ))
        both_reads=$(( $(wrk_rate "$WORK/get_trajectory-a.txt") + $(wrk_rate "$WORK/get_trajectory-b.txt") ))
        pair_rows+="| two instances: rating writes, 8 + 8 connections | $both_writes/s (p99 $(wrk_ms "$WORK/post_rating-a.txt" 99%) / $(wrk_ms "$WORK/post_rating-b.txt" 99%) ms) |"$'\n'
        pair_rows+="| two instances: trajectory reads, 8 + 8 connections | $both_reads/s (p99 $(wrk_ms "$WORK/get_trajectory-a.txt" 99%) / $(wrk_ms "$WORK/get_trajectory-b.txt" 99%) ms) |"$'\n'
    fi

    echo "== $backend: cohort analytics" >&2
    local analytics=""
    for pair in "2 $SMALL" "1 $PATIENTS" "3 $LARGE"; do
        set -- $pair
        [ "$2" -gt 0 ] || continue
        local t; t=$(login "$1")
        seconds_of "$BASE/api/v1/analytics/onset?instrument=ybocs" -H "authorization: Bearer $t" >/dev/null
        local best; best=$(for _ in 1 2 3 4 5; do seconds_of "$BASE/api/v1/analytics/onset?instrument=ybocs" -H "authorization: Bearer $t"; echo; done | median)
        analytics+="| cohort analytics (ybocs, response), $2 patients | $(ms "$best") ms (median of 5) |"$'\n'
        if [ "$1" = 1 ]; then
            # The researcher's private view of the same clinic: consenting patients only.
            local email="researcher-$RANDOM@bench.example" r
            curl -sf "$BASE/api/v1/users" -H "authorization: Bearer $t" -H 'content-type: application/json' \
                -d "{\"email\":\"$email\",\"password\":\"benchmark password\",\"name\":\"Bench\",\"role\":\"researcher\"}" >/dev/null
            r=$(curl -sf "$BASE/api/v1/auth/login" -H 'content-type: application/json' -d "{\"email\":\"$email\",\"password\":\"benchmark password\"}" | json '["access_token"]')
            seconds_of "$BASE/api/v1/analytics/onset?instrument=ybocs" -H "authorization: Bearer $r" >/dev/null
            best=$(for _ in 1 2 3 4 5; do seconds_of "$BASE/api/v1/analytics/onset?instrument=ybocs" -H "authorization: Bearer $r"; echo; done | median)
            analytics+="| cohort analytics as a researcher (private view), $2 patients | $(ms "$best") ms (median of 5) |"$'\n'
        fi
    done

    echo "== $backend: exports" >&2
    local exports=""
    for pair in "1 $PATIENTS" "3 $LARGE"; do
        set -- $pair
        [ "$2" -gt 0 ] || continue
        local t; t=$(login "$1")
        local started ended rows
        started=$(date +%s.%N)
        rows=$(curl -sf "$BASE/api/v1/exports/assessments?format=csv" -H "authorization: Bearer $t" | tail -n +2 | wc -l)
        ended=$(date +%s.%N)
        exports+="| export, clinic of $2 patients: $rows rows | $(awk -v r="$rows" -v a="$started" -v b="$ended" 'BEGIN {printf "%.0f rows/s", r / (b - a)}'), server peak RSS so far $(peak_rss) |"$'\n'
    done

    # Every kept fold and summary, derived again from the records and compared (all three
    # clinics, after every write above).
    echo "== $backend: onset check-summaries" >&2
    local checked; checked=$(DATABASE_URL="$url" "$BIN" check-summaries 2>&1 | head -1)
    local same_work=""
    if [ "$backend" = postgres ]; then
        # Last: its rows are written beside onset's, with no folds kept for them.
        echo "== $backend: the same work in pgbench, 16 clients, ${SECONDS_EACH}s" >&2
        psql "$url" -qc "CREATE TABLE bench_patients AS SELECT row_number() OVER (ORDER BY p.id) AS n, p.id AS patient_id, p.clinic_id, (SELECT u.id FROM users u WHERE u.clinic_id = p.clinic_id ORDER BY u.id LIMIT 1) AS user_id FROM patients p WHERE p.id IN ('$(echo "$patients" | sed "s/,/','/g")')" >/dev/null
        # A build before the folds (series_folds) cannot run it: "n/a".
        # Statistics first: the self-report phase just added tens of thousands of due
        # ratings that autovacuum has not analyzed yet, and with the statistics of the seed
        # the due match's custom plans took the status index (EXPLAIN ANALYZE: 6.4 ms
        # against 0.07 ms by the patient's index), so the script measured a stale plan, not
        # the limit of the work (312-391/s against about 1,000/s).
        psql "$url" -qc "ANALYZE" >/dev/null
        pgbench -n -M prepared -c16 -j2 -T"$SECONDS_EACH" -r -f bench/same_work.sql "$url" >"$WORK/same_work.txt" 2>"$WORK/same_work.log" || true
        same_work=$(awk '/^tps/ {printf "%.0f", $3}' "$WORK/same_work.txt")
        # Each statement's mean latency, to the progress log: which one a slow run waited on.
        grep -E '^ +[0-9.]+ +[0-9]+ +[A-Z]' "$WORK/same_work.txt" | cut -c1-100 >&2 || true
        [ -n "$same_work" ] || { tail -2 "$WORK/same_work.log" >&2; same_work="n/a"; }
    fi
    local logins; logins=$(for _ in 1 2 3 4 5; do seconds_of "$BASE/api/v1/auth/login" -H 'content-type: application/json' -d "{\"email\":\"admin@demo-1.onset.example\",\"password\":\"$("$BIN" demo-data --seed 1 --print-admin | cut -d' ' -f2)\"}"; echo; done | median)

    local writes; writes=$(wrk_rate "$WORK/writes.txt")
    echo
    echo "### $backend ($(nproc) cores, $(date -u +%Y-%m-%d))"
    echo
    echo "| measure | figure |"
    echo "|---|---|"
    local one_rate; one_rate=$(wrk_rate "$WORK/one.txt")
    echo "| durable rating writes spread over 200 patients, 16 connections | $writes/s, p50 $(wrk_ms "$WORK/writes.txt" 50%) ms, p99 $(wrk_ms "$WORK/writes.txt" 99%) ms $(wrk_errors "$WORK/writes.txt" | tr '\n' ' ') |"
    echo "| durable rating writes to one patient, 16 connections, ${ONE_SECONDS}s (history after: $history ratings) | $one_rate/s, p50 $(wrk_ms "$WORK/one.txt" 50%) ms, p99 $(wrk_ms "$WORK/one.txt" 99%) ms $(wrk_errors "$WORK/one.txt" | tr '\n' ' ') |"
    echo "| one patient / spread | $(awk -v a="$one_rate" -v b="$writes" 'BEGIN {printf "%.0f %%", 100 * a / b}') |"
    echo "| raw single-row inserts ($raw_label) | $raw/s |"
    echo "| onset writes / raw inserts | $(awk -v a="$writes" -v b="$raw" 'BEGIN {printf "%.0f %%", 100 * a / b}') |"
    if [ -n "$same_work" ]; then
        echo "| the same work in pgbench (bench/same_work.sql), 16 clients | $same_work/s |"
        echo "| onset writes / the same work in pgbench | $(awk -v a="$writes" -v b="$same_work" 'BEGIN {if (b + 0 > 0) printf "%.0f %%", 100 * a / b; else print "n/a"}') |"
    fi
    echo "| onset check-summaries after the writes | $checked |"
    echo "| trajectory reads of the 200 patients after the writes, 16 connections | $(wrk_rate "$WORK/reads.txt")/s, p50 $(wrk_ms "$WORK/reads.txt" 50%) ms, p99 $(wrk_ms "$WORK/reads.txt" 99%) ms $(wrk_errors "$WORK/reads.txt" | tr '\n' ' ') |"
    echo "| due-list reads, 16 connections | $(wrk_rate "$WORK/due.txt")/s, p50 $(wrk_ms "$WORK/due.txt" 50%) ms, p99 $(wrk_ms "$WORK/due.txt" 99%) ms $(wrk_errors "$WORK/due.txt" | tr '\n' ' ') |"
    echo "| self-report submissions (each link used once), 16 connections | $answered/s, p50 $(wrk_ms "$WORK/self.txt" 50%) ms, p99 $(wrk_ms "$WORK/self.txt" 99%) ms $(wrk_errors "$WORK/self.txt" | tr '\n' ' ') |"
    printf '%s' "$pair_rows"
    printf '%s' "$analytics"
    printf '%s' "$exports"
    echo "| login (argon2id), median of 5 | $(ms "$logins") ms |"
    echo "| server peak RSS through the run | $(peak_rss) |"
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
    [ "$backend" = postgres ] && psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS onset_bench_run" >/dev/null
    return 0
}

case "$WHICH" in
    sqlite) run sqlite ;;
    postgres) run postgres ;;
    both) run sqlite; run postgres ;;
    *) echo "usage: bench/run.sh [sqlite|postgres|both]" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# How precisely clobber paces an open-loop run (-R): against an idle `clobber serve`, the
# corrected latency (from each request's due time) should exceed the uncorrected service time
# (from its write) only by how late clobber sent it. Prints, per rate, the median over RUNS of
# corrected p50, uncorrected p50, their difference, and the client's CPU per second of run.
#
# Usage: scripts/bench-pacing.sh
#   RATES="3 2000 20000" DURATION=3s RUNS=3 CONNECTIONS=50
#   BASE=/path/to/other/clobber   also run that binary, interleaved, for a side-by-side
# Server pinned to the last CPU, client to CPU 0, both on 127.0.0.1; the server is started
# here and stopped by PID on exit.
set -euo pipefail

RATES=${RATES:-3 2000 20000}
DURATION=${DURATION:-3s}
RUNS=${RUNS:-3}
CONNECTIONS=${CONNECTIONS:-50}
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=$(pwd)/target/release/clobber
ncpu=$(nproc)

tmp=$(mktemp -d)
server_pid=
cleanup() {
    [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
    [ -z "$server_pid" ] || wait "$server_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

taskset -c $((ncpu - 1)) "$bin" serve --mode http --listen 127.0.0.1:0 >"$tmp/serve.out" &
server_pid=$!
for _ in $(seq 50); do grep -q listening "$tmp/serve.out" 2>/dev/null && break; sleep 0.1; done
addr=$(awk '/listening/ {print $3}' "$tmp/serve.out")

clients=("clobber=$bin")
[ -z "${BASE:-}" ] || clients+=("base=$BASE")

for rate in $RATES; do
    for run in $(seq "$RUNS"); do
        for client in "${clients[@]}"; do
            name=${client%%=*}
            path=${client#*=}
            taskset -c 0 "$path" "http://$addr/" -R "$rate" -c "$CONNECTIONS" -t 1 -d "$DURATION" --json \
                >"$tmp/$name-$rate-$run.json"
        done
    done
done

python3 - "$tmp" "$RATES" "$RUNS" "${clients[@]%%=*}" <<'EOF'
import json, statistics, sys
tmp, rates, runs, names = sys.argv[1], sys.argv[2].split(), int(sys.argv[3]), sys.argv[4:]
print(f"{'client':8} {'-R':>7} {'corrected p50':>14} {'uncorrected p50':>16} {'late by':>8} {'CPU ms/s':>9} {'req/s':>8}")
for rate in rates:
    for name in names:
        rows = []
        for run in range(1, runs + 1):
            r = json.load(open(f"{tmp}/{name}-{rate}-{run}.json"))
            l = r["latency_us"]
            cpu_ms_per_s = (r["client_cpu"]["user_s"] + r["client_cpu"]["sys_s"]) * 1e3 / r["duration_s"]
            rows.append((l["corrected"]["p50"], l["uncorrected"]["p50"], cpu_ms_per_s, r["rps"]))
        med = [statistics.median(x) for x in zip(*rows)]
        print(f"{name:8} {rate:>7} {med[0]:>11.0f} us {med[1]:>13.0f} us {med[0]-med[1]:>5.0f} us {med[2]:>9.1f} {med[3]:>8.0f}")
EOF

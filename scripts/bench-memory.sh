#!/usr/bin/env bash
# Client memory against the run's length: runs clobber at a low open-loop rate for a short and
# a long duration against `clobber serve` and prints the client's RSS near the end of each run
# (VmRSS from /proc, sampled every half second; VmHWM is the peak). The per-second timeline is
# the only thing that grows with the run, and it is capped (ARCHITECTURE.md, Invariants), so
# both figures must be close.
#
# Usage: scripts/bench-memory.sh      (SHORT=10s LONG=600s RATE=5000 CONNECTIONS=50)
#   BIN=path: measure that binary instead of building target/release/clobber.
set -euo pipefail

SHORT=${SHORT:-10s}
LONG=${LONG:-600s}
RATE=${RATE:-5000}
CONNECTIONS=${CONNECTIONS:-50}
cd "$(dirname "$0")/.."
if [ -z "${BIN:-}" ]; then
    cargo build --release --quiet
    BIN=target/release/clobber
fi
tmp=$(mktemp -d)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ncpu=$(nproc)
taskset -c $((ncpu - 1)) "$BIN" serve --listen 127.0.0.1:0 --mode http >"$tmp/serve.out" &
server_pid=$!
for _ in $(seq 100); do grep -q '^listening on ' "$tmp/serve.out" 2>/dev/null && break; sleep 0.05; done
url="http://$(sed -n 's/^listening on //p' "$tmp/serve.out")/"

field_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null; }

# measure DURATION: prints "duration rss_kib hwm_kib requests timeline_entries json_bytes"
measure() {
    local duration=$1 pid rss=0 hwm=0 r h
    taskset -c 0 "$BIN" "$url" -t 1 --cpus 0 -c "$CONNECTIONS" -R "$RATE" -d "$duration" --json >"$tmp/out.json" &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        r=$(field_kib "$pid" VmRSS || true)
        h=$(field_kib "$pid" VmHWM || true)
        if [ -n "$r" ]; then rss=$r; fi
        if [ -n "$h" ]; then hwm=$h; fi
        sleep 0.5
    done
    wait "$pid" || true
    python3 - "$duration" "$rss" "$hwm" "$tmp/out.json" <<'PY'
import json, os, sys
duration, rss, hwm, path = sys.argv[1:5]
r = json.load(open(path))
print(duration, rss, hwm, r["requests"], len(r["timeline"]), os.path.getsize(path))
PY
}

rows=()
for d in "$SHORT" "$LONG"; do
    rows+=("$(measure "$d")")
done

echo
echo "clobber $url -R $RATE -c $CONNECTIONS -t 1 against clobber serve --mode http, $(date -u +%Y-%m-%d), $(nproc) CPUs"
echo
echo "| duration | client RSS near the end | peak RSS (VmHWM) | requests | timeline entries | JSON bytes |"
echo "|---:|---:|---:|---:|---:|---:|"
for row in "${rows[@]}"; do
    read -r d rss hwm requests entries bytes <<<"$row"
    echo "| $d | $(python3 -c "print(f'{$rss / 1024:.1f}')") MiB | $(python3 -c "print(f'{$hwm / 1024:.1f}')") MiB | $requests | $entries | $bytes |"
done

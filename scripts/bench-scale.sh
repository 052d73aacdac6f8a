#!/usr/bin/env bash
# How many connections one clobber process holds, and what each costs: opens 1k, 5k, 10k and
# 19k keep-alive connections against `clobber serve`, holds them at a low rate (-R 2000 in
# total), and prints the client's RSS per open connection (from /proc, against a 1-connection
# baseline: the kernel's own socket memory is not in it) and the connect-time percentiles.
# Target: <= 8 KiB of client RSS per connection at 19k. A process here may hold 20,000 files.
#
# Usage: scripts/bench-scale.sh        (COUNTS="1000 5000 10000 19000" DURATION=6s TLS=)
#   TLS=1: the same over TLS (`clobber serve --tls`, client -k): rustls' state per connection.
set -euo pipefail

COUNTS=${COUNTS:-1000 5000 10000 19000}
DURATION=${DURATION:-6s}
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=target/release/clobber
tmp=$(mktemp -d)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ncpu=$(nproc)
serve_tls=(); scheme=http; client_tls=()
if [ -n "${TLS:-}" ]; then serve_tls=(--tls); scheme=https; client_tls=(-k); fi
taskset -c $((ncpu - 1)) "$bin" serve --listen 127.0.0.1:0 --mode http "${serve_tls[@]}" >"$tmp/serve.out" &
server_pid=$!
for _ in $(seq 100); do grep -q '^listening on ' "$tmp/serve.out" 2>/dev/null && break; sleep 0.05; done
url="$scheme://$(sed -n 's/^listening on //p' "$tmp/serve.out")/"

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# measure N: runs N connections; prints "N rss_kib requests connect_p50 connect_p99 connect_max errors"
measure() {
    local n=$1 pid rss=0 r
    taskset -c 0 "$bin" "$url" "${client_tls[@]}" -t 1 --cpus 0 -c "$n" -R 2000 -d "$DURATION" --json >"$tmp/out.json" &
    pid=$!
    # Sample the RSS over the run's second half, once all connections are open; keep the peak.
    sleep 3
    for _ in 1 2 3 4 5; do
        r=$(rss_kib "$pid" 2>/dev/null || echo 0)
        [ "$r" -gt "$rss" ] && rss=$r
        sleep 0.4
    done
    wait "$pid" || true
    python3 - "$n" "$rss" "$tmp/out.json" <<'PY'
import json, sys
n, rss, path = sys.argv[1], sys.argv[2], sys.argv[3]
r = json.load(open(path))
c = r.get("connect_us") or {}
print(n, rss, r["connections_opened"], r["requests"], c.get("p50", 0), c.get("p99", 0), c.get("max", 0), r["errors"])
PY
}

measure 1 >"$tmp/base"
read -r _ base_rss _ _ _ _ _ _ <"$tmp/base"
for n in $COUNTS; do
    measure "$n" >>"$tmp/rows"
done

echo
echo "clobber holding N keep-alive $scheme connections at -R 2000 against clobber serve, $DURATION, $(date -u +%Y-%m-%d), $(nproc) CPUs"
echo "baseline RSS with one connection: $base_rss KiB"
echo
echo "| connections | opened | client RSS | RSS per connection | connect p50 | connect p99 | connect max | requests | errors |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
while read -r n rss opened requests p50 p99 max errors; do
    per=$(python3 -c "print(f'{($rss - $base_rss) * 1024 / $n / 1024:.2f} KiB')")
    echo "| $n | $opened | $((rss / 1024)) MiB | $per | ${p50} µs | ${p99} µs | ${max} µs | $requests | $errors |"
done <"$tmp/rows"

#!/usr/bin/env bash
# Measures clobber against its own built-in server: `clobber serve` pinned to one core, the
# client (one thread) pinned to another, for keep-alive, pipelined and connection-per-request
# raw echo. Prints req/s, client CPU µs per request (user+sys of the client process, from the
# kernel via the shell's `times`), and how busy the server's core was.
#
# Usage: scripts/bench-self.sh            (DURATION=5s CONNECTIONS=50 RUNS=3 to change)
set -euo pipefail

DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-50}
RUNS=${RUNS:-3}
cd "$(dirname "$0")/.."

ncpu=$(nproc)
if [ "$ncpu" -ge 2 ]; then
    server_cpu=1
    client_cpu=0
else
    server_cpu=0
    client_cpu=0
    echo "warning: one CPU only; client and server share it" >&2
fi

cargo build --release --quiet
bin=target/release/clobber
tmp=$(mktemp -d)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

taskset -c "$server_cpu" "$bin" serve --listen 127.0.0.1:0 >"$tmp/serve.out" &
server_pid=$!
for _ in $(seq 100); do
    grep -q '^listening on ' "$tmp/serve.out" 2>/dev/null && break
    sleep 0.05
done
addr=$(sed -n 's/^listening on //p' "$tmp/serve.out")
[ -n "$addr" ] || { echo "clobber serve did not start" >&2; exit 1; }

# CPU ticks (user+sys) of a process so far, from /proc/PID/stat fields 14 and 15.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# run NAME ARGS...: one bounded client run; appends "name rps cpu_us_per_req server_busy p99_us".
run() {
    local name=$1; shift
    local s0 s1 t0 t1
    s0=$(ticks "$server_pid"); t0=$(date +%s.%N)
    # `times` in the subshell prints its children's user and sys CPU time on its second line.
    ( taskset -c "$client_cpu" "$bin" "$addr" -t 1 --cpus "$client_cpu" -c "$CONNECTIONS" -d "$DURATION" --json "$@" >"$tmp/out.json"; times >"$tmp/times" )
    t1=$(date +%s.%N); s1=$(ticks "$server_pid")
    python3 - "$name" "$tmp/out.json" "$tmp/times" "$s0" "$s1" "$t0" "$t1" "$hz" >>"$tmp/results" <<'PY'
import json, re, sys
name, out, times, s0, s1, t0, t1, hz = sys.argv[1:]
r = json.load(open(out))
line = open(times).read().splitlines()[1]
secs = [int(m) * 60 + float(s) for m, s in re.findall(r"(\d+)m([\d.]+)s", line)]
cpu = sum(secs)
req = r["requests"]
busy = (int(s1) - int(s0)) / float(hz) / (float(t1) - float(t0))
print(name, round(r["rps"]), round(cpu * 1e6 / req, 3) if req else "nan", round(busy, 2), r["latency_us"]["p99"], r["errors"])
PY
}

for i in $(seq "$RUNS"); do
    run keep-alive --data 'ping\n' --until '\n'
    run pipeline-16 --data 'ping\n' --until '\n' --pipeline 16
    run reconnect --data 'ping\n' --until '\n' --reconnect
done

echo
echo "clobber vs clobber serve, raw echo, $CONNECTIONS connections, $DURATION, client on CPU $client_cpu, server on CPU $server_cpu, median of $RUNS"
echo "$(date -u +%Y-%m-%d), $(nproc) CPUs, $(uname -r)"
echo
python3 - "$tmp/results" <<'PY'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    name, rps, cpu, busy, p99, errors = line.split()
    rows.setdefault(name, []).append((float(rps), float(cpu), float(busy), int(p99), int(errors)))
print("| scenario | req/s | client CPU µs/req | p99 µs | server core busy | errors |")
print("|---|---:|---:|---:|---:|---:|")
for name, runs in rows.items():
    med = lambda i: statistics.median(r[i] for r in runs)
    print(f"| {name} | {med(0):,.0f} | {med(1):.2f} | {med(3):,.0f} | {med(2):.2f} | {sum(r[4] for r in runs)} |")
PY

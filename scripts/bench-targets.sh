#!/usr/bin/env bash
# What requests that vary cost clobber's client: issue 15's target, `--targets` with 1,000
# entries and {{rand}} in the path at <= 1.05x the client CPU per request of one fixed URL,
# keep-alive and --pipeline 16. One client thread pinned to CPU 0, the server pinned to the
# last CPU, 50 connections, and for each case, interleaved (fixed same targets, fixed same
# targets, ...):
#   fixed    one fixed URL, /
#   same     one fixed URL as long as the varying ones, /?k=0001&r=0000000
#   targets  --targets with 1,000 entries /?k=NNNN&r={{rand:1-1000000}}
# and, when MODES asks for them (MODES="fixed same targets onerand random"):
#   onerand  one URL with a placeholder, /?k=0001&r={{rand:1-1000000}} (redis-benchmark -r's case)
#   random   the 1,000 entries in --order random (each entry copied, then filled)
# Cases (CASES to choose): keepalive (nginx, one request per round trip), pipeline16 (`clobber
# serve --mode http`, which must be faster than the client so that the client is measured),
# pipeline16-nginx (the same against nginx, a second server, which parses every request head
# whatever it is, but saturates its core first).
#
# Client CPU per request is user + system time of the client process (getrusage of the
# children, from the kernel) over the responses it reports. Printed per case: the medians of
# the runs, the server's CPU per request and how busy its core was, and two ratios against
# `fixed` (and `same`): of the medians, and the median of the per-round ratios (each round's
# targets run against the fixed run next to it, which cancels slow drifts of a shared machine).
#
# Usage: RUNS=5 DURATION=3s CASES="keepalive pipeline16 pipeline16-nginx" MODES="fixed same targets" scripts/bench-targets.sh
#   (MODES must hold fixed and same: the ratios are against them)
#   BIN=path         measure another build (default: cargo build --release)
#   SERVER_BIN=path  the `clobber serve` to measure against (default: BIN)
#   RAW=path         also keep every run's line (case mode round responses client_cpu_s
#                    server_cpu_s wall_s errors) in that file
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh
RUNS=${RUNS:-5}
DURATION=${DURATION:-3s}
CASES=${CASES:-keepalive pipeline16 pipeline16-nginx}
MODES=${MODES:-fixed same targets}
CONNECTIONS=${CONNECTIONS:-50}
if [ -z "${BIN:-}" ]; then cargo build --release --quiet; BIN=target/release/clobber; fi
SERVER_BIN=${SERVER_BIN:-$BIN}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "bench-targets.sh: needs nginx (apt-get install nginx)" >&2; exit 1; }
ncpu=$(nproc); server_cpu=$((ncpu - 1)); client_cpu=0
bench_setup
nginx_port=$(free_port)
nginx_conf "$nginx_port" "$server_cpu" "$tmp" >"$tmp/nginx.conf"
taskset -c "$server_cpu" "$NGINX" -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/error.log" &
nginx_master=$!; pids+=("$nginx_master")
taskset -c "$server_cpu" "$SERVER_BIN" serve --listen 127.0.0.1:0 --mode http >"$tmp/serve.out" &
serve_pid=$!; pids+=("$serve_pid")
for _ in $(seq 200); do
    grep -q '^listening on ' "$tmp/serve.out" 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$nginx_port") 2>/dev/null && break
    sleep 0.05
done
serve_addr=$(sed -n 's/^listening on //p' "$tmp/serve.out")
nginx_worker=$(pgrep -P "$nginx_master" | head -1)
for addr in "$serve_addr" "127.0.0.1:$nginx_port"; do
    for k in $(seq 1000); do printf 'GET http://%s/?k=%04d&r={{rand:1-1000000}}\n\n' "$addr" "$k"; done >"$tmp/targets-$addr.txt"
done

# run CASE MODE ROUND: one client run; appends "case mode round responses client_cpu_s server_cpu_s wall_s".
run() {
    local case=$1 mode=$2 round=$3 addr pid pipeline args
    case $case in
    keepalive) addr=127.0.0.1:$nginx_port; pid=$nginx_worker; pipeline=1 ;;
    pipeline16) addr=$serve_addr; pid=$serve_pid; pipeline=16 ;;
    pipeline16-nginx) addr=127.0.0.1:$nginx_port; pid=$nginx_worker; pipeline=16 ;;
    *) echo "unknown case '$case' (keepalive pipeline16 pipeline16-nginx)" >&2; exit 2 ;;
    esac
    case $mode in
    fixed) args=("http://$addr/") ;;
    same) args=("http://$addr/?k=0001&r=0000000") ;;
    targets) args=(--targets "$tmp/targets-$addr.txt") ;;
    onerand) args=("http://$addr/?k=0001&r={{rand:1-1000000}}") ;;
    random) args=(--targets "$tmp/targets-$addr.txt" --order random --seed 1) ;;
    *) echo "unknown mode '$mode' (fixed same targets onerand random)" >&2; exit 2 ;;
    esac
    python3 - "$case" "$mode" "$round" "$pid" "$tmp/out.json" taskset -c "$client_cpu" "$BIN" "${args[@]}" \
        -t 1 -c "$CONNECTIONS" -d "$DURATION" --pipeline "$pipeline" --json >>"$tmp/results" <<'PY'
import json, os, resource, subprocess, sys, time
case, mode, rnd, pid, out = sys.argv[1:6]
ticks = lambda: sum(int(f) for f in open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[11:13])
before, s0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), ticks(), time.monotonic()
with open(out, "w") as f:
    subprocess.run(sys.argv[6:], stdout=f, check=True)
after, s1, t1 = resource.getrusage(resource.RUSAGE_CHILDREN), ticks(), time.monotonic()
cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
r = json.load(open(out))
print(case, mode, rnd, r["requests"], f"{cpu:.6f}", (s1 - s0) / os.sysconf("SC_CLK_TCK"), f"{t1 - t0:.4f}", r["errors"])
PY
}

for round in $(seq "$RUNS"); do
    for case in $CASES; do
        for mode in $MODES; do run "$case" "$mode" "$round"; done
    done
done

[ -z "${RAW:-}" ] || cp "$tmp/results" "$RAW"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $ncpu CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), kernel $(uname -r)."
echo "Client on CPU $client_cpu (one thread), server on CPU $server_cpu, $CONNECTIONS connections, $DURATION per run, $RUNS interleaved rounds."
echo "Command: RUNS=$RUNS DURATION=$DURATION CASES=\"$CASES\" MODES=\"$MODES\" scripts/bench-targets.sh"
echo
python3 - "$tmp/results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    case, mode, rnd, n, cpu, server, wall, errors = line.split()
    n = int(n)
    runs.setdefault((case, mode), {})[int(rnd)] = (n / float(wall), float(cpu) * 1e6 / n, float(server) * 1e6 / n,
                                                    float(server) / float(wall), int(errors))
cases = list(dict.fromkeys(c for c, _ in runs))
print("| case | request | req/s | client CPU µs/req | server CPU µs/req | server core busy | errors "
      "| CPU/req vs fixed (of medians) | vs fixed (median of rounds) | vs same length (median of rounds) |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for case in cases:
    med = lambda mode, i: statistics.median(r[i] for r in runs[(case, mode)].values())
    def paired(mode, ref):
        rounds = runs[(case, mode)].keys() & runs[(case, ref)].keys()
        return statistics.median(runs[(case, mode)][k][1] / runs[(case, ref)][k][1] for k in rounds)
    for mode in ("fixed", "same", "targets", "onerand", "random"):
        if (case, mode) not in runs:
            continue
        errors = sum(r[4] for r in runs[(case, mode)].values())
        print(f"| {case} | {mode} | {med(mode, 0):,.0f} | {med(mode, 1):.3f} | {med(mode, 2):.3f} | {med(mode, 3):.2f} "
              f"| {errors} | {med(mode, 1) / med('fixed', 1):.3f}× | {paired(mode, 'fixed'):.3f}× "
              f"| {paired(mode, 'same'):.3f}× |")
PY

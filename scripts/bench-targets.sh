#!/usr/bin/env bash
# What requests that vary cost clobber's client, apart from what longer requests cost: one
# client thread (CPU 0) pipelining 16 deep against `clobber serve --mode http` (last CPU), 50
# connections, interleaved runs of
#   fixed    one fixed URL, /
#   same     one fixed URL as long as the varying ones, /?k=0001&r=0000000
#   targets  --targets with 1,000 entries /?k=NNNN&r={{rand:1-1000000}}
# printing user and system CPU per request of each run (from /usr/bin/time), then the medians
# and the ratios against `fixed` and `same`. `same` vs `targets` is the cost of varying: the
# user-space fill (a copy and a few digit stores per request); `fixed` vs `same` is what the
# longer request costs the kernel and the server.
#
# Usage: RUNS=5 DURATION=3s scripts/bench-targets.sh   (BIN=path to measure another build)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
DURATION=${DURATION:-3s}
if [ -z "${BIN:-}" ]; then cargo build --release --quiet; BIN=target/release/clobber; fi
ncpu=$(nproc); server_cpu=$((ncpu - 1))
tmp=$(mktemp -d)
taskset -c "$server_cpu" "$BIN" serve --listen 127.0.0.1:0 --mode http >"$tmp/serve.out" &
serve_pid=$!
trap 'kill $serve_pid 2>/dev/null || true; wait $serve_pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do grep -q '^listening on ' "$tmp/serve.out" 2>/dev/null && break; sleep 0.05; done
addr=$(sed -n 's/^listening on //p' "$tmp/serve.out")
for k in $(seq 1000); do printf 'GET http://%s/?k=%04d&r={{rand:1-1000000}}\n\n' "$addr" "$k"; done >"$tmp/targets.txt"
for _ in $(seq "$RUNS"); do
    for mode in fixed same targets; do
        case $mode in
        fixed) args=("http://$addr/") ;;
        same) args=("http://$addr/?k=0001&r=0000000") ;;
        targets) args=(--targets "$tmp/targets.txt") ;;
        esac
        /usr/bin/time -f '%U %S' -o "$tmp/time" taskset -c 0 "$BIN" "${args[@]}" -t 1 -c 50 -d "$DURATION" \
            --pipeline 16 --json >"$tmp/out.json"
        n=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['requests'])" "$tmp/out.json")
        echo "$mode $n $(cat "$tmp/time")" >>"$tmp/results"
    done
done
python3 - "$tmp/results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    mode, n, user, sys_ = line.split()
    n = int(n)
    rows.setdefault(mode, []).append((n, float(user) * 1e6 / n, float(sys_) * 1e6 / n))
med = {m: [statistics.median(r[i] for r in runs) for i in range(3)] for m, runs in rows.items()}
print("| request | responses (median) | user µs/req | sys µs/req | total µs/req | vs fixed | vs same length |")
print("|---|---:|---:|---:|---:|---:|---:|")
total = lambda m: statistics.median(r[1] + r[2] for r in rows[m])
for m in ("fixed", "same", "targets"):
    n, user, sys_ = med[m]
    print(f"| {m} | {n:,.0f} | {user:.3f} | {sys_:.3f} | {total(m):.3f} | {total(m) / total('fixed'):.2f}× | {total(m) / total('same'):.2f}× |")
PY

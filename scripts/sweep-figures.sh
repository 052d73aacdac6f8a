#!/usr/bin/env bash
# README's sweep figures: `clobber sweep` of a server, next to the closed-loop req/s of the same
# server from clobber and wrk measured in the same minute (just before the sweep).
#
#   scripts/sweep-figures.sh TARGET OUT_DIR      TARGET: nginx-c50 | nginx-c500 | serve-c50
#   scripts/sweep-figures.sh page OUT_DIR        the page (OUT_DIR/sweep.html) and its screenshot
#
# The server is pinned to the last CPU (nginx: one worker, `return 200 "hello\n"`, access log
# off; or `clobber serve --mode http -t 1`), the client to CPU 0, both on 127.0.0.1. Each target
# writes OUT_DIR/TARGET.json (the sweep) and appends a line to OUT_DIR/figures.txt. Run each
# under the shared CPU lock: flock /tmp/clobber-cpu.lock scripts/sweep-figures.sh nginx-c50 out
# Environment: RATES (default 20000..400000), STEP (3s), WARMUP (1s), SLO (p99<=10ms),
# CLOSED (closed-loop duration, 5s).
set -euo pipefail

target=${1:?usage: sweep-figures.sh nginx-c50|nginx-c500|serve-c50|page OUT_DIR}
out=$(realpath -m "${2:?usage: sweep-figures.sh TARGET OUT_DIR}")
RATES=${RATES:-20000..400000}
STEP=${STEP:-3s}
WARMUP=${WARMUP:-1s}
SLO=${SLO:-p99<=10ms}
CLOSED=${CLOSED:-5s}
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh
root=$(pwd)
mkdir -p "$out"
cargo build --release --quiet
bin=$root/target/release/clobber
server_cpu=$(($(nproc) - 1))
client_cpu=0

if [ "$target" = page ]; then
    "$bin" report "$out/nginx-c50.json" "$out/nginx-c500.json" "$out/serve-c50.json" \
        --label "nginx -c 50" --label "nginx -c 500" --label "clobber serve -c 50" -o "$out/sweep.html"
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,1400 \
        --user-data-dir="$(mktemp -d)" --screenshot="$out/sweep.png" "file://$out/sweep.html" 2>/dev/null
    echo "wrote $out/sweep.html and $out/sweep.png"
    exit 0
fi

bench_setup
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "nothing listens on $1" >&2; exit 1; }

case "$target" in
    nginx-c50) connections=50 ;;
    nginx-c500) connections=500 ;;
    serve-c50) connections=50 ;;
    *) echo "unknown target $target" >&2; exit 2 ;;
esac
port=$(free_port)
if [[ "$target" == nginx-* ]]; then
    nginx_conf "$port" "$server_cpu" "$tmp" >"$tmp/nginx.conf"
    taskset -c "$server_cpu" "$(command -v nginx || echo /usr/sbin/nginx)" -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/error.log" &
    pids+=($!)
else
    taskset -c "$server_cpu" "$bin" serve --listen "127.0.0.1:$port" --mode http -t 1 >"$tmp/serve.out" &
    pids+=($!)
fi
wait_port "$port"
url="http://127.0.0.1:$port/"

# Closed loop, the same minute: clobber, then wrk, both one thread on the client CPU.
clobber_rps=$(taskset -c $client_cpu "$bin" "$url" -t 1 --cpus $client_cpu -c $connections -d "$CLOSED" --json |
    python3 -c 'import json,sys; print(round(json.load(sys.stdin)["rps"]))')
wrk_rps=$(taskset -c $client_cpu wrk -t1 -c$connections -d"$CLOSED" "$url" |
    python3 -c 'import sys,re; print(round(float(re.search(r"Requests/sec:\s+([\d.]+)", sys.stdin.read()).group(1))))')

# The sweep, the same connections for every step, then bisection to 2%.
"$bin" sweep "$url" -t 1 --cpus $client_cpu -c $connections --rates "$RATES" \
    --step-duration "$STEP" --step-warmup "$WARMUP" --slo "$SLO" --slo 'errors<=0.1%' --search --json >"$out/$target.json" || true
read -r knee verdict < <(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))["sweep"]
k = s["sustainable_rps"]
print(round(k) if k else "none", s["verdict"])' "$out/$target.json")
line="$target: knee $knee req/s ($SLO); closed loop: clobber $clobber_rps req/s, wrk $wrk_rps req/s; $(date -u +%H:%M); $verdict"
echo "$line" | tee -a "$out/figures.txt"

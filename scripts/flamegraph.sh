#!/usr/bin/env bash
# Records clobber under load with perf and renders a flamegraph SVG into flamegraphs/.
#
# Usage: scripts/flamegraph.sh SCENARIO      (keepalive | pipeline | reconnect | echo | tls | tlsreconnect | h2)
#   DURATION=3s sets the recording time.
# The target is `clobber serve` pinned to the last CPU; clobber (one thread) is pinned to CPU 0
# and built with the `profiling` profile (release plus line tables). perf samples the
# `cpu-clock` software event, which works in VMs without hardware counters; if `cycles` is
# available the script says so, but keeps cpu-clock so profiles compare across machines.
# Needs perf (apt-get install linux-perf) and inferno (cargo install inferno; installed here
# when missing).
set -euo pipefail

scenario=${1:-}
DURATION=${DURATION:-3s}
cd "$(dirname "$0")/.."
root=$(pwd)

case $scenario in
keepalive) mode=http; args=(-c 50) ;;
pipeline) mode=http; args=(-c 50 --pipeline 16) ;;
reconnect) mode=http; args=(-c 50 --reconnect) ;;
echo) mode=echo; args=(-c 50 --pipeline 16 --data 'ping\n' --until '\n') ;;
tls) mode=http; tls=1; args=(-c 50 -k) ;;
tlsreconnect) mode=http; tls=1; args=(-c 50 -k --reconnect) ;;
h2) mode=h2; args=(-c 50 --http2 --streams 100) ;;
*) echo "usage: scripts/flamegraph.sh keepalive|pipeline|reconnect|echo|tls|tlsreconnect|h2" >&2; exit 2 ;;
esac
# TLS scenarios: `clobber serve --tls` (a self-signed certificate, so the client runs with -k;
# resumption on).
serve_tls=(); [ -z "${tls:-}" ] || serve_tls=(--tls)

if ! command -v perf >/dev/null; then
    echo "flamegraph.sh: installing perf (linux-perf)" >&2
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq linux-perf >/dev/null
fi
if ! command -v inferno-flamegraph >/dev/null; then
    echo "flamegraph.sh: installing inferno (cargo install inferno)" >&2
    cargo install --quiet inferno
fi
if perf stat -e cycles true 2>&1 | grep -q '[0-9] *cycles'; then
    echo "flamegraph.sh: hardware counters are available; sampling cpu-clock anyway, for profiles that compare across machines" >&2
else
    echo "flamegraph.sh: no hardware counters here (a VM?); sampling the cpu-clock software event" >&2
fi

cargo build --profile profiling --quiet
bin=$root/target/profiling/clobber
ncpu=$(nproc)
server_cpu=$((ncpu - 1))

tmp=$(mktemp -d)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

taskset -c "$server_cpu" "$bin" serve --listen 127.0.0.1:0 --mode "$mode" "${serve_tls[@]}" >"$tmp/serve.out" &
server_pid=$!
for _ in $(seq 100); do grep -q '^listening on ' "$tmp/serve.out" 2>/dev/null && break; sleep 0.05; done
addr=$(sed -n 's/^listening on //p' "$tmp/serve.out")
if [ -n "${tls:-}" ]; then target="https://$addr/"; elif [ "$mode" = http ] || [ "$mode" = h2 ]; then target="http://$addr/"; else target="tcp://$addr"; fi

perf record -q -e cpu-clock -F 999 -g --call-graph dwarf,16384 -o "$tmp/perf.data" -- \
    taskset -c 0 "$bin" "$target" -t 1 --cpus 0 -d "$DURATION" "${args[@]}" >"$tmp/report.txt"
grep -E 'Requests|Client CPU' "$tmp/report.txt" >&2
mkdir -p flamegraphs
perf script -i "$tmp/perf.data" 2>/dev/null | inferno-collapse-perf >"$tmp/folded"
# Where the time went, by the frame nearest main that names it (for flamegraphs/README.md).
python3 "$root/scripts/fold_summary.py" "$tmp/folded" >&2 || true
inferno-flamegraph --title "clobber $scenario ($(date -u +%Y-%m-%d), ${DURATION}, cpu-clock)" \
    <"$tmp/folded" >"flamegraphs/$scenario.svg"
echo "wrote flamegraphs/$scenario.svg" >&2

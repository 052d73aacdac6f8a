#!/usr/bin/env bash
# Side-by-side comparison of clobber with the C load generators, on one machine, in one run.
#
# Servers (on the last CPU): nginx (one worker, `return 200`, a 16 KiB file, access log off)
# and `clobber serve`. Clients (on CPU 0, one thread each): clobber, wrk, h2load --h1, ab.
# Each client runs RUNS times, interleaved (A B C A B C ...); the table gives the medians of
# req/s, client CPU µs per request (user+sys of the client process, from the kernel via the
# shell's `times`, divided by the requests the client itself reports), p99 latency as the
# tool reports it, and how busy the server's core was (1.00 = saturated: then req/s is the
# server's ceiling and only CPU per request tells the clients apart). Ratios are against wrk
# (ab where wrk has no equivalent).
#
# Usage: scripts/compare.sh
#   DURATION=5s CONNECTIONS=50 RUNS=3 SCENARIOS="keepalive pipeline reconnect large echo tls tlsreconnect"
#   (not in the default list: the HTTP/2 scenarios h2 h2m1 h2tls, and targets)
#   BASE=/path/to/an/older/clobber   also run that binary, interleaved, as "clobber (base)" in the
#                                    keepalive, pipeline, reconnect, large, echo, tls, h2, h2m1 and h2tls scenarios:
#                                    before/after figures for a change, from one run
# Two more scenarios, not in the default list: unixecho (raw echo, pipelined 16, to `clobber serve
# --listen unix:PATH`; compare with echo's TCP figure) and redis (GET of a missing key, pipelined
# 16, to a redis-server on the server CPU: clobber --frame resp over TCP and over its Unix
# socket, against redis-benchmark -P 16, which stops on a count: REDIS_N requests).
# TLS scenarios go to a second nginx server block (TLS 1.3, an ECDSA P-256 certificate made
# here with openssl, session tickets on): keep-alive https (clobber vs wrk) and a handshake per
# request (clobber --reconnect with and without resumption vs ab, which never resumes).
# clobber verifies the certificate (--cacert; a self-signed leaf, CA:FALSE, as webpki wants);
# wrk and ab do not verify.
# HTTP/2 scenarios go to h2o (one thread, on the server CPU, a 6-byte static file): h2c with
# clobber --http2 --streams 100 vs h2load -m100 (h2), --streams 1 vs -m1 (h2m1), and over TLS
# with ALPN h2 at 100 streams (h2tls); ratios there are against h2load.
# The targets scenario measures what requests that vary cost clobber: --targets with 1,000
# entries, each with {{rand}} in its query, against one fixed URL, keep-alive (nginx) and
# --pipeline 16 (clobber serve, and nginx as a second server); its ratios are against the fixed
# URL ("(ref)"). scripts/bench-targets.sh measures the same with more rounds, a fixed URL of the
# varying ones' length, and per-round ratios.
# Installs missing tools with apt-get (wrk, nghttp2-client, apache2-utils, nginx, openssl, h2o) and builds
# clobber in release mode. Servers are started here, on free ports, and stopped by PID on exit.
set -euo pipefail

DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-50}
RUNS=${RUNS:-3}
SCENARIOS=${SCENARIOS:-keepalive pipeline reconnect large echo tls tlsreconnect}
REDIS_N=${REDIS_N:-4000000}
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh
root=$(pwd)

need() {  # need COMMAND PACKAGE
    command -v "$1" >/dev/null || [ -x "/usr/sbin/$1" ] && return 0
    echo "compare.sh: installing $2" >&2
    local sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    [ -n "${apt_updated:-}" ] || { $sudo apt-get update -qq; apt_updated=1; }
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$2" >/dev/null
}
need wrk wrk
need h2load nghttp2-client
need ab apache2-utils
need nginx nginx
need openssl openssl
case " $SCENARIOS " in *" h2"*) need h2o h2o ;; esac
command -v python3 >/dev/null || need python3 python3-minimal
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

cargo build --release --quiet
bin=$root/target/release/clobber

ncpu=$(nproc)
client_cpu=0
server_cpu=$((ncpu - 1))
[ "$ncpu" -ge 2 ] || echo "warning: one CPU only; client and server share it" >&2
# Whole seconds for the tools that take only those (h2load -D, ab -t).
secs=$(python3 -c "import sys; d=sys.argv[1]; v=float(d[:-2])/1000 if d.endswith('ms') else float(d.rstrip('s')); print(max(1, round(v)))" "$DURATION")

bench_setup
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "nothing listens on $1" >&2; exit 1; }

# nginx: one worker on the server CPU; plain HTTP and TLS.
nginx_port=$(free_port)
tls_port=$(free_port)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -addext "basicConstraints=critical,CA:FALSE" -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
head -c 16384 /dev/zero | tr '\0' 'x' >"$tmp/16k.bin"
nginx_conf "$nginx_port" "$server_cpu" "$tmp" \
    '        location = /16k.bin { root '"$tmp"'; }' \
    "    server {
        listen 127.0.0.1:$tls_port ssl backlog=8192;
        ssl_certificate $tmp/cert.pem;
        ssl_certificate_key $tmp/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        location = / { return 200 \"hello\\n\"; }
    }" >"$tmp/nginx.conf"
taskset -c "$server_cpu" "$NGINX" -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/error.log" &
pids+=($!)
nginx_master=$!

# clobber serve: HTTP (for pipelining: nginx saturates first) and echo, on the server CPU.
taskset -c "$server_cpu" "$bin" serve --listen 127.0.0.1:0 --mode http >"$tmp/serve-http.out" &
pids+=($!); serve_http_pid=$!
taskset -c "$server_cpu" "$bin" serve --listen 127.0.0.1:0 --mode echo >"$tmp/serve-echo.out" &
pids+=($!); serve_echo_pid=$!
wait_port "$nginx_port"
for f in serve-http serve-echo; do
    for _ in $(seq 100); do grep -q '^listening on ' "$tmp/$f.out" 2>/dev/null && break; sleep 0.05; done
done
taskset -c "$server_cpu" "$bin" serve --listen "unix:$tmp/echo.sock" --mode echo >"$tmp/serve-unix.out" &
pids+=($!); serve_unix_pid=$!
redis_port=""
if [[ " $SCENARIOS " == *" redis "* ]]; then
    need redis-server redis-server
    need redis-benchmark redis-tools
    redis_port=$(free_port)
    taskset -c "$server_cpu" redis-server --port "$redis_port" --bind 127.0.0.1 --unixsocket "$tmp/redis.sock" \
        --save '' --appendonly no --dir "$tmp" >"$tmp/redis.log" 2>&1 &
    pids+=($!); redis_pid=$!
    wait_port "$redis_port"
fi
serve_http=$(sed -n 's/^listening on //p' "$tmp/serve-http.out")
serve_echo=$(sed -n 's/^listening on //p' "$tmp/serve-echo.out")
nginx_worker=$(pgrep -P "$nginx_master" | head -1)

# h2o for the HTTP/2 scenarios: one thread on the server CPU, h2c and TLS. As root it drops
# privileges, so what it serves must be readable by anyone.
case " $SCENARIOS " in *" h2"*)
    h2o_port=$(free_port); h2o_tls_port=$(free_port)
    mkdir -p "$tmp/www" && printf 'hello\n' >"$tmp/www/index.html" && chmod -R a+rX "$tmp"
    cat >"$tmp/h2o.conf" <<CONF
num-threads: 1
listen:
  host: 127.0.0.1
  port: $h2o_port
listen:
  host: 127.0.0.1
  port: $h2o_tls_port
  ssl:
    certificate-file: $tmp/cert.pem
    key-file: $tmp/key.pem
hosts:
  default:
    paths:
      /:
        file.dir: $tmp/www
error-log: $tmp/h2o-error.log
CONF
    taskset -c "$server_cpu" h2o -c "$tmp/h2o.conf" >/dev/null 2>&1 &
    pids+=($!); h2o_pid=$!
    wait_port "$h2o_port"
    ;;
esac

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# measure SCENARIO CLIENT SERVER_PID PARSER COMMAND...: one run; appends a result line.
measure() {
    local scenario=$1 client=$2 server_pid=$3 parser=$4; shift 4
    local s0 s1 t0 t1
    s0=$(ticks "$server_pid"); t0=$(date +%s.%N)
    ( taskset -c "$client_cpu" "$@" >"$tmp/out" 2>"$tmp/err" || true; times >"$tmp/times" )
    t1=$(date +%s.%N); s1=$(ticks "$server_pid")
    python3 "$root/scripts/parse_client.py" "$parser" "$tmp/out" "$tmp/times" \
        "$scenario" "$client" "$s0" "$s1" "$t0" "$t1" "$hz" >>"$tmp/results" || {
        echo "compare.sh: $client failed in $scenario:" >&2; tail -n 5 "$tmp/err" "$tmp/out" >&2; }
}

C=$CONNECTIONS
url="http://127.0.0.1:$nginx_port/"
# 1,000 entries, {{rand}} in each path's query: nginx's `location = /` answers them all.
for port in "$nginx_port" "${serve_http##*:}"; do
    for k in $(seq 1000); do printf 'GET http://127.0.0.1:%s/?k=%04d&r={{rand:1-1000000}}\n\n' "$port" "$k"; done >"$tmp/targets-$port.txt"
done
for i in $(seq "$RUNS"); do
    for scenario in $SCENARIOS; do
        case $scenario in
        keepalive)
            measure keepalive clobber "$nginx_worker" clobber "$bin" "$url" -t 1 --cpus "$client_cpu" -c "$C" -d "$DURATION" --json
            [ -z "${BASE:-}" ] || measure keepalive "clobber (base)" "$nginx_worker" clobber "$BASE" "$url" -t 1 --cpus "$client_cpu" -c "$C" -d "$DURATION" --json
            measure keepalive wrk "$nginx_worker" wrk wrk -t1 -c"$C" -d"$DURATION" --latency "$url"
            measure keepalive "h2load --h1" "$nginx_worker" h2load h2load --h1 -t1 -c"$C" -D "$secs" "$url"
            measure keepalive "ab -k" "$nginx_worker" ab ab -q -k -c "$C" -t "$secs" -n 100000000 "$url"
            if command -v oha >/dev/null; then
                measure keepalive oha "$nginx_worker" oha oha --no-tui -j -c "$C" -z "$DURATION" "$url"
            fi
            ;;
        reconnect)
            measure reconnect "clobber --reconnect" "$nginx_worker" clobber "$bin" "$url" -t 1 --cpus "$client_cpu" -c "$C" -d "$DURATION" --reconnect --json
            [ -z "${BASE:-}" ] || measure reconnect "clobber (base) --reconnect" "$nginx_worker" clobber "$BASE" "$url" -t 1 --cpus "$client_cpu" -c "$C" -d "$DURATION" --reconnect --json
            measure reconnect "ab" "$nginx_worker" ab ab -q -c "$C" -t "$secs" -n 100000000 "$url"
            ;;
        pipeline)
            purl="http://$serve_http/"
            measure pipeline16 "clobber --pipeline 16" "$serve_http_pid" clobber "$bin" "$purl" -t 1 --cpus "$client_cpu" -c "$C" -d "$DURATION" --pipeline 16 --json
            [ -z "${BASE:-}" ] || measure pipeline16 "clobber (base) --pipeline 16" "$serve_http_pid" clobber "$BASE" "$purl" -t 1 --cpus "$client_cpu" -c "$C" -d "$DURATION" --pipeline 16 --json
            measure pipeline16 "wrk pipeline.lua 16" "$serve_http_pid" wrk wrk -t1 -c"$C" -d"$DURATION" --latency -s "$root/scripts/pipeline.lua" "$purl" -- 16
            ;;
        large)
            lurl="http://127.0.0.1:$nginx_port/16k.bin"
            measure large16k clobber "$nginx_worker" clobber "$bin" "$lurl" -t 1 --cpus "$client_cpu" -c "$C" -d "$DURATION" --json
            [ -z "${BASE:-}" ] || measure large16k "clobber (base)" "$nginx_worker" clobber "$BASE" "$lurl" -t 1 --cpus "$client_cpu" -c "$C" -d "$DURATION" --json
            measure large16k wrk "$nginx_worker" wrk wrk -t1 -c"$C" -d"$DURATION" --latency "$lurl"
            ;;
        tls)
            turl="https://127.0.0.1:$tls_port/"
            measure tls-keepalive clobber "$nginx_worker" clobber "$bin" "$turl" --cacert "$tmp/cert.pem" -t 1 --cpus "$client_cpu" -c "$C" -d "$DURATION" --json
            [ -z "${BASE:-}" ] || measure tls-keepalive "clobber (base)" "$nginx_worker" clobber "$BASE" "$turl" --cacert "$tmp/cert.pem" -t 1 --cpus "$client_cpu" -c "$C" -d "$DURATION" --json
            measure tls-keepalive wrk "$nginx_worker" wrk wrk -t1 -c"$C" -d"$DURATION" --latency "$turl"
            ;;
        tlsreconnect)
            turl="https://127.0.0.1:$tls_port/"
            measure tls-handshake "clobber --reconnect --no-resume" "$nginx_worker" clobber "$bin" "$turl" --cacert "$tmp/cert.pem" -t 1 --cpus "$client_cpu" -c "$C" -d "$DURATION" --reconnect --no-resume --json
            measure tls-handshake "clobber --reconnect (resumed)" "$nginx_worker" clobber "$bin" "$turl" --cacert "$tmp/cert.pem" -t 1 --cpus "$client_cpu" -c "$C" -d "$DURATION" --reconnect --json
            measure tls-handshake "ab" "$nginx_worker" ab ab -q -c "$C" -t "$secs" -n 100000000 "$turl"
            ;;
        echo)
            measure echo16 "clobber raw --pipeline 16" "$serve_echo_pid" clobber "$bin" "tcp://$serve_echo" -t 1 --cpus "$client_cpu" -c "$C" -d "$DURATION" --data 'ping\n' --until '\n' --pipeline 16 --json
            [ -z "${BASE:-}" ] || measure echo16 "clobber (base) raw --pipeline 16" "$serve_echo_pid" clobber "$BASE" "tcp://$serve_echo" -t 1 --cpus "$client_cpu" -c "$C" -d "$DURATION" --data 'ping\n' --until '\n' --pipeline 16 --json
            ;;
        targets)
            measure targets-keepalive "clobber fixed URL (ref)" "$nginx_worker" clobber "$bin" "$url" -t 1 --cpus "$client_cpu" -c "$C" -d "$DURATION" --json
            measure targets-keepalive "clobber --targets 1000 {{rand}}" "$nginx_worker" clobber "$bin" --targets "$tmp/targets-$nginx_port.txt" -t 1 --cpus "$client_cpu" -c "$C" -d "$DURATION" --json
            purl="http://$serve_http/"
            measure targets-pipeline16 "clobber fixed URL (ref)" "$serve_http_pid" clobber "$bin" "$purl" -t 1 --cpus "$client_cpu" -c "$C" -d "$DURATION" --pipeline 16 --json
            measure targets-pipeline16 "clobber --targets 1000 {{rand}}" "$serve_http_pid" clobber "$bin" --targets "$tmp/targets-${serve_http##*:}.txt" -t 1 --cpus "$client_cpu" -c "$C" -d "$DURATION" --pipeline 16 --json
            # nginx as a second server: it parses every head either way, but saturates first.
            measure targets-pipeline16-nginx "clobber fixed URL (ref)" "$nginx_worker" clobber "$bin" "$url" -t 1 --cpus "$client_cpu" -c "$C" -d "$DURATION" --pipeline 16 --json
            measure targets-pipeline16-nginx "clobber --targets 1000 {{rand}}" "$nginx_worker" clobber "$bin" --targets "$tmp/targets-$nginx_port.txt" -t 1 --cpus "$client_cpu" -c "$C" -d "$DURATION" --pipeline 16 --json
            ;;
        unixecho)
            measure unixecho16 "clobber raw unix: --pipeline 16" "$serve_unix_pid" clobber "$bin" "unix:$tmp/echo.sock" -t 1 --cpus "$client_cpu" -c "$C" -d "$DURATION" --data 'ping\n' --until '\n' --pipeline 16 --json
            ;;
        redis)
            get='*2\r\n$3\r\nGET\r\n$16\r\nkey:__rand_int__\r\n'
            measure redis-get16 "redis-benchmark -P 16" "$redis_pid" "redis-benchmark:$REDIS_N" redis-benchmark -p "$redis_port" -c "$C" -n "$REDIS_N" -P 16 -t get --csv
            measure redis-get16 "clobber --frame resp --pipeline 16" "$redis_pid" clobber "$bin" "tcp://127.0.0.1:$redis_port" -t 1 --cpus "$client_cpu" -c "$C" -d "$DURATION" --data "$get" --frame resp --pipeline 16 --json
            measure redis-get16 "clobber --frame resp --pipeline 16, unix:" "$redis_pid" clobber "$bin" "unix:$tmp/redis.sock" -t 1 --cpus "$client_cpu" -c "$C" -d "$DURATION" --data "$get" --frame resp --pipeline 16 --json
            ;;
        h2)
            hurl="http://127.0.0.1:$h2o_port/index.html"
            measure h2-streams100 "clobber --http2 --streams 100" "$h2o_pid" clobber "$bin" "$hurl" --http2 --streams 100 -t 1 --cpus "$client_cpu" -c "$C" -d "$DURATION" --json
            [ -z "${BASE:-}" ] || measure h2-streams100 "clobber (base) --http2 --streams 100" "$h2o_pid" clobber "$BASE" "$hurl" --http2 --streams 100 -t 1 --cpus "$client_cpu" -c "$C" -d "$DURATION" --json
            measure h2-streams100 "h2load -m100" "$h2o_pid" h2load h2load -t1 -c"$C" -m100 -D "$secs" "$hurl"
            ;;
        h2m1)
            hurl="http://127.0.0.1:$h2o_port/index.html"
            measure h2-streams1 "clobber --http2 --streams 1" "$h2o_pid" clobber "$bin" "$hurl" --http2 --streams 1 -t 1 --cpus "$client_cpu" -c "$C" -d "$DURATION" --json
            [ -z "${BASE:-}" ] || measure h2-streams1 "clobber (base) --http2 --streams 1" "$h2o_pid" clobber "$BASE" "$hurl" --http2 --streams 1 -t 1 --cpus "$client_cpu" -c "$C" -d "$DURATION" --json
            measure h2-streams1 "h2load -m1" "$h2o_pid" h2load h2load -t1 -c"$C" -m1 -D "$secs" "$hurl"
            ;;
        h2tls)
            hturl="https://127.0.0.1:$h2o_tls_port/index.html"
            measure h2-tls-streams100 "clobber --http2 --streams 100" "$h2o_pid" clobber "$bin" "$hturl" --http2 --streams 100 --cacert "$tmp/cert.pem" -t 1 --cpus "$client_cpu" -c "$C" -d "$DURATION" --json
            [ -z "${BASE:-}" ] || measure h2-tls-streams100 "clobber (base) --http2 --streams 100" "$h2o_pid" clobber "$BASE" "$hturl" --http2 --streams 100 --cacert "$tmp/cert.pem" -t 1 --cpus "$client_cpu" -c "$C" -d "$DURATION" --json
            measure h2-tls-streams100 "h2load -m100" "$h2o_pid" h2load h2load -t1 -c"$C" -m100 -D "$secs" "$hturl"
            ;;
        *) echo "unknown scenario '$scenario' (keepalive pipeline reconnect large echo tls tlsreconnect h2 h2m1 h2tls unixecho redis targets)" >&2; exit 2 ;;
        esac
    done
done

echo
echo "## clobber vs other load generators"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), kernel $(uname -r)."
echo "Server on CPU $server_cpu, client on CPU $client_cpu, $CONNECTIONS connections, $DURATION per run, median of $RUNS interleaved runs."
echo "Command: DURATION=$DURATION CONNECTIONS=$CONNECTIONS RUNS=$RUNS SCENARIOS=\"$SCENARIOS\" scripts/compare.sh"
echo
python3 "$root/scripts/parse_client.py" table "$tmp/results"

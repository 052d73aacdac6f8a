#!/usr/bin/env bash
# The test command README names: installs what the tests start when it is missing (nginx,
# whose access log the HTTP and TLS tests compare counts with; redis-server and memcached,
# whose own statistics the --frame tests compare counts with; Chromium, in which a test
# renders the HTML report; openssl, which makes test certificates and serves `s_server`; perf,
# which --perf drives; h2o, an HTTP/2 server the --http2 tests count against; h2load, from
# nghttp2-client, the HTTP/2 client `serve --mode h2` is checked against; redis-server, whose
# command counts the raw placeholder tests compare with),
# then runs the whole suite. The tests start and stop their own
# nginx, on their own ports, with their own config; nothing here starts a server.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v chromium >/dev/null || [ -x /usr/bin/chromium ] || missing+=(chromium)
command -v openssl >/dev/null || missing+=(openssl)
command -v perf >/dev/null || missing+=(linux-perf)
[ -x /usr/bin/redis-server ] || missing+=(redis-server)
command -v redis-cli >/dev/null || missing+=(redis-tools)
[ -x /usr/bin/memcached ] || missing+=(memcached)
command -v h2o >/dev/null || missing+=(h2o)
command -v h2load >/dev/null || missing+=(nghttp2-client)
command -v redis-server >/dev/null || missing+=(redis-server redis-tools)
if [ ${#missing[@]} -gt 0 ]; then
    echo "scripts/test.sh: installing ${missing[*]}" >&2
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Debian starts nginx, redis and memcached services on install; the tests do not use them
# (they start their own, on their own ports and sockets).
if [ $# -gt 0 ]; then
    cargo test "$@"
else
    # The sweep tests judge latency objectives (p99 <= 10ms against a 2 ms server, a client
    # that cannot keep up): they run after the rest, one at a time, so that no other test's
    # load decides their verdict.
    cargo test -- --skip sweep::
    cargo test sweep:: -- --test-threads=1
fi
# The page test's screenshot, for a person to look at.
shot=$(ls target/tmp/report-screenshot.png 2>/dev/null || true)
[ -z "$shot" ] || echo "scripts/test.sh: the HTML report as Chromium drew it: $shot"

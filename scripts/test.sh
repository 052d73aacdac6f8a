#!/usr/bin/env bash
# The test command README names: installs the servers the tests start (nginx) when they are
# missing, then runs the whole suite. The tests start and stop their own nginx, on their own
# ports, with their own config; nothing here starts a server.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
    echo "scripts/test.sh: installing nginx (the HTTP tests compare counts with its access log)" >&2
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nginx >/dev/null
fi
# Debian starts an nginx service on install; the tests do not use it (their own ports).
cargo test "$@"

# Sourced by the benchmark scripts (compare.sh, bench-targets.sh, sweep-figures.sh): what they
# all need besides their own measurements.

# bench_setup: a temporary directory in $tmp, and $pids, the servers the script starts; on exit
# (and on Ctrl-C, exit 130) those are ended by PID, waited for, and $tmp is removed.
bench_setup() {
    tmp=$(mktemp -d)
    pids=()
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}
bench_cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$tmp"
}

# A free loopback TCP port.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The nginx they all measure against, one worker pinned to a CPU, no access log, keep-alive
# without limit, `location = /` answering "hello\n".
#   nginx_conf PORT CPU TMP [MORE_IN_THE_SERVER_BLOCK] [MORE_SERVER_BLOCKS] > "$TMP/nginx.conf"
nginx_conf() {
    local port=$1 cpu=$2 dir=$3 more_locations=${4:-} more_servers=${5:-}
    cat <<CONF
worker_processes 1;
worker_cpu_affinity $(python3 -c "print(bin(1 << $cpu)[2:])");
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    client_body_temp_path $dir/body; proxy_temp_path $dir/proxy; fastcgi_temp_path $dir/fcgi;
    uwsgi_temp_path $dir/uwsgi; scgi_temp_path $dir/scgi;
    server {
        listen 127.0.0.1:$port backlog=8192;
        location = / { return 200 "hello\n"; }
$more_locations
    }
$more_servers
}
CONF
}

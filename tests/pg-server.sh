#!/usr/bin/env bash
# A throwaway PostgreSQL server for the C and Python suites (the Rust suites use
# crates/portcullis-store/tests/common/pg.rs, the same recipe).
#   tests/pg-server.sh start DIR   initialises a cluster in DIR (created; as the `postgres`
#                                  user when run as root: initdb refuses root), starts it on
#                                  a free 127.0.0.1 port and prints its superuser URL
#   tests/pg-server.sh stop DIR    stops it at once and removes DIR
# Installs PostgreSQL first when it is missing (crates/portcullis-store/tests/pg.sh).
set -euo pipefail
cmd=${1:?usage: pg-server.sh start|stop DIR}
dir=${2:?usage: pg-server.sh start|stop DIR}
root=$(cd "$(dirname "$0")/.." && pwd)

as_postgres() {
    if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}
bin_dir() {
    compgen -G "/usr/lib/postgresql/*/bin/initdb" | sort -V | tail -1 | xargs dirname
}

case $cmd in
start)
    bash "$root/crates/portcullis-store/tests/pg.sh" >&2
    bin=$(bin_dir)
    mkdir -p "$dir"
    password=pw-t3st-Zq81
    printf '%s' "$password" >"$dir/pw"
    [[ $(id -u) == 0 ]] && chown -R postgres:postgres "$dir"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_postgres "$bin/initdb" -D "$dir/data" -A scram-sha-256 -U postgres -E UTF8 --no-sync \
        --pwfile="$dir/pw" >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60" \
        start >/dev/null || { cat "$dir/log" >&2; exit 1; }
    echo "postgresql://postgres:$password@127.0.0.1:$port/postgres"
    ;;
stop)
    if [[ -d $dir/data ]]; then
        as_postgres "$(bin_dir)/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: pg-server.sh start|stop DIR" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# Start or stop a throw-away PostgreSQL server on loopback for the tests.
#   eval "$(.ci/postgres.sh start)"   # exports DUBAN_TEST_POSTGRES_URL and DUBAN_PG_DIR
#   .ci/postgres.sh stop "$DUBAN_PG_DIR"
# PostgreSQL refuses to run as root, so as root it runs as the existing `postgres` user.
set -euo pipefail

as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
start)
    command -v initdb >/dev/null || { echo "initdb not found: install PostgreSQL 15" >&2; exit 1; }
    dir=$(mktemp -d /tmp/duban-pg.XXXXXX)
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
    as_pg initdb -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    as_pg pg_ctl -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c full_page_writes=off -c synchronous_commit=off" \
        start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "export DUBAN_PG_DIR=$dir"
    echo "export DUBAN_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:$port/postgres"
    ;;
stop)
    dir=${2:?usage: postgres.sh stop DIR}
    if [ -d "$dir/data" ]; then
        as_pg pg_ctl -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
        rm -rf "$dir"
    fi
    ;;
*)
    echo "usage: $0 start | stop DIR" >&2
    exit 2
    ;;
esac

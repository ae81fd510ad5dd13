#!/usr/bin/env bash
# A throwaway PostgreSQL server for the production profile's instance (deploy/dagster.yaml):
#   scripts/postgres.sh start DIR [PORT]   data, socket and log in DIR; listens on 127.0.0.1:PORT
#                                          (default $DAGSTER_PG_PORT, else 5432)
#                                          (as root, DIR's parents must let `postgres` through)
#   scripts/postgres.sh stop DIR           stops it (fast shutdown) and removes DIR
# Debian's server (scripts/bootstrap.sh installs it). The role and database are
# $DAGSTER_PG_USERNAME and $DAGSTER_PG_DB, the password $DAGSTER_PG_PASSWORD: the variables
# deploy/dagster.yaml reads, so the password is never written anywhere but the server.
# PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user.
set -euo pipefail

usage() { echo "usage: $0 start DIR [PORT] | stop DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
command=$1 dir=$2 port=${3:-${DAGSTER_PG_PORT:-5432}}

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/pg_ctl" ] || { echo "postgres.sh: no PostgreSQL server; run scripts/bootstrap.sh" >&2; exit 1; }

root=$([ "$(id -u)" = 0 ] && echo yes || true)
as_owner() { if [ -n "$root" ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
give() { if [ -n "$root" ]; then chown postgres "$@"; fi; }

case $command in
  start)
    : "${DAGSTER_PG_USERNAME:?}" "${DAGSTER_PG_PASSWORD:?}" "${DAGSTER_PG_DB:?}"
    mkdir -p "$dir"
    give "$dir"
    chmod 700 "$dir"
    as_owner test -w "$dir" || { echo "postgres.sh: the server's user cannot reach $dir (use a folder like /tmp/X)" >&2; exit 1; }
    pwfile=$(mktemp -p "$dir")
    printf '%s\n' "$DAGSTER_PG_PASSWORD" > "$pwfile"
    give "$pwfile"
    as_owner "$bin/initdb" -D "$dir/data" -U "$DAGSTER_PG_USERNAME" --pwfile="$pwfile" \
      --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { rm -f "$pwfile"; cat "$dir/initdb.log" >&2; exit 1; }
    rm -f "$pwfile"
    if ! as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200 -c fsync=off" start >/dev/null; then
      tail -20 "$dir/server.log" >&2
      exit 1
    fi
    PGPASSWORD=$DAGSTER_PG_PASSWORD "$bin/createdb" -h 127.0.0.1 -p "$port" -U "$DAGSTER_PG_USERNAME" "$DAGSTER_PG_DB"
    echo "postgres.sh: PostgreSQL on 127.0.0.1:$port, database $DAGSTER_PG_DB, data in $dir"
    echo "postgres.sh: for deploy/dagster.yaml: export DAGSTER_PG_HOST=127.0.0.1 DAGSTER_PG_PORT=$port"
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
    fi
    rm -rf "$dir"
    ;;
  *) usage ;;
esac

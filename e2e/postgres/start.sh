#!/usr/bin/env bash
# Start a throwaway PostgreSQL 15 server for tests and print its DATABASE_URL on stdout.
#
#   export DATABASE_URL="$(e2e/postgres/start.sh)"
#   ... run tests ...
#   kill -INT "$(cat /tmp/msrp-pg.XXXXXX/postgres.pid)"   # path is printed on stderr
#
# - initdb in a fresh temp folder (as the `postgres` user when run as root: initdb refuses root);
# - listens on 127.0.0.1 only, on a free port, unix socket inside the temp folder;
# - password (SCRAM) auth over TCP with a random password, trust on the private unix socket;
# - fsync off: the data is disposable.
# Logs go to stderr; stdout carries only the URL so that `$(...)` captures it.
# Used by .ci/peers.d/10-postgres.sh and by developers.
set -euo pipefail

log() { printf 'postgres: %s\n' "$*" >&2; }

PG_VERSION="${PG_VERSION:-15}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/$PG_VERSION/bin}"
DB_NAME="${PG_DB_NAME:-msrp}"
DB_USER="${PG_DB_USER:-msrp}"

if [ ! -x "$PG_BIN/initdb" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing the postgresql package (no $PG_BIN/initdb)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  else
    log "no $PG_BIN/initdb: install PostgreSQL $PG_VERSION (Debian: apt-get install postgresql) or set PG_BIN"
    exit 1
  fi
fi

# As root, the server runs as `postgres`; otherwise as the calling user.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

DIR="$(mktemp -d "${TMPDIR:-/tmp}/msrp-pg.XXXXXX")"
mkdir -p "$DIR/data" "$DIR/sock"
PASSWORD="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$PASSWORD" >"$DIR/pwfile"
chmod 600 "$DIR/pwfile"
if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$DIR"; fi

log "initdb in $DIR/data"
as_owner "$PG_BIN/initdb" -D "$DIR/data" -U "$DB_USER" --pwfile="$DIR/pwfile" \
  --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 \
  || { cat "$DIR/initdb.log" >&2; exit 1; }
rm -f "$DIR/pwfile"

# A port that nothing answers on; pg_ctl fails if another process takes it first, so retry.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=""
for _ in 1 2 3 4 5 6 7 8; do
  candidate=$(( 20000 + RANDOM % 40000 ))
  port_in_use "$candidate" && continue
  if as_owner "$PG_BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $candidate -k $DIR/sock -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=200" \
      start >&2; then
    PORT="$candidate"
    break
  fi
  log "start on port $candidate failed, retrying"
done
if [ -z "$PORT" ]; then
  log "could not start the server; last log lines:"
  tail -n 20 "$DIR/server.log" >&2 || true
  exit 1
fi

head -n 1 "$DIR/data/postmaster.pid" >"$DIR/postgres.pid"
as_owner "$PG_BIN/psql" -X -q -h "$DIR/sock" -p "$PORT" -U "$DB_USER" -d postgres \
  -c "CREATE DATABASE \"$DB_NAME\"" >&2

URL="postgres://$DB_USER:$PASSWORD@127.0.0.1:$PORT/$DB_NAME"
printf 'export DATABASE_URL=%q\n' "$URL" >"$DIR/env"
log "ready: pid $(cat "$DIR/postgres.pid") port $PORT dir $DIR"
log "stop with: kill -INT \$(cat $DIR/postgres.pid)"
printf '%s\n' "$URL"

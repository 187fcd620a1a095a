#!/usr/bin/env bash
# Private PostgreSQL 15 cluster for development and tests.
#
#   .ci/postgres.sh start [DBNAME]   start (initialising if needed) the cluster in
#                                    <repo>/.data/pg, ensure role "portal" and the
#                                    database DBNAME (default "portal"), then print
#                                    its URL on stdout (everything else goes to stderr)
#   .ci/postgres.sh stop             stop the cluster
#   .ci/postgres.sh status           print "running" or "stopped"
#
# The server listens only on TCP 127.0.0.1:${PGPORT:-54329} (no Unix socket).
# As root, initdb/pg_ctl run as the "postgres" system user.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${PGPORT:-54329}"
DATA="$ROOT/.data"
PGDATA="$DATA/pg"
LOG="$DATA/pg.log"
ADMIN=(-h 127.0.0.1 -p "$PORT" -U postgres)

log() { echo "postgres.sh: $*" >&2; }
is_root() { [ "$(id -u)" = 0 ]; }
as_pg() { if is_root; then runuser -u postgres -- "$@"; else "$@"; fi; }

# As root, the postgres user must be able to reach the repo; if a parent folder
# is private (e.g. under /root), keep the cluster in postgres' home instead.
if is_root && id postgres >/dev/null 2>&1 && ! runuser -u postgres -- test -x "$ROOT"; then
  PGDATA="/var/lib/postgresql/carrierportal-$(echo "$ROOT" | cksum | cut -d' ' -f1)"
  LOG="$PGDATA.log"
fi

find_bin() {
  BIN=""
  for d in /usr/lib/postgresql/15/bin $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then BIN="$d"; return 0; fi
  done
  return 1
}

install_pg() {
  find_bin && return 0
  if ! is_root; then echo "sudo apt-get install -y postgresql" >&2; exit 1; fi
  log "installing postgresql (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-cache show postgresql >/dev/null 2>&1 || apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq postgresql >&2
  find_bin || { log "no initdb/pg_ctl under /usr/lib/postgresql/*/bin"; exit 1; }
}

running() { [ -n "${BIN:-}" ] && [ -f "$PGDATA/PG_VERSION" ] && as_pg "$BIN/pg_ctl" status -D "$PGDATA" >/dev/null 2>&1; }
ready() { "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; }

init_cluster() {
  [ -f "$PGDATA/PG_VERSION" ] && return 0
  log "initialising cluster in $PGDATA"
  rm -rf "$PGDATA" && mkdir -p "$PGDATA" && chmod 0700 "$PGDATA" && : >"$LOG"
  is_root && chown -R postgres: "$PGDATA" "$LOG"
  local locale=C.UTF-8
  locale -a 2>/dev/null | grep -qix 'c\.utf-\?8' || locale=C
  as_pg "$BIN/initdb" -D "$PGDATA" --auth=trust --username=postgres -E UTF8 --locale="$locale" >>"$LOG" 2>&1 ||
    { tail -20 "$LOG" >&2; exit 1; }
  cat >>"$PGDATA/postgresql.conf" <<CONF

# carrierportal
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 200
synchronous_commit = off
CONF
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

# A server left behind after .data was deleted while it ran: its working
# directory is the deleted data folder. Stop it (immediate shutdown).
kill_orphans() {
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/cwd" 2>/dev/null)" = "$PGDATA (deleted)" ] || continue
    [[ "$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)" == *" -D "* ]] || continue
    log "stopping orphaned server (pid ${p#/proc/})"
    kill -QUIT "${p#/proc/}" 2>/dev/null || true
  done
}

# Our port is taken while our cluster is down: stop a Debian system cluster
# configured on the same port, give up on anything else.
free_port() {
  for _ in $(seq 25); do port_busy || return 0; sleep 0.2; done
  local c
  c="$(pg_lsclusters -h 2>/dev/null | awk -v p="$PORT" '$3==p && $4=="online" {print $1, $2}')"
  [ -n "$c" ] || { log "port $PORT is in use by another program; set PGPORT"; exit 1; }
  log "stopping system cluster $c, which uses port $PORT"
  pg_ctlcluster $c stop >&2
  for _ in $(seq 50); do port_busy || return 0; sleep 0.2; done
  log "port $PORT still busy"; exit 1
}

start() {
  local db="${1:-portal}"
  [[ "$db" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || { log "bad database name: $db"; exit 1; }
  mkdir -p "$DATA" && chmod 0755 "$DATA"
  exec 9>>"$DATA/pg.lock" && flock -w 120 9  # one start at a time
  install_pg
  init_cluster
  if running && [ "$(sed -n 4p "$PGDATA/postmaster.pid")" != "$PORT" ]; then
    log "cluster runs on another port; restarting on $PORT"
    as_pg "$BIN/pg_ctl" stop -D "$PGDATA" -m fast -w >&2
  fi
  if ! running; then
    kill_orphans
    free_port
    touch "$LOG" && { ! is_root || chown postgres: "$LOG"; }
    as_pg "$BIN/pg_ctl" start -D "$PGDATA" -l "$LOG" -w -t 30 -o "-p $PORT" >&2 9>&- ||
      { tail -20 "$LOG" >&2; exit 1; }
  fi
  for _ in $(seq 60); do ready && break; sleep 0.5; done
  ready || { log "server not ready on 127.0.0.1:$PORT"; tail -20 "$LOG" >&2; exit 1; }

  "$BIN/psql" "${ADMIN[@]}" -d postgres -v ON_ERROR_STOP=1 -qAt -v db="$db" >&2 <<'SQL'
SELECT 'CREATE ROLE portal' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'portal') \gexec
ALTER ROLE portal LOGIN PASSWORD 'portal' CREATEDB NOSUPERUSER;
SELECT format('CREATE DATABASE %I OWNER portal', :'db')
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL
  echo "postgres://portal:portal@127.0.0.1:$PORT/$db?sslmode=disable"
}

stop() {
  find_bin || { log "postgresql not installed"; return 0; }
  if running; then as_pg "$BIN/pg_ctl" stop -D "$PGDATA" -m fast -w >&2; else log "not running"; fi
}

status() {
  find_bin || true
  if running; then echo running; else echo stopped; fi
}

cd /  # the postgres user may not be able to enter the caller's folder
case "${1:-}" in
  start) shift; start "$@" ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start [DBNAME] | stop | status" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Local Mailpit (fake SMTP server with an HTTP API) for development and tests.
#
#   .ci/mailpit.sh start   install Mailpit if needed, start it in the background
#                          (if not already running) and print on stdout:
#                            MAILPIT_SMTP=127.0.0.1:<smtp port>
#                            MAILPIT_API=http://127.0.0.1:<http port>
#   .ci/mailpit.sh stop    stop it
#
# SMTP listens on 127.0.0.1:${MAILPIT_SMTP_PORT:-1026} (plain, any AUTH accepted),
# the web UI/API on 127.0.0.1:${MAILPIT_HTTP_PORT:-8026}. State lives in <repo>/.data.
set -euo pipefail

VERSION=v1.33.1
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="$ROOT/.data"
PIDFILE="$DATA/mailpit.pid"
LOG="$DATA/mailpit.log"
DB="$DATA/mailpit.db"
SMTP="127.0.0.1:${MAILPIT_SMTP_PORT:-1026}"
HTTP="127.0.0.1:${MAILPIT_HTTP_PORT:-8026}"
API="http://$HTTP"

log() { echo "mailpit.sh: $*" >&2; }

find_mailpit() {
  local gobin
  gobin="$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin/mailpit"
  if [ -x "$gobin" ]; then echo "$gobin"; return; fi
  command -v mailpit
}

install_mailpit() {
  MAILPIT="$(find_mailpit)" && return 0
  log "installing github.com/axllent/mailpit@$VERSION"
  GOTOOLCHAIN=go1.27.3 go install "github.com/axllent/mailpit@$VERSION" >&2
  MAILPIT="$(find_mailpit)" || { log "mailpit not found after go install"; exit 1; }
}

is_mailpit() { [ -n "${1:-}" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = mailpit ]; }
our_pid() { local p; p="$(cat "$PIDFILE" 2>/dev/null || true)"; is_mailpit "$p" && echo "$p"; }
api_ok() { curl -fs -o /dev/null --max-time 2 "$API/api/v1/messages" 2>/dev/null; }

# Mailpit processes started by this script for this repo (e.g. left running
# after .data was deleted), recognised by their database path.
strays() {
  local p
  for p in /proc/[0-9]*; do
    is_mailpit "${p#/proc/}" || continue
    [[ "$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)" == *"--database $DB "* ]] && echo "${p#/proc/}"
  done
  return 0
}

stop() {
  local pids p
  pids="$( { our_pid || true; strays; } | sort -u)"
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  for p in $pids; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  rm -f "$PIDFILE"
}

start() {
  mkdir -p "$DATA"
  exec 9>>"$DATA/mailpit.lock" && flock -w 120 9  # one start at a time
  if our_pid >/dev/null && api_ok; then
    : # already running
  else
    stop
    install_mailpit
    rm -f "$DB" "$DB-wal" "$DB-shm"
    log "starting $MAILPIT (smtp $SMTP, http $HTTP)"
    nohup "$MAILPIT" --listen "$HTTP" --smtp "$SMTP" \
      --smtp-auth-accept-any --smtp-auth-allow-insecure --smtp-disable-rdns \
      --database "$DB" --disable-version-check \
      </dev/null >>"$LOG" 2>&1 9>&- &
    echo $! >"$PIDFILE"
    for _ in $(seq 60); do
      api_ok && break
      our_pid >/dev/null || { log "mailpit exited:"; tail -20 "$LOG" >&2; exit 1; }
      sleep 0.5
    done
    api_ok || { log "mailpit API not answering at $API"; tail -20 "$LOG" >&2; exit 1; }
  fi
  echo "MAILPIT_SMTP=$SMTP"
  echo "MAILPIT_API=$API"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start | stop" >&2; exit 2 ;;
esac

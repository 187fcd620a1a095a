#!/usr/bin/env bash
# Ensure Debian's Chromium (used by the browser tests) is installed and print
# its path on stdout. Installs the "chromium" package when run as root.
set -euo pipefail

BIN=/usr/bin/chromium
if [ ! -x "$BIN" ]; then
  if [ "$(id -u)" != 0 ]; then echo "sudo apt-get install -y chromium" >&2; exit 1; fi
  echo "chromium.sh: installing chromium (apt)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt=(apt-get -o DPkg::Lock::Timeout=600)
  apt-cache show chromium >/dev/null 2>&1 || "${apt[@]}" update -qq >&2
  "${apt[@]}" install -y -qq chromium >&2
fi
[ -x "$BIN" ] || { echo "chromium.sh: $BIN missing after install" >&2; exit 1; }
echo "$BIN"

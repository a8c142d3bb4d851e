#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages gudang needs to run its demo and tests:
# mosquitto and influxdb (the servers are started by gudang itself, on loopback
# ports; the system-wide services are never used), python3-venv and curl; with
# --test also chromium and chromium-driver (the dashboard's browser test).
# Idempotent: does nothing when everything is present.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }

missing=()
have mosquitto || missing+=(mosquitto)
have influxd || missing+=(influxdb)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
have curl || missing+=(curl)  # the README's API example
if [ "${1:-}" = "--test" ]; then
  missing=()
  have chromium || missing+=(chromium)
  have chromedriver || missing+=(chromium-driver)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "gudang needs these system packages: ${missing[*]}" >&2
  echo "Run as root, then run make again:" >&2
  echo "  sudo sh -c '$cmd'" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "gudang needs ${missing[*]} and this machine has no apt-get; install them with your package manager." >&2
  exit 1
fi
echo "Installing system packages: ${missing[*]}"
sh -c "$cmd"
# Debian's packages enable their system services; gudang starts its own
# instances on free loopback ports and never uses these.
for svc in mosquitto influxdb; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    echo "note: the system $svc service is running; gudang does not use it."
  fi
done

#!/usr/bin/env bash
# Installs the gudang edge as a system service on Debian, Ubuntu or Raspberry
# Pi OS. Run as root from the repository (or an unpacked release):
#   sudo deploy/install-edge.sh --site /path/to/site.yaml --edge-id edge-1 \
#        --broker 192.168.1.10 --password 'the edge-1 MQTT password'
# Idempotent: run again to upgrade (the outbox and settings are kept).
set -euo pipefail

site="" edge_id="edge-1" broker="" port="1883" password=""
while [ $# -gt 0 ]; do
  case "$1" in
    --site) site="$2"; shift 2 ;;
    --edge-id) edge_id="$2"; shift 2 ;;
    --broker) broker="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    --password) password="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "run as root (sudo)" >&2; exit 1; }
[ -f "$site" ] || { echo "--site FILE is required (the site file)" >&2; exit 2; }
[ -n "$broker" ] || { echo "--broker HOST is required" >&2; exit 2; }
here="$(cd "$(dirname "$0")/.." && pwd)"

apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv
id gudang >/dev/null 2>&1 || useradd --system --home-dir /var/lib/gudang --shell /usr/sbin/nologin gudang
usermod -a -G dialout gudang
install -d -o gudang -g gudang -m 0750 /var/lib/gudang
install -d -m 0755 /opt/gudang /etc/gudang

python3 -m venv /opt/gudang/venv
/opt/gudang/venv/bin/pip install --quiet --upgrade pip
/opt/gudang/venv/bin/pip install --quiet "$here"
/opt/gudang/venv/bin/gudang check-config "$site"
install -m 0644 "$site" /etc/gudang/site.yaml

if [ ! -f /etc/gudang/edge.env ]; then
  umask 077
  cat > /etc/gudang/edge.env <<ENV
GUDANG_EDGE_ID=$edge_id
GUDANG_MQTT__HOST=$broker
GUDANG_MQTT__PORT=$port
GUDANG_MQTT__USERNAME=$edge_id
GUDANG_MQTT__PASSWORD=$password
GUDANG_LOG_FORMAT=json
ENV
  chown root:gudang /etc/gudang/edge.env
  chmod 0640 /etc/gudang/edge.env
fi

install -m 0644 "$here/deploy/systemd/gudang-edge.service" /etc/systemd/system/gudang-edge.service
systemctl daemon-reload
systemctl enable --now gudang-edge.service
systemctl restart gudang-edge.service
echo "gudang-edge is running: journalctl -u gudang-edge -f"

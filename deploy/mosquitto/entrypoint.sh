#!/bin/sh
# Makes the broker's password file from the environment (.env), then starts
# Mosquitto. Users: collector, api, and one per edge PC from MQTT_EDGE_USERS
# ("edge-1:password edge-2:password"); the ACL names the same users.
set -eu
f=/mosquitto/data/passwd
umask 077
: > "$f"
mosquitto_passwd -b "$f" collector "$MQTT_COLLECTOR_PASSWORD"
mosquitto_passwd -b "$f" api "$MQTT_API_PASSWORD"
for pair in ${MQTT_EDGE_USERS:-}; do
  mosquitto_passwd -b "$f" "${pair%%:*}" "${pair#*:}"
done
chown mosquitto:mosquitto "$f" /mosquitto/data
exec mosquitto -c /mosquitto/config/mosquitto.conf

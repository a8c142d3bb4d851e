#!/bin/sh
# Makes the broker's password file from the environment (.env), then starts
# Mosquitto. Users: collector, api, monitor (the healthcheck), one per edge PC
# from MQTT_EDGE_USERS ("edge-1:password edge-2:password"), and any more from
# MQTT_EXTRA_USERS (e.g. "collector-0:password collector-1:password" for the
# members of a partitioned collector);
# the ACL names the same users. Each user is one session (use_username_as_clientid).
set -eu
f=/mosquitto/data/passwd
umask 077
: > "$f"
mosquitto_passwd -b "$f" collector "$MQTT_COLLECTOR_PASSWORD"
mosquitto_passwd -b "$f" api "$MQTT_API_PASSWORD"
mosquitto_passwd -b "$f" monitor "$MQTT_MONITOR_PASSWORD"
for pair in ${MQTT_EDGE_USERS:-} ${MQTT_EXTRA_USERS:-}; do
  mosquitto_passwd -b "$f" "${pair%%:*}" "${pair#*:}"
done
chown mosquitto:mosquitto "$f" /mosquitto/data
exec mosquitto -c /mosquitto/config/mosquitto.conf

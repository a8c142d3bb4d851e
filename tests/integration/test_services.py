"""The real-server fixtures themselves: start, answer, stop, kill and restart."""

from __future__ import annotations

import socket

import httpx

from gudang.services import InfluxServer, MosquittoServer


def _connects(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def test_never_the_default_ports(mosquitto: MosquittoServer, influxdb: InfluxServer) -> None:
    assert mosquitto.port != 1883
    assert influxdb.port != 8086
    assert mosquitto.ready()
    assert influxdb.ready()


def test_influxdb_keeps_data_across_restart_and_kill(private_influxdb: InfluxServer) -> None:
    url = private_influxdb.url
    httpx.post(f"{url}/query", data={"q": "CREATE DATABASE d"}).raise_for_status()
    httpx.post(f"{url}/write", params={"db": "d"}, content=b"m v=1 1000000000").raise_for_status()
    private_influxdb.stop()
    assert not _connects(private_influxdb.port)
    private_influxdb.start()
    private_influxdb.kill()
    private_influxdb.start()
    body = httpx.get(f"{url}/query", params={"db": "d", "q": "SELECT v FROM m"}).json()
    assert body["results"][0]["series"][0]["values"] == [["1970-01-01T00:00:01Z", 1]]


def test_mosquitto_restart_same_port(private_mosquitto: MosquittoServer) -> None:
    port = private_mosquitto.port
    private_mosquitto.kill()
    assert not private_mosquitto.ready()
    private_mosquitto.restart()
    assert private_mosquitto.port == port
    assert private_mosquitto.ready()

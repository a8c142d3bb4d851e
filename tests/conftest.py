"""Shared fixtures: a real Mosquitto and a real InfluxDB on free loopback ports.

Session-scoped servers serve most tests; each test gets its own InfluxDB
database and MQTT site id, so tests do not see each other's data. Tests that
stop or kill a server use the function-scoped ``private_*`` fixtures.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gudang.services import InfluxServer, MosquittoServer
from gudang.settings import InfluxSettings, MqttSettings


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoServer]:
    server = MosquittoServer(tmp_path_factory.mktemp("mosquitto"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    server = InfluxServer(tmp_path_factory.mktemp("influxdb"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def private_mosquitto(tmp_path: Path) -> Iterator[MosquittoServer]:
    """A broker of this test's own, free to stop, kill and restart."""
    server = MosquittoServer(tmp_path / "mosquitto")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def private_influxdb(tmp_path: Path) -> Iterator[InfluxServer]:
    """An InfluxDB of this test's own, free to stop, kill and restart."""
    server = InfluxServer(tmp_path / "influxdb")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def site_id() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def mqtt_settings(mosquitto: MosquittoServer) -> MqttSettings:
    if not mosquitto.running:  # a previous test left it stopped
        mosquitto.start()
    return MqttSettings(host=mosquitto.host, port=mosquitto.port)


@pytest.fixture
def influx_settings(influxdb: InfluxServer) -> InfluxSettings:
    if not influxdb.running:
        influxdb.start()
    return InfluxSettings(url=influxdb.url, database=f"t_{uuid.uuid4().hex[:12]}")

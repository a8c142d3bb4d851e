"""Helpers for tests that run gudang's own processes against the real servers."""

from __future__ import annotations

import getpass
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gudang.api.keys import SCOPES, KeyStore
from gudang.services import MosquittoServer, free_port
from gudang.services.process import find_binary
from gudang.settings import InfluxSettings, MqttSettings
from gudang.testing import GudangProcess, service_env

SiteFactory = Callable[..., Path]
ROOT = Path(__file__).parents[2]


@pytest.fixture
def make_site(tmp_path: Path, site_id: str) -> SiteFactory:
    """Write a site file: one rebar bin on a pty scale, one offcut bin on a TCP scale."""

    def make(division: float = 0.01, extra: str = "") -> Path:
        tcp = free_port()
        path = tmp_path / "site.yaml"
        path.write_text(f"""\
site: {{id: {site_id}, name: Test site}}
devices:
  - {{id: scale-1, protocol: ad-continuous, port: {tmp_path}/dev/scale-1, division_kg: {division}}}
  - {{id: scale-2, protocol: ad-continuous, port: "socket://127.0.0.1:{tcp}", division_kg: 0.1}}
skus:
  - {{id: RB-D10, name: Besi beton D10, unit: pcs, unit_name: {{id: batang, en: bars}}, unit_weight_kg: 7.4, minimum: 10, reorder_point: 20, reorder_quantity: 50}}
  - {{id: OFFCUT, name: Sisa potongan, unit: kg, minimum: 50, reorder_point: 50, reorder_quantity: 200}}
bins:
  - {{id: C1, rack: C, device: scale-1, sku: RB-D10, tare_kg: 60}}
  - {{id: C4, rack: C, device: scale-2, sku: OFFCUT, tare_kg: 120, capacity_kg: 1000}}
{extra}""")
        return path

    return make


@pytest.fixture
def spawn(
    tmp_path: Path, mqtt_settings: MqttSettings, influx_settings: InfluxSettings
) -> Iterator[Callable[..., GudangProcess]]:
    """Start `gudang <args>` children wired to the test's broker and database."""
    started: list[GudangProcess] = []

    def start(*args: str, name: str | None = None, **env: str) -> GudangProcess:
        log = tmp_path / f"{name or args[0]}-{len(started)}.log"
        env.setdefault("GUDANG_EDGE_OUTBOX", str(tmp_path / "edge-outbox.db"))
        env.setdefault("GUDANG_COLLECTOR_SPOOL", str(tmp_path / "collector-spool.db"))
        env.setdefault("GUDANG_COLLECTOR_STATE", str(tmp_path / "collector-state.db"))
        env.setdefault("GUDANG_API__STATE_FILE", str(tmp_path / "api-state.db"))
        proc = GudangProcess(list(args), service_env(mqtt_settings, influx_settings, **env), log)
        started.append(proc)
        return proc

    yield start
    for proc in reversed(started):
        proc.stop()


@pytest.fixture
def api_keys(tmp_path: Path) -> dict[str, str]:
    """One key per scope in the keys file `spawn` gives the API: scope -> token."""
    store = KeyStore(tmp_path / "api-state.db")
    keys = {scope: store.create(f"test-{scope}", scope)[1] for scope in SCOPES}
    store.close()
    return keys


@pytest.fixture
def shipped_broker() -> Iterator[Callable[..., MosquittoServer]]:
    """Start Mosquitto with the shipped mosquitto.conf (only its container paths
    and port moved), an ACL and users: ``shipped_broker(folder, acl_text, users)``."""
    started: list[MosquittoServer] = []

    def start(tmp: Path, acl_text: str, users: dict[str, str]) -> MosquittoServer:
        port = free_port()
        (tmp / "data").mkdir(parents=True, exist_ok=True)
        (tmp / "acl").write_text(acl_text)
        passwd = tmp / "data" / "passwd"
        passwd.write_text("")
        for name, password in users.items():
            subprocess.run([find_binary("mosquitto_passwd", "mosquitto"), "-b", str(passwd), name,
                            password], check=True, capture_output=True)  # fmt: skip
        conf = (ROOT / "deploy" / "mosquitto" / "mosquitto.conf").read_text()
        conf = conf.replace("listener 1883", f"listener {port} 127.0.0.1")
        conf = conf.replace("/mosquitto/data/", f"{tmp}/data/")
        conf = conf.replace("/mosquitto/config/", f"{tmp}/")
        conf += f"user {getpass.getuser()}\n"
        broker = MosquittoServer(tmp, port, config=conf)
        broker.start()
        started.append(broker)
        return broker

    yield start
    for broker in started:
        broker.stop()

"""Credentials and TLS against a real Mosquitto that requires both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import trustme
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import SecretStr

from gudang.services import MosquittoServer
from gudang.settings import InfluxSettings, MqttSettings
from gudang.testing import GudangProcess, MqttRecorder, service_env, wait_for

PASSWORD = "s3cret-Edge-pw"


@pytest.fixture
def secure_broker(tmp_path: Path) -> Iterator[tuple[MosquittoServer, Path]]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    chain, key, ca_file = tmp_path / "chain.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.private_key_pem.write_to_path(str(key))
    cert.cert_chain_pems[0].write_to_path(str(chain))
    ca.cert_pem.write_to_path(str(ca_file))
    broker = MosquittoServer(
        tmp_path / "mosquitto",
        users={"edge-1": PASSWORD, "witness": "w1tness"},
        tls=(chain, key),
    )
    broker.start()
    yield broker, ca_file
    broker.stop()


def _site(tmp_path: Path) -> Path:
    site = tmp_path / "site.yaml"
    site.write_text(f"""\
site: {{id: secure, name: Secure}}
devices:
  - {{id: scale-1, protocol: ad-continuous, port: {tmp_path}/dev/s1, division_kg: 0.1}}
skus:
  - {{id: RB, name: Rebar, unit: pcs, unit_weight_kg: 7.4, minimum: 5, reorder_point: 10, reorder_quantity: 50}}
bins:
  - {{id: C1, rack: C, device: scale-1, sku: RB, tare_kg: 60}}
""")
    return site


def _edge(tmp_path: Path, settings: MqttSettings, site: Path, name: str) -> GudangProcess:
    env = service_env(
        settings,
        InfluxSettings(),
        GUDANG_MQTT__USERNAME=settings.username or "",
        GUDANG_MQTT__PASSWORD=settings.password.get_secret_value() if settings.password else "",
        GUDANG_MQTT__TLS="true",
        GUDANG_MQTT__CA_FILE=str(settings.ca_file),
        GUDANG_EDGE_OUTBOX=str(tmp_path / f"{name}.db"),
    )
    return GudangProcess(["edge", "--site", str(site)], env, tmp_path / f"{name}.log")


def test_edge_with_credentials_over_tls(
    tmp_path: Path, secure_broker: tuple[MosquittoServer, Path]
) -> None:
    broker, ca_file = secure_broker
    site = _site(tmp_path)
    plain = MqttSettings(host=broker.host, port=broker.port)
    sim = GudangProcess(
        ["sim", "--site", str(site)], service_env(plain, InfluxSettings()), tmp_path / "sim.log"
    )
    witness = MqttSettings(
        host=broker.host, port=broker.port, username="witness", password=SecretStr("w1tness"),
        tls=True, ca_file=ca_file,
    )  # fmt: skip
    good = witness.model_copy(update={"username": "edge-1", "password": SecretStr(PASSWORD)})
    bad = witness.model_copy(update={"username": "edge-1", "password": SecretStr("wrong-pw-123")})
    try:
        wait_for(lambda: sim.logged("sim_start"), what="sim")
        with MqttRecorder(witness, ["gudang/v1/secure/#"]) as rec:
            edge = _edge(tmp_path, good, site, "good")
            wait_for(lambda: rec.on("scale-1/reading"), what="reading over TLS with credentials")
            assert edge.stop() == 0
            refused = _edge(tmp_path, bad, site, "bad")
            wait_for(lambda: refused.logged("mqtt_disconnected"), what="refusal")
            assert refused.stop() == 0
        for name in ("good", "bad"):
            log = (tmp_path / f"{name}.log").read_text()
            assert PASSWORD not in log
            assert "wrong-pw-123" not in log
    finally:
        sim.stop()


def test_anonymous_and_plaintext_clients_are_refused(
    secure_broker: tuple[MosquittoServer, Path],
) -> None:
    broker, ca_file = secure_broker
    anonymous = mqtt.Client(CallbackAPIVersion.VERSION2)
    anonymous.tls_set(ca_certs=str(ca_file))
    anonymous.connect(broker.host, broker.port)
    codes: list[int] = []
    anonymous.on_connect = lambda c, u, f, rc, p: codes.append(rc.value)
    anonymous.loop_start()
    wait_for(lambda: codes, what="CONNACK")
    anonymous.loop_stop()
    assert codes[0] != 0  # not authorised

    plaintext = mqtt.Client(CallbackAPIVersion.VERSION2)
    plaintext.username_pw_set("edge-1", PASSWORD)
    connected: list[int] = []
    plaintext.on_connect = lambda c, u, f, rc, p: connected.append(rc.value)
    try:
        plaintext.connect(broker.host, broker.port, keepalive=5)
        for _ in range(30):
            if plaintext.loop(timeout=0.1) != mqtt.MQTT_ERR_SUCCESS:
                break  # the TLS listener dropped the plaintext connection
    except OSError:
        pass
    assert connected == [], "a plaintext client was served on the TLS listener"

"""Deployment files, checked without a Docker engine: the compose file against
the Compose Specification, every file it and the Dockerfile use exists, every
variable is set, the shipped Mosquitto config and ACL in a real Mosquitto, and
the Grafana dashboard's queries against a real InfluxDB with collector data."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from ruamel.yaml import YAML

from gudang.acl import acl
from gudang.contract import WeightReading
from gudang.services import MosquittoServer
from gudang.settings import InfluxSettings, MqttSettings
from gudang.site import load_site, parse_site
from gudang.testing import GudangProcess, MqttRecorder, mqtt5_session, wait_for

ROOT = Path(__file__).parents[2]
# The Compose Specification's JSON Schema: the project's shared reference copy
# when it is beside the checkout, else the copy kept in tests/data (same file,
# with its licence), so that the check runs in any clone.
SHARED_SPEC = ROOT.parent / "shared" / "reference" / "compose-spec.json"
SPEC = SHARED_SPEC if SHARED_SPEC.is_file() else ROOT / "tests" / "data" / "compose-spec.json"
COMPOSE_FILES = sorted(ROOT.glob("docker-compose*.yml"))


def load_yaml(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text())


def env_example() -> dict[str, str]:
    out = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value
    return out


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_files_follow_the_compose_specification(path: Path) -> None:
    schema = json.loads(SPEC.read_text())
    doc = load_yaml(path)
    # The spec declares draft-07; validate as such (raises with the failing path).
    jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker()).validate(doc)
    for name, service in doc["services"].items():
        if path.name == "docker-compose.yml":
            assert service.get("restart") == "unless-stopped", name
            assert "healthcheck" in service, f"{name} has no healthcheck"
            image = service.get("image", "")
            assert "build" in service or re.search(r":\d", image), f"{name}: pin the image tag"


def test_the_kept_schema_is_the_shared_reference() -> None:
    kept = ROOT / "tests" / "data" / "compose-spec.json"
    if SHARED_SPEC.is_file():
        assert json.loads(kept.read_text()) == json.loads(SHARED_SPEC.read_text())
    assert json.loads(kept.read_text())["title"] == "Compose Specification"


def test_only_the_tls_proxy_publishes_ports() -> None:
    """The API and Grafana are reached through the TLS proxy, never raw."""
    services = load_yaml(ROOT / "docker-compose.yml")["services"]
    assert {n for n, s in services.items() if s.get("ports")} == {"proxy"}
    caddy = (ROOT / "deploy" / "caddy" / "Caddyfile").read_text()
    assert caddy.count("{") == caddy.count("}")
    assert "reverse_proxy api:8000" in caddy and "reverse_proxy grafana:3000" in caddy
    assert "read_header" in caddy and "max_size" in caddy
    assert "demo" in services["demo-rack"]["profiles"]
    assert all(not s.get("profiles") for n, s in services.items() if n != "demo-rack")


def test_every_mounted_or_copied_file_exists() -> None:
    for path in COMPOSE_FILES:
        for name, service in load_yaml(path)["services"].items():
            for volume in service.get("volumes", []):
                src = volume.split(":")[0]
                src = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", src)  # the default
                if src.startswith("."):
                    assert (ROOT / src).exists(), f"{path.name}/{name}: {src} is missing"
    dockerfile = (ROOT / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY") and "--from" not in line:
            for src in line.split()[1:-1]:
                assert (ROOT / src).exists(), f"Dockerfile copies {src}, which is missing"
    assert dockerfile.count("\nFROM ") + dockerfile.startswith("FROM") >= 2, "multi-stage"
    assert re.search(r"^USER gudang$", dockerfile, re.M), "runs as a non-root user"
    assert 'ENTRYPOINT ["gudang"]' in dockerfile
    assert all("slim" in line for line in dockerfile.splitlines() if line.startswith("FROM"))
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".env"} <= set(ignored)
    provisioning = ROOT / "deploy" / "grafana" / "provisioning"
    assert (provisioning / "datasources" / "influxdb.yaml").is_file()
    assert (provisioning / "dashboards" / "gudang.yaml").is_file()


def test_every_variable_is_set_in_compose_or_env_example() -> None:
    example = env_example()
    for path in COMPOSE_FILES:
        text = path.read_text()
        for name, default in re.findall(r"\$\{([A-Z0-9_]+)(:-[^}]*|:\?[^}]*)?\}", text):
            if not default.startswith(":-"):
                assert name in example, f"{path.name} needs {name}: add it to .env.example"
    for secret in ("INFLUXDB_TOKEN", "MQTT_COLLECTOR_PASSWORD", "MQTT_API_PASSWORD",
                   "GRAFANA_ADMIN_PASSWORD", "INFLUXDB_ADMIN_PASSWORD"):  # fmt: skip
        assert "change-me" in example[secret], f"{secret}: ship no real secret"
    services = load_yaml(ROOT / "docker-compose.yml")["services"]
    for name in ("collector", "api"):
        env = services[name]["environment"]
        for key in ("GUDANG_MQTT__HOST", "GUDANG_MQTT__USERNAME", "GUDANG_MQTT__PASSWORD",
                    "GUDANG_INFLUX__URL", "GUDANG_INFLUX__TOKEN", "GUDANG_INFLUX__DATABASE",
                    "GUDANG_SITE"):  # fmt: skip
            assert key in env, f"{name} does not set {key}"
    # Secrets the site files name for alert channels are passed to the collector.
    for site_file in (ROOT / "examples").glob("*.yaml"):
        text = site_file.read_text()
        for var in re.findall(r"(?:secret_env|urls_env):\s*([A-Z_]+)", text):
            assert var in services["collector"]["environment"], f"{site_file.name}: {var}"


def test_shipped_acl_is_the_one_the_example_site_makes() -> None:
    site = load_site(ROOT / "examples" / "material-center.yaml")
    assert (ROOT / "deploy" / "mosquitto" / "acl").read_text() == acl(site), (
        "regenerate: gudang mqtt-acl --site examples/material-center.yaml "
        "--out deploy/mosquitto/acl"
    )


def test_demo_site_is_the_material_center_but_for_its_ports() -> None:
    real = load_yaml(ROOT / "examples" / "material-center.yaml")
    demo = load_yaml(ROOT / "examples" / "docker-demo.yaml")
    for d in real["devices"] + demo["devices"]:
        d.pop("port")
    assert demo == real


SITE_TWO_EDGES = """\
site: {id: acl-test, name: ACL}
devices:
  - {id: scale-1, protocol: ad-continuous, port: /dev/null/1, edge: edge-1}
  - {id: scale-2, protocol: ad-continuous, port: /dev/null/2, edge: edge-2}
skus:
  - {id: RB, name: Rebar, unit: pcs, unit_weight_kg: 7.4, minimum: 1, reorder_point: 2, reorder_quantity: 5}
bins:
  - {id: B1, rack: R, device: scale-1, sku: RB}
  - {id: B2, rack: R, device: scale-2, sku: RB}
"""


def _publish(port: int, user: str | None, password: str | None, topic: str) -> int:
    """Connect as `user` (MQTT 5) and publish once at QoS 1; the PUBACK reason
    code, or minus the CONNACK reason code when refused."""
    with mqtt5_session(port, user, password) as session:
        if session.connack[0][0] != 0:
            return -session.connack[0][0]
        session.publish(topic, b"{}")
        return session.acks[0]


def test_shipped_broker_config_enforces_users_and_per_edge_acl(
    tmp_path: Path, shipped_broker: Callable[..., MosquittoServer]
) -> None:
    site = parse_site(SITE_TWO_EDGES)
    users = {"collector": "c-pw", "api": "a-pw", "edge-1": "e1-pw", "edge-2": "e2-pw"}
    broker = shipped_broker(tmp_path, acl(site), users)
    p = "gudang/v1/acl-test"
    settings = MqttSettings(host="127.0.0.1", port=broker.port, username="collector",
                            password="c-pw")  # fmt: skip
    with MqttRecorder(settings, [f"{p}/device/+/reading"]) as collector:
        assert _publish(broker.port, "edge-1", "e1-pw", f"{p}/device/scale-1/reading") == 0
        # edge-1 may not speak for edge-2's scale, nor raise alerts
        assert _publish(broker.port, "edge-1", "e1-pw", f"{p}/device/scale-2/reading") == 0x87
        assert _publish(broker.port, "edge-1", "e1-pw", f"{p}/alert/low_stock/RB") == 0x87
        assert _publish(broker.port, "edge-2", "e2-pw", f"{p}/device/scale-2/reading") == 0
        assert _publish(broker.port, "api", "a-pw", f"{p}/device/scale-1/reading") == 0x87
        # The refused ones were answered 0x87 before these calls returned: the
        # broker dropped them then, so nothing more can come.
        wait_for(lambda: len(collector.messages) >= 2, what="the allowed readings")
        topics = sorted(t for t, _, _ in collector.messages)
        assert topics == [f"{p}/device/scale-1/reading", f"{p}/device/scale-2/reading"]
    # no anonymous clients, no wrong passwords (CONNACK 0x87 / 0x86)
    assert _publish(broker.port, None, None, f"{p}/device/scale-1/reading") < 0
    assert _publish(broker.port, "edge-1", "wrong", f"{p}/device/scale-1/reading") < 0


def _grafana_queries() -> list[str]:
    dash = json.loads((ROOT / "deploy" / "grafana" / "dashboards" / "gudang.json").read_text())
    queries = [t["query"] for p in dash["panels"] for t in p["targets"]]
    queries += [v["query"] for v in dash["templating"]["list"]]
    assert len(queries) >= 6
    return queries


def test_grafana_dashboard_queries_run_on_collector_data(
    make_site: Callable[..., Path],
    spawn: Callable[..., GudangProcess],
    mqtt_settings: MqttSettings,
    influx_settings: InfluxSettings,
    site_id: str,
) -> None:
    site = make_site(extra="alerts: {dwell_s: 0}\n")
    collector = spawn("collector", "--site", str(site))
    wait_for(lambda: collector.logged("mqtt_subscribed"), what="collector")
    now = int(time.time() * 1000)
    with MqttRecorder(mqtt_settings, []) as rec:
        for seq, pieces in enumerate([30, 27, 5]):  # picks, then under the minimum of 10
            r = WeightReading(device_id="scale-1", boot_id="b", seq=seq, ts=now - 60_000 + seq * 1000,
                              weight=60 + 7.4 * pieces, unit="kg", stable=True, reason="change")  # fmt: skip
            rec.publish(f"gudang/v1/{site_id}/device/scale-1/reading", r.model_dump_json())
        r = WeightReading(device_id="scale-2", boot_id="b", seq=0, ts=now - 50_000, weight=300.0,
                          unit="kg", stable=True, reason="change")  # fmt: skip
        rec.publish(f"gudang/v1/{site_id}/device/scale-2/reading", r.model_dump_json())
        r = WeightReading(device_id="scale-2", boot_id="b", seq=1, ts=now - 40_000, weight=2000.0,
                          unit="kg", stable=False, state="overload", reason="change")  # fmt: skip
        rec.publish(f"gudang/v1/{site_id}/device/scale-2/reading", r.model_dump_json())

    def run(q: str) -> list[Any]:
        q = (q.replace("$timeFilter", "time > now() - 1h").replace("$__interval", "1m")
             .replace("$site", site_id))  # fmt: skip
        body = httpx.get(f"{influx_settings.url}/query",
                         params={"db": influx_settings.database, "q": q}).json()  # fmt: skip
        result = body["results"][0]
        assert "error" not in result, (q, result)
        return result.get("series", [])

    wait_for(lambda: run('SELECT count("state") FROM "alert"'), what="an alert written")
    results = {q: run(q) for q in _grafana_queries()}
    assert all(results.values()), [q for q, r in results.items() if not r]  # each shows data
    stock = next(r for q, r in results.items() if 'sum("qty")' in q)
    per_sku = {s["tags"]["sku"]: s["values"][0][1] for s in stock}
    assert per_sku["RB-D10"] == pytest.approx(5) and per_sku["OFFCUT"] == pytest.approx(180)

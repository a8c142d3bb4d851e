"""Collectors on static partitions (issue 17, first part): each member
subscribes to its groups only, so on any broker a bin's levels, a SKU's bins
and a rack's reader stay in one process; together they store everything."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from gudang.contract import WeightReading
from gudang.partitions import assign
from gudang.services import free_port
from gudang.settings import InfluxSettings, MqttSettings
from gudang.site import load_site
from gudang.testing import GudangProcess, MqttRecorder, wait_for

SITE = """\
site: {{id: {site_id}, name: Partitions}}
devices:
{devices}
skus:
  - {{id: RB, name: Rebar, unit: pcs, unit_weight_kg: 7.4, minimum: 1, reorder_point: 2, reorder_quantity: 5}}
bins:
  - {{id: A1, rack: A, device: s0, sku: RB}}
  - {{id: A2, rack: A, device: s1, sku: RB}}
{bins}
"""  # fmt: skip


def _site(tmp: Path, site_id: str) -> Path:
    # RB spans s0 and s1 (one group); s2..s7 each carry their own SKU.
    devices = "\n".join(f"  - {{id: s{i}, protocol: ad-continuous, port: /dev/null/{i}}}"
                        for i in range(8))  # fmt: skip
    text = SITE.format(
        site_id=site_id,
        devices=devices,
        bins="\n".join(f"  - {{id: B{i}, rack: B, device: s{i}, sku: K{i}}}" for i in range(2, 8)),
    )
    text = text.replace("bins:\n", "".join(
        f"  - {{id: K{i}, name: K{i}, unit: kg, minimum: 1, reorder_point: 2, "
        f"reorder_quantity: 5}}\n" for i in range(2, 8)) + "bins:\n")  # fmt: skip
    path = tmp / "site.yaml"
    path.write_text(text)
    return path


def _stored(port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        if family.name == "gudang_collector_messages_durable":
            return sum(s.value for s in family.samples if s.name.endswith("_total"))
    return -1.0


def test_two_members_each_take_their_groups_and_together_everything(
    tmp_path: Path,
    site_id: str,
    spawn: Callable[..., GudangProcess],
    mqtt_settings: MqttSettings,
    influx_settings: InfluxSettings,
) -> None:
    site_file = _site(tmp_path, site_id)
    parts = assign(load_site(site_file), 2)
    assert all(p.groups for p in parts), "the test site must give each member a group"
    assert any({"s0", "s1"} <= p.devices for p in parts)  # the SKU's two scales together
    ports = [free_port(), free_port()]
    members = [
        spawn("collector", "--site", str(site_file), "--members", "2", "--member", str(i),
              "--metrics-port", str(ports[i]), name=f"member{i}",
              GUDANG_COLLECTOR_SPOOL=str(tmp_path / f"spool{i}.db"),
              GUDANG_COLLECTOR_STATE=str(tmp_path / f"state{i}.db"))
        for i in range(2)
    ]  # fmt: skip
    wait_for(lambda: all(m.logged("mqtt_subscribed") for m in members), what="both members")
    t0 = int(time.time() * 1000) - 60_000
    with MqttRecorder(mqtt_settings, []) as rec:
        for i in range(8):  # a level, then 2 pieces (or 2 kg) taken
            for seq, kg in enumerate((100.0, 100.0 - (14.8 if i < 2 else 2.0))):
                r = WeightReading(device_id=f"s{i}", boot_id="b", seq=seq, ts=t0 + 1000 * seq + i,
                                  weight=kg, unit="kg", stable=True, reason="change")  # fmt: skip
                rec.publish(f"gudang/v1/{site_id}/device/s{i}/reading", r.model_dump_json())
    # Each member stores exactly the readings of its own devices.
    expected = [2 * len(p.devices) for p in parts]
    wait_for(lambda: [_stored(p) for p in ports] == expected, timeout=30,
             what=f"each member's readings {expected}")  # fmt: skip
    body = httpx.get(f"{influx_settings.url}/query", params={
        "db": influx_settings.database,
        "q": """SELECT count("delta_qty") FROM "movement" WHERE "kind" = 'pick'""",
    }).json()  # fmt: skip
    assert body["results"][0]["series"][0]["values"][0][1] == 8  # one pick per bin, none lost

    # A member that would split the site another way refuses to start while
    # these two are online: another N, or the same N on a changed site file.
    changed = tmp_path / "changed.yaml"
    changed.write_text(site_file.read_text().replace(
        "devices:\n", "devices:\n  - {id: s9, protocol: ad-continuous, port: /dev/null/9}\n"))  # fmt: skip
    for name, site, n, i in (("three", site_file, 3, 2), ("changed", changed, 2, 1)):
        stray = spawn("collector", "--site", str(site), "--members", str(n), "--member", str(i),
                      name=name, GUDANG_COLLECTOR_SPOOL=str(tmp_path / f"{name}.db"),
                      GUDANG_COLLECTOR_STATE=str(tmp_path / f"{name}-state.db"))  # fmt: skip
        assert stray.proc.wait(timeout=30) == 2, stray.tail()
        assert "stop every member, then start them all" in " ".join(stray.tail().split())
    for m in members:
        assert m.stop() == 0

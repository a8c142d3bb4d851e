"""Trust at the collector's boundary, against a real Mosquitto and a real
InfluxDB: one bad message never costs a good one, a device clock cannot make a
future level the newest, and an edge cannot speak for another edge's devices."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from gudang.contract import TagEvent, WeightReading, now_ms
from gudang.services import MosquittoServer
from gudang.settings import InfluxSettings, MqttSettings
from gudang.testing import (
    ApiClient,
    GudangProcess,
    MqttRecorder,
    expected_movements,
    influx_rows,
    publish_all,
    reading_stream,
    step_payloads,
    wait_for,
)

SCALES = ["scale-1", "scale-2", "scale-3"]
YEAR_MS = 365 * 86_400_000


def write_site(path: Path, site_id: str, extra: str = "") -> Path:
    path.write_text(f"""\
site: {{id: {site_id}, name: Integrity}}
devices:
  - {{id: scale-1, protocol: ad-continuous, port: /dev/null/1, edge: edge-1, division_kg: 0.1}}
  - {{id: scale-2, protocol: ad-continuous, port: /dev/null/2, edge: edge-1, division_kg: 0.1}}
  - {{id: scale-3, protocol: ad-continuous, port: /dev/null/3, edge: edge-2, division_kg: 0.1}}
  - {{id: rfid-1, protocol: rdm6300, port: /dev/null/4, edge: edge-1, bay: R}}
skus:
  - {{id: RB-D10, name: Rebar, unit: pcs, unit_weight_kg: 7.4, minimum: 10, reorder_point: 20, reorder_quantity: 50}}
bins:
  - {{id: B1, rack: R, device: scale-1, sku: RB-D10, tare_kg: 60}}
  - {{id: B2, rack: R, device: scale-2, sku: RB-D10, tare_kg: 60}}
  - {{id: B3, rack: R, device: scale-3, sku: RB-D10, tare_kg: 60}}
{extra}""")
    return path


def _reading(device: str = "scale-1", **changes: Any) -> dict[str, Any]:
    return {
        "device_id": device, "boot_id": "bad", "seq": 1, "ts": 1_764_000_000_000,
        "weight": 300.0, "unit": "kg", "stable": True, "reason": "change", **changes,
    }  # fmt: skip


def _tag(**changes: Any) -> dict[str, Any]:
    return {
        "device_id": "rfid-1", "boot_id": "bad", "seq": 1, "ts": 1_764_000_000_000,
        "tag": "0A1B2C3D4E", "event": "arrived", "rssi": -50.0, **changes,
    }  # fmt: skip


def poison(site_id: str) -> list[tuple[str, bytes, str]]:
    """(topic, payload, the dead-letter code it must get): every kind of bad input."""
    p = f"gudang/v1/{site_id}"
    reading, tag = f"{p}/device/scale-1/reading", f"{p}/device/rfid-1/tag"

    def js(d: dict[str, Any]) -> bytes:
        return json.dumps(d).encode()  # writes Infinity and NaN, as a careless encoder does

    bad: list[tuple[str, bytes, str]] = []
    for value in (float("inf"), float("-inf"), float("nan")):
        bad.append((reading, js(_reading(weight=value)), "invalid"))
        bad.append((tag, js(_tag(rssi=value)), "invalid"))
    bad += [
        (reading, js(_reading()).replace(b"300.0", b"1e999"), "invalid"),
        (tag, js(_tag()).replace(b"-50.0", b"-1e999"), "invalid"),
        (reading, js(_reading(seq=2**63)), "invalid"),
        (tag, js(_tag(seq=2**64)), "invalid"),
        (reading, js(_reading(channel=64)), "invalid"),
        (reading, js(_reading(seq=True)), "invalid"),
        (reading, js(_reading(weight="300")), "invalid"),
        (reading, js(_reading(ts=now_ms() + YEAR_MS)), "clock_ahead"),
        (tag, js(_tag(ts=4_102_444_799_999)), "clock_ahead"),  # 2099
        (reading, js(_reading(ts=915_148_800_000)), "invalid"),  # 1999: a dead clock battery
        (reading, js(_reading("scale-2")), "identity_mismatch"),
        (tag, js(_tag(device_id="rfid-9")), "identity_mismatch"),
        (reading, js(_reading(boot_id="b" * 65)), "invalid"),
        (tag, js(_tag(tag="A" * 66)), "invalid"),
        (reading, js(_reading(note="x" * 100)), "invalid"),
        (reading, b"x" * (17 * 1024), "too_large"),
        (reading, b"{not json", "invalid"),
        (reading, b"\xff\xfe\x00", "invalid"),
        (f"{p}/device/scale-9/reading", js(_reading("scale-9")), "unknown_device"),
        (f"{p}/device/rfid-1/reading", js(_reading("rfid-1")), "wrong_device_kind"),
        (reading, js(_reading(weight=5e9)), "implausible"),
        (f"{p}/edge/edge-1/status", js({"subject": "edge", "id": "edge-2", "state": "offline"}),
         "identity_mismatch"),
        (f"{p}/device/scale-1/status", js({"subject": "device", "id": "scale-3",
                                           "state": "offline"}), "identity_mismatch"),
        (f"{p}/alert/low_stock/RB-D10/ack", js({"by": "x", "ts": now_ms() + YEAR_MS}),
         "clock_ahead"),
    ]  # fmt: skip
    return bad


def test_poison_mix_costs_no_valid_message(
    tmp_path: Path,
    site_id: str,
    spawn: Callable[..., GudangProcess],
    mqtt_settings: MqttSettings,
    influx_settings: InfluxSettings,
) -> None:
    site = write_site(tmp_path / "site.yaml", site_id)
    steps = reading_stream(SCALES, 80)
    good = step_payloads(site_id, steps)
    tags = [
        (f"gudang/v1/{site_id}/device/rfid-1/tag",
         TagEvent(device_id="rfid-1", boot_id="b1", seq=i, ts=1_764_000_000_000 + i * 997,
                  tag=f"0A1B2C3D{i % 100:02d}", event="arrived", rssi=-40.0 - i % 30,
                  ).model_dump_json().encode())
        for i in range(60)
    ]  # fmt: skip
    bad = poison(site_id)
    rng = random.Random(20261130)
    stream = good + tags
    messages: list[tuple[str, bytes]] = list(stream)
    for topic, payload, _ in bad * 3:  # each kind several times, at random places
        messages.insert(rng.randrange(len(messages) + 1), (topic, payload))

    collector = spawn("collector", "--site", str(site))
    wait_for(lambda: collector.logged("mqtt_subscribed"), what="collector")
    dead_topic = f"gudang/v1/{site_id}/deadletter/collector"
    with MqttRecorder(mqtt_settings, [dead_topic]) as rec:
        publish_all(mqtt_settings, messages, max_inflight=200, budget_s=120)
        wait_for(lambda: len(rec.on("deadletter/collector")) >= 3 * len(bad), timeout=60,
                 what="every dead letter")  # fmt: skip

        def stored() -> tuple[int, int]:
            readings = influx_rows(influx_settings, 'SELECT count("seq") FROM "reading"')
            tag_rows = influx_rows(influx_settings, 'SELECT count("seq") FROM "tag_event"')
            return (
                readings[0]["count"] if readings else 0,
                tag_rows[0]["count"] if tag_rows else 0,
            )

        wait_for(lambda: stored() == (len(steps), len(tags)), timeout=60,
                 what=f"{len(steps)} readings and {len(tags)} tag events stored")  # fmt: skip
        letters = rec.on("deadletter/collector")

    # Every bad message is a dead letter with its code; nothing else is.
    got = Counter((d["topic"], d["code"]) for d in letters)
    want = Counter((t, code) for t, _, code in bad * 3)
    assert got == want
    # Every valid reading is stored exactly once (not one lost beside a bad one),
    # and the movements are those of the clean stream.
    rows = influx_rows(influx_settings, 'SELECT "seq", "boot_id" FROM "reading" GROUP BY "device"')
    assert sorted((r["device"], r["seq"]) for r in rows) == sorted((s.device, s.seq) for s in steps)
    assert {r["boot_id"] for r in rows} == {"b1"}
    moved = influx_rows(
        influx_settings, 'SELECT "kind", "delta_qty" FROM "movement" GROUP BY "bin"'
    )
    found = {(f"scale-{r['bin'][1:]}", r["time"], int(r["delta_qty"]))
             for r in moved if r["kind"] != "none"}  # fmt: skip
    assert found == expected_movements(steps)
    # The loop never restarted: one subscription, no failure.
    events = [e["event"] for e in collector.events()]
    assert events.count("mqtt_subscribed") == 1, collector.tail()
    assert "collector_loop_failed" not in events and "message_failed" not in events
    assert collector.stop() == 0


# -- time -------------------------------------------------------------------------


def test_a_clock_jump_never_makes_a_future_level_the_newest(
    tmp_path: Path,
    site_id: str,
    spawn: Callable[..., GudangProcess],
    mqtt_settings: MqttSettings,
    influx_settings: InfluxSettings,
    api_keys: dict[str, str],
) -> None:
    """scale-3's edge runs a year ahead for a while, then NTP brings it back.
    What staff and the ordering system see follows the real, accepted levels
    throughout, the jump is shown as a clock_ahead alert on the device, and a
    future point already in InfluxDB (written before the collector refused
    them) is never taken as the newest level either."""
    site = write_site(tmp_path / "site.yaml", site_id, "alerts: {dwell_s: 0}\n")
    # A 2099 level from the time before the fix: must not win after a restart.
    httpx.post(f"{influx_settings.url}/query", data={"q": f'CREATE DATABASE "{influx_settings.database}"'}).raise_for_status()  # fmt: skip
    future = (f"bin_stock,bin=B3,rack=R,site={site_id},sku=RB-D10 "
              f'net_kg=7400.0,qty=1000.0,unit="pcs" 4070908800000')  # fmt: skip
    httpx.post(f"{influx_settings.url}/write", params={"db": influx_settings.database,
               "precision": "ms"}, content=future).raise_for_status()  # fmt: skip

    seq = iter(range(1000))

    def weigh(rec: MqttRecorder, device: str, pieces: int, skew_ms: int = 0) -> None:
        r = WeightReading(device_id=device, boot_id="b1", seq=next(seq), ts=now_ms() + skew_ms,
                          weight=60 + 7.4 * pieces, unit="kg", stable=True, reason="change")  # fmt: skip
        rec.publish(f"gudang/v1/{site_id}/device/{device}/reading", r.model_dump_json())

    collector = spawn("collector", "--site", str(site))
    wait_for(lambda: collector.logged("mqtt_subscribed"), what="collector")
    api = ApiClient.start(spawn, site, api_keys["read"], GUDANG_API__LIVE_FULL_S="1")
    with MqttRecorder(mqtt_settings, [f"gudang/v1/{site_id}/deadletter/#"]) as rec:
        for device in ("scale-1", "scale-2"):
            weigh(rec, device, 40)
        weigh(rec, "scale-3", 40)
        wait_for(lambda: api.quantity("RB-D10") == 120, what="the real levels (120 pieces)")

        # The jump: scale-3's readings now claim to come from next year.
        for pieces in (30, 20, 1000):
            weigh(rec, "scale-3", pieces, skew_ms=YEAR_MS)
        wait_for(lambda: len(rec.on("deadletter/collector")) == 3, what="three refusals")
        assert {d["code"] for d in rec.on("deadletter/collector")} == {"clock_ahead"}
        ahead = wait_for(lambda: api.device("scale-3")["clock_ahead_s"], what="skew on the device")
        assert abs(ahead - YEAR_MS / 1000) < 60
        assert api.alerts()[("clock_ahead", "scale-3")] == "raised"
        assert api.quantity("RB-D10") == 120  # the last real level, never the future one
        assert "RB-D10" not in api.reorder()

        # NTP fixes the clock; the real level has dropped meanwhile.
        weigh(rec, "scale-3", 2)
        wait_for(lambda: api.quantity("RB-D10") == 82, what="the real level again (82 pieces)")
        weigh(rec, "scale-1", 0)
        weigh(rec, "scale-2", 5)
        wait_for(lambda: api.quantity("RB-D10") == 7, what="7 pieces")
        wait_for(lambda: api.alerts().get(("low_stock", "RB-D10")) == "raised", what="low stock")
        assert "RB-D10" in api.reorder()
        wait_for(lambda: ("clock_ahead", "scale-3") not in api.alerts(), what="clock alert cleared")
        assert api.device("scale-3")["clock_ahead_s"] is None

    # A restart seeds each bin from its newest real level, not from 2099.
    assert collector.stop() == 0
    collector = spawn("collector", "--site", str(site))
    wait_for(lambda: collector.logged("mqtt_subscribed"), what="collector again")
    with MqttRecorder(mqtt_settings, []) as rec:
        weigh(rec, "scale-3", 0)  # a pick of 2 from the seeded 2, not of 998 from 1000
    rows = wait_for(
        lambda: [r for r in influx_rows(influx_settings,
                 'SELECT "delta_qty", "kind" FROM "movement" WHERE "bin" = \'B3\'')
                 if r["kind"] != "none"][-1:] or None,
        what="the pick after the restart",
    )  # fmt: skip
    assert rows[0]["delta_qty"] == -2


# -- identity ---------------------------------------------------------------------


def test_an_edge_cannot_speak_for_another_edges_devices(
    tmp_path: Path,
    site_id: str,
    spawn: Callable[..., GudangProcess],
    shipped_broker: Callable[..., MosquittoServer],
    influx_settings: InfluxSettings,
    api_keys: dict[str, str],
) -> None:
    """With the shipped broker config and ACL, edge-1 publishes status for
    edge-2 and for edge-2's scale on its own permitted topics: the collector
    dead-letters them, the API ignores them, and neither raises, clears or
    shows anything for the devices they name."""
    from gudang.acl import acl
    from gudang.site import load_site

    site = write_site(tmp_path / "site.yaml", site_id, "alerts: {dwell_s: 0}\n")
    users = {"collector": "c-pw", "api": "a-pw", "edge-1": "e1-pw", "edge-2": "e2-pw"}
    broker = shipped_broker(tmp_path / "broker", acl(load_site(site)), users)

    def as_user(user: str) -> MqttSettings:
        return MqttSettings(host=broker.host, port=broker.port, username=user,
                            password=users[user])  # fmt: skip

    env = {"GUDANG_MQTT__PORT": str(broker.port)}
    collector = spawn("collector", "--site", str(site), GUDANG_MQTT__USERNAME="collector",
                      GUDANG_MQTT__PASSWORD="c-pw", **env)  # fmt: skip
    wait_for(lambda: collector.logged("mqtt_subscribed"), what="collector")
    api = ApiClient.start(spawn, site, api_keys["read"], GUDANG_MQTT__USERNAME="api",
                          GUDANG_MQTT__PASSWORD="a-pw", **env)  # fmt: skip
    p = f"gudang/v1/{site_id}"

    def status(subject: str, sid: str, state: str, **more: str) -> bytes:
        return json.dumps({"subject": subject, "id": sid, "state": state, "ts": now_ms(),
                           **more}).encode()  # fmt: skip

    with MqttRecorder(as_user("edge-2"), []) as edge2:
        edge2.publish(f"{p}/edge/edge-2/status", status("edge", "edge-2", "online"), retain=True)
        edge2.publish(f"{p}/device/scale-3/status",
                      status("device", "scale-3", "online", edge="edge-2"), retain=True)  # fmt: skip
    wait_for(lambda: api.device("scale-3")["state"] == "online", what="scale-3 online")

    spoofs = [
        (f"{p}/edge/edge-1/status", status("edge", "edge-2", "offline")),
        (f"{p}/device/scale-1/status", status("device", "scale-3", "disconnected")),
        (f"{p}/device/scale-1/status", status("device", "scale-3", "offline", edge="edge-1")),
    ]
    with MqttRecorder(as_user("edge-1"), []) as edge1:
        for name, body in spoofs:
            edge1.publish(name, body, retain=True)
    wait_for(
        lambda: sum(e["event"] == "dead_letter" for e in collector.events()) == len(spoofs),
        what="the spoofs dead-lettered",
    )
    codes = [e["code"] for e in collector.events() if e["event"] == "dead_letter"]
    assert codes == ["identity_mismatch"] * 3
    api_proc = api.proc
    assert api_proc is not None
    wait_for(lambda: sum(e["event"] == "status_ignored" for e in api_proc.events()) == len(spoofs),
             what="the API to ignore them")  # fmt: skip
    # Nothing happened to edge-2's devices: no alert, still online in the API.
    assert not [e for e in collector.events() if e["event"] == "alert"]
    assert api.device("scale-3")["state"] == "online"
    assert ("device_offline", "scale-3") not in api.alerts()

    # A real disconnect, from the edge that owns the scale, raises the alert ...
    with MqttRecorder(as_user("edge-2"), []) as edge2:
        edge2.publish(f"{p}/device/scale-3/status",
                      status("device", "scale-3", "disconnected", edge="edge-2"), retain=True)  # fmt: skip
    wait_for(lambda: api.alerts().get(("device_offline", "scale-3")) == "raised", what="alert")
    # ... and a spoofed "online" from edge-1 does not clear it.
    with MqttRecorder(as_user("edge-1"), []) as edge1:
        edge1.publish(f"{p}/device/scale-1/status", status("device", "scale-3", "online"))
    wait_for(lambda: sum(e["event"] == "dead_letter" for e in collector.events()) == 4,
             what="the spoofed online dead-lettered")  # fmt: skip
    assert api.alerts()[("device_offline", "scale-3")] == "raised"
    assert api.device("scale-3")["state"] == "disconnected"

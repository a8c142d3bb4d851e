"""Alerts end to end: noisy stock around the minimum raises one alert; it is
acknowledged over MQTT, survives a collector restart, clears, reaches a
webhook signed with HMAC, and its history is in InfluxDB."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Iterator
from hashlib import sha256
from pathlib import Path
from typing import Any

import httpx
import pytest

from gudang.contract import AlertAck, WeightReading
from gudang.settings import InfluxSettings, MqttSettings
from gudang.testing import GudangProcess, HookReceiver, MqttRecorder, publish_all, wait_for

SECRET = "webhook-key-for-tests"
T0 = 1_764_000_000_000


@pytest.fixture
def receiver() -> Iterator[HookReceiver]:
    r = HookReceiver()
    yield r
    r.close()


def site_file(tmp: Path, site_id: str, port: int) -> Path:
    path = tmp / "site.yaml"
    path.write_text(f"""\
site: {{id: {site_id}, name: Alerts}}
devices:
  - {{id: scale-1, protocol: ad-continuous, port: /dev/null/s1, division_kg: 0.1}}
skus:
  - {{id: RB-D10, name: Besi beton D10, unit: pcs, unit_weight_kg: 7.4, minimum: 10,
      reorder_point: 20, reorder_quantity: 50, hysteresis: 3, group: besi}}
bins:
  - {{id: C1, rack: C, device: scale-1, sku: RB-D10, tare_kg: 60}}
alerts:
  dwell_s: 2
  webhooks:
    - {{url: "http://127.0.0.1:{port}/hook", secret_env: GUDANG_TEST_WEBHOOK_SECRET, kinds: [low_stock]}}
  apprise:
    - {{urls_env: GUDANG_TEST_APPRISE, kinds: [low_stock], groups: [besi], language: id}}
""")
    return path


def readings(site_id: str, pieces: list[float], start_seq: int, t0: int) -> list[tuple[str, bytes]]:
    return [
        (
            f"gudang/v1/{site_id}/device/scale-1/reading",
            WeightReading(device_id="scale-1", boot_id="b1", seq=start_seq + i, ts=t0 + i * 1000,
                          weight=round(60 + p * 7.4, 1), unit="kg", stable=True,
                          reason="heartbeat").model_dump_json().encode(),
        )
        for i, p in enumerate(pieces)
    ]  # fmt: skip


def test_alert_lifecycle(
    tmp_path: Path,
    spawn: Callable[..., GudangProcess],
    mqtt_settings: MqttSettings,
    influx_settings: InfluxSettings,
    site_id: str,
    receiver: HookReceiver,
) -> None:
    site = site_file(tmp_path, site_id, receiver.port)
    env = {
        "GUDANG_WEBHOOK_ALLOW": '["127.0.0.1/32"]',  # the receiver is on loopback
        "GUDANG_TEST_WEBHOOK_SECRET": SECRET,
        # apprise's json:// target posts to our local receiver
        "GUDANG_TEST_APPRISE": f"json://127.0.0.1:{receiver.port}/apprise",
    }
    collector = spawn("collector", "--site", str(site), **env)
    wait_for(lambda: collector.logged("mqtt_subscribed"), what="collector")
    alert_topic = f"gudang/v1/{site_id}/alert/low_stock/RB-D10"
    with MqttRecorder(mqtt_settings, [f"gudang/v1/{site_id}/alert/#"]) as rec:
        # 30 pieces, then a slow fall to around the minimum of 10, wobbling 9-12
        noisy = [30, 25, 20, 15, 12, 11, 9, 10, 12, 11, 9, 12, 10, 9, 11, 12, 9, 10, 11, 12]
        publish_all(mqtt_settings, readings(site_id, noisy, 0, T0))
        raised = wait_for(lambda: rec.on("/low_stock/RB-D10"), what="low stock alert")
        assert raised[0]["text"]["id"].startswith("Stok Besi beton D10 menipis")
        assert raised[0]["text"]["en"].startswith("Low stock of Besi beton D10")
        reorder = rec.on("/reorder_point/RB-D10")
        assert [a["state"] for a in reorder] == ["raised"]
        retained = [m for m in rec.messages if m[0] == alert_topic]
        assert retained  # published retained: checked below by a fresh subscriber

        ack = AlertAck(by="budi", note="PO dikirim", ts=T0 + 30_000)
        rec.publish(f"{alert_topic}/ack", ack.model_dump_json())
        wait_for(lambda: rec.on("/low_stock/RB-D10")[-1]["state"] == "acknowledged", what="ack")
        assert rec.on("/low_stock/RB-D10")[-1]["acknowledged_by"] == "budi"
        # The collector takes the ack after every reading before it (one
        # session, in order) and publishes transitions in order: had the
        # wobbling raised or cleared anything else, it would show before it.
        states = [a["state"] for a in rec.on("/low_stock/RB-D10")]
        assert states == ["raised", "acknowledged"], states  # one alert, however it wobbles

    assert collector.stop() == 0
    collector = spawn("collector", "--site", str(site), **env)  # restart: state on disk
    wait_for(lambda: collector.logged("mqtt_subscribed"), what="collector again")
    with MqttRecorder(mqtt_settings, [f"gudang/v1/{site_id}/alert/low_stock/#"]) as rec:
        wait_for(lambda: rec.on("/low_stock/RB-D10"), what="retained alert")
        assert rec.on("/low_stock/RB-D10")[0]["state"] == "acknowledged"
        publish_all(mqtt_settings, readings(site_id, [10, 9, 11], 100, T0 + 60_000))
        # restocked: above minimum + hysteresis (13) for longer than the dwell
        publish_all(mqtt_settings, readings(site_id, [40, 40, 40, 40], 200, T0 + 120_000))
        cleared = wait_for(
            lambda: [a for a in rec.on("/low_stock/RB-D10") if a["state"] == "cleared"],
            what="cleared",
        )
        assert cleared[0]["acknowledged_by"] == "budi"
        # Still low after the restart, it stayed acknowledged until the restock
        # (in order, as above): nothing raised it again in between.
        states = [a["state"] for a in rec.on("/low_stock/RB-D10")]
        assert states[-1] == "cleared" and set(states[:-1]) == {"acknowledged"}, states

    states = [json.loads(b)["state"] for _, b in receiver.received]
    wait_for(
        lambda: [json.loads(b)["state"] for _, b in receiver.received][-1:] == ["cleared"],
        what="webhook",
    )
    states = [json.loads(b)["state"] for _, b in receiver.received]
    assert states == ["raised", "acknowledged", "cleared"]
    wait_for(lambda: len(receiver.apprise) >= 3, what="apprise notifications")
    assert [m["title"].split()[-1] for m in receiver.apprise] == [
        "raised",
        "acknowledged",
        "cleared",
    ]
    assert receiver.apprise[0]["message"].startswith(
        "Stok Besi beton D10 menipis"
    )  # Bahasa Indonesia
    for headers, body in receiver.received:
        ts = headers["X-Gudang-Timestamp"]
        expected = hmac.new(SECRET.encode(), ts.encode() + b"." + body, sha256).hexdigest()
        assert headers["X-Gudang-Signature"] == f"sha256={expected}"

    history = _query(influx_settings, 'SELECT "state" FROM "alert" WHERE "kind" = \'low_stock\'')
    assert [r[1] for r in history] == ["raised", "acknowledged", "cleared"]
    log = collector.log_path.read_text()
    assert SECRET not in log
    assert collector.stop() == 0


def _query(influx: InfluxSettings, q: str) -> list[list[Any]]:
    wait_for(
        lambda: httpx.get(f"{influx.url}/query", params={"db": influx.database, "q": q}).json()[
            "results"][0].get("series"),
        what="alert history",
    )  # fmt: skip
    body = httpx.get(f"{influx.url}/query", params={"db": influx.database, "q": q}).json()
    return body["results"][0]["series"][0]["values"]

"""Calibration over MQTT, effective at once and kept across a restart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from gudang.contract import Calibrate, WeightReading
from gudang.settings import InfluxSettings, MqttSettings
from gudang.testing import GudangProcess, MqttRecorder, publish_all, wait_for

T0 = 1_764_000_000_000


def reading(site_id: str, seq: int, gross: float) -> tuple[str, bytes]:
    r = WeightReading(device_id="scale-1", boot_id="b", seq=seq, ts=T0 + seq * 1000, weight=gross,
                      unit="kg", stable=True, reason="change")  # fmt: skip
    return f"gudang/v1/{site_id}/device/scale-1/reading", r.model_dump_json().encode()


def last_qty(influx: InfluxSettings) -> float | None:
    body = httpx.get(f"{influx.url}/query", params={
        "db": influx.database, "q": 'SELECT last("qty") FROM "bin_stock"'}).json()  # fmt: skip
    series = body["results"][0].get("series")
    return series[0]["values"][0][1] if series else None


def test_tare_and_unit_weight_from_samples(
    tmp_path: Path,
    spawn: Callable[..., GudangProcess],
    mqtt_settings: MqttSettings,
    influx_settings: InfluxSettings,
    site_id: str,
) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(f"""\
site: {{id: {site_id}, name: Calibration}}
devices:
  - {{id: scale-1, protocol: ad-continuous, port: /dev/null/s1, division_kg: 0.1}}
skus:
  - {{id: AS-20, name: As baja 20 mm, unit: pcs, unit_weight_kg: 14.8, minimum: 1, reorder_point: 2, reorder_quantity: 10}}
bins:
  - {{id: C3, rack: C, device: scale-1, sku: AS-20, tare_kg: 60}}
""")
    collector = spawn("collector", "--site", str(site))
    wait_for(lambda: collector.logged("mqtt_subscribed"), what="collector")
    cal_topic = f"gudang/v1/{site_id}/calibration/C3"

    def calibrate(
        rec: MqttRecorder, cid: str, op: str, pieces: int | None = None
    ) -> dict[str, Any]:
        req = Calibrate(id=cid, op=op, pieces=pieces, by="budi", ts=T0)  # type: ignore[arg-type]
        rec.publish(cal_topic, req.model_dump_json())
        return wait_for(lambda: [r for r in rec.on("/C3/result") if r["id"] == cid], what=cid)[0]

    with MqttRecorder(mqtt_settings, [f"{cal_topic}/result"]) as rec:
        publish_all(mqtt_settings, [reading(site_id, 1, 58.5)])  # the empty bin weighs 58.5
        wait_for(lambda: last_qty(influx_settings) is not None, what="first level")
        tare = calibrate(rec, "c1", "tare")
        assert tare["ok"], tare
        assert (tare["value"], tare["previous"]) == (58.5, 60.0)

        publish_all(mqtt_settings, [reading(site_id, 2, 58.5 + 12 * 15.1)])  # 12 counted bars
        wait_for(lambda: last_qty(influx_settings) not in (None, 0.0), what="sample level")
        too_few = calibrate(rec, "c2", "unit_weight", pieces=5)
        assert too_few["ok"] is False
        assert "at least 10" in too_few["error"]
        unit = calibrate(rec, "c3", "unit_weight", pieces=12)
        assert unit["ok"], unit
        assert abs(unit["value"] - 15.1) < 1e-6

        publish_all(mqtt_settings, [reading(site_id, 3, 58.5 + 30 * 15.1)])
        wait_for(lambda: abs((last_qty(influx_settings) or 0) - 30) < 1e-6, what="30 bars")

    assert collector.stop() == 0
    again = spawn("collector", "--site", str(site))
    wait_for(lambda: again.logged("mqtt_subscribed"), what="restarted")
    publish_all(mqtt_settings, [reading(site_id, 4, 58.5 + 25 * 15.1)])
    wait_for(lambda: abs((last_qty(influx_settings) or 0) - 25) < 1e-6, what="calibration kept")
    assert again.stop() == 0

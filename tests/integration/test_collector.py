"""The collector between a real broker and a real InfluxDB."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx

from gudang.contract import WeightReading
from gudang.services import InfluxServer, free_port
from gudang.settings import InfluxSettings, MqttSettings
from gudang.testing import GudangProcess, MqttRecorder, wait_for

SiteFactory = Callable[..., Path]
T0 = 1_764_000_000_000


def reading(seq: int, weight: float, ts: int, **kw: object) -> bytes:
    fields: dict[str, object] = {
        "device_id": "scale-1", "boot_id": "b1", "seq": seq, "ts": ts, "weight": weight,
        "unit": "kg", "stable": True, "reason": "change",
    }  # fmt: skip
    return WeightReading.model_validate({**fields, **kw}).model_dump_json().encode()


def query(settings: InfluxSettings, q: str) -> list[list[object]]:
    resp = httpx.get(
        f"{settings.url}/query", params={"db": settings.database, "q": q, "epoch": "ms"}
    ).json()
    series = resp["results"][0].get("series", [])
    return series[0]["values"] if series else []


def test_readings_become_stock_and_bad_payloads_dead_letters(
    make_site: SiteFactory,
    spawn: Callable[..., GudangProcess],
    mqtt_settings: MqttSettings,
    influx_settings: InfluxSettings,
    site_id: str,
) -> None:
    site = make_site()
    metrics_port = free_port()
    collector = spawn("collector", "--site", str(site), "--metrics-port", str(metrics_port))
    wait_for(lambda: collector.logged("mqtt_subscribed"), what="collector subscribed")
    topic = f"gudang/v1/{site_id}/device/scale-1/reading"
    with MqttRecorder(mqtt_settings, [f"gudang/v1/{site_id}/deadletter/#"]) as rec:
        # Out of order and duplicated: the stock must be that of the latest reading.
        for payload in (
            reading(2, 60 + 7.4 * 40, T0 + 2000),
            reading(1, 60 + 7.4 * 45, T0 + 1000),
            reading(2, 60 + 7.4 * 40, T0 + 2000),
            reading(3, 60 + 7.4 * 38, T0 + 3000, stable=False),  # motion: no stock
            reading(4, 60 + 7.4 * 38, T0 + 4000),
        ):
            rec.publish(topic, payload)
        rec.publish(topic, b"{not json")
        rec.publish(topic, json.dumps({"device_id": "scale-1", "seq": -1}))
        rec.publish(
            f"gudang/v1/{site_id}/device/ghost/reading",
            reading(1, 1.0, T0).replace(b"scale-1", b"ghost"),
        )

        dead = wait_for(
            lambda: len(rec.on("deadletter/collector")) >= 3 and rec.on("deadletter/collector"),
            what="dead letters",
        )
        reasons = [d["reason"] for d in dead]
        assert reasons[0].startswith("invalid payload")
        assert "seq" in reasons[1]
        assert reasons[2] == "unknown device 'ghost'"
        assert dead[0]["payload"] == "{not json"

    rows = wait_for(
        lambda: (
            len(query(influx_settings, 'SELECT "qty" FROM "bin_stock"')) >= 3
            and query(influx_settings, 'SELECT "qty" FROM "bin_stock"')
        ),
        what="bin_stock points",
    )
    assert [r[0] for r in rows] == [T0 + 1000, T0 + 2000, T0 + 4000]  # duplicate written once
    assert [round(r[1], 6) for r in rows] == [45, 40, 38]
    readings = query(influx_settings, 'SELECT "seq", "stable" FROM "reading"')
    assert [(r[1], r[2]) for r in readings] == [(1, True), (2, True), (3, False), (4, True)]
    metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
    assert 'gudang_collector_messages_total{outcome="accepted"} 4.0' in metrics
    assert 'gudang_collector_messages_total{outcome="duplicate"} 1.0' in metrics
    assert 'gudang_collector_messages_total{outcome="dead_letter"} 3.0' in metrics
    assert "gudang_collector_spool_points 0.0" in metrics
    assert "gudang_collector_points_written_total" in metrics
    assert "gudang_collector_batches_written_total" in metrics
    wait_for(  # released once InfluxDB has answered (a moment after the rows are visible)
        lambda: (
            "gudang_collector_batches_unreleased 0.0"
            in httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
        ),
        what="every batch released",
    )
    # Each reading counted once it is durable and acknowledged (the duplicate
    # and the dead letters are not readings stored).
    assert (
        "gudang_collector_messages_durable_total 4.0"
        in httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
    )
    assert collector.stop() == 0
    assert collector.logged("collector_stop")


def test_collector_waits_for_influxdb(
    make_site: SiteFactory,
    spawn: Callable[..., GudangProcess],
    mqtt_settings: MqttSettings,
    influx_settings: InfluxSettings,
    site_id: str,
    private_influxdb: InfluxServer,
) -> None:
    """Started before its database is up, the collector retries it (ingesting
    into its spool meanwhile) and then works."""
    settings = InfluxSettings(url=private_influxdb.url, database=influx_settings.database)
    private_influxdb.stop()
    site = make_site()
    collector = spawn("collector", "--site", str(site), GUDANG_INFLUX__URL=settings.url)
    wait_for(lambda: collector.logged("influx_unavailable"), what="collector noticing")
    retry = next(e for e in collector.events() if e.get("event") == "influx_unavailable")
    assert retry["url"] == settings.url  # the operator sees which address it tried
    private_influxdb.start()
    wait_for(lambda: collector.logged("mqtt_subscribed"), timeout=30, what="collector ready")
    with MqttRecorder(mqtt_settings, []) as rec:
        rec.publish(f"gudang/v1/{site_id}/device/scale-1/reading", reading(1, 134.0, T0))
    rows = wait_for(lambda: query(settings, 'SELECT "qty" FROM "bin_stock"'), what="stock")
    assert rows[0][1] == 10.0

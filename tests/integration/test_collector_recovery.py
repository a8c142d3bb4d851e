"""The collector after ordinary events and crashes, against real services
(kill -9 where a crash is meant): the broker's copy of its state, device
liveness, tag events in the same millisecond, and a restart with a spool."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from gudang.contract import TagEvent, WeightReading, now_ms
from gudang.services import InfluxServer, MosquittoServer, free_port
from gudang.settings import InfluxSettings, MqttSettings
from gudang.sim.control import ControlClient
from gudang.testing import (
    ApiClient,
    GudangProcess,
    MqttRecorder,
    influx_rows,
    publish_all,
    wait_for,
)


def write_site(path: Path, site_id: str, extra: str = "") -> Path:
    path.write_text(f"""\
site: {{id: {site_id}, name: Recovery}}
devices:
  - {{id: scale-1, protocol: ad-continuous, port: /dev/null/1, edge: edge-1, division_kg: 0.1}}
  - {{id: scale-2, protocol: ad-continuous, port: /dev/null/2, edge: edge-1, division_kg: 0.1}}
  - {{id: rfid-1, protocol: rdm6300, port: /dev/null/3, edge: edge-1, bay: R}}
skus:
  - {{id: RB-D10, name: Rebar, unit: pcs, unit_weight_kg: 7.4, minimum: 10, reorder_point: 20, reorder_quantity: 50}}
bins:
  - {{id: B1, rack: R, device: scale-1, sku: RB-D10, tare_kg: 60}}
  - {{id: B2, rack: R, device: scale-2, sku: RB-D10, tare_kg: 60}}
alerts: {{dwell_s: 0}}
{extra}""")
    return path


class Scales:
    """Publishes readings for the test's scales, one boot, seqs in order."""

    def __init__(self, mqtt: MqttSettings, site_id: str) -> None:
        self.mqtt, self.site_id = mqtt, site_id
        self.seq: dict[str, int] = {}

    def weigh(self, device: str, pieces: float, ts: int | None = None) -> None:
        n = self.seq[device] = self.seq.get(device, -1) + 1
        r = WeightReading(device_id=device, boot_id="b1", seq=n, ts=ts or now_ms(),
                          weight=round(60 + 7.4 * pieces, 1), unit="kg", stable=True,
                          reason="change")  # fmt: skip
        with MqttRecorder(self.mqtt, []) as rec:
            rec.publish(f"gudang/v1/{self.site_id}/device/{device}/reading", r.model_dump_json())


def _subscriptions(proc: GudangProcess) -> int:
    return sum(e["event"] == "mqtt_subscribed" for e in proc.events())


def test_alert_states_are_republished_after_the_broker_loses_them(
    tmp_path: Path,
    site_id: str,
    spawn: Callable[..., GudangProcess],
    private_mosquitto: MosquittoServer,
    influx_settings: InfluxSettings,
    api_keys: dict[str, str],
) -> None:
    """The broker's store still says `raised` (saved before the alert cleared),
    the broker crashes: once the collector is back, the retained state is the
    collector's own again (`cleared`), and the API shows no active alert."""
    mqtt = MqttSettings(host=private_mosquitto.host, port=private_mosquitto.port)
    site = write_site(tmp_path / "site.yaml", site_id)
    collector = spawn("collector", "--site", str(site),
                      GUDANG_MQTT__PORT=str(private_mosquitto.port))  # fmt: skip
    wait_for(lambda: _subscriptions(collector) == 1, what="collector")
    api = ApiClient.start(
        spawn, site, api_keys["read"], GUDANG_MQTT__PORT=str(private_mosquitto.port)
    )
    scales = Scales(mqtt, site_id)
    alert_topic = f"gudang/v1/{site_id}/alert/low_stock/RB-D10"

    def retained_state() -> str | None:
        with MqttRecorder(mqtt, [alert_topic]) as rec:
            got = wait_for(lambda: rec.on("low_stock/RB-D10"), timeout=5, what="retained alert")
        return str(got[-1]["state"])

    scales.weigh("scale-1", 2)
    scales.weigh("scale-2", 3)
    wait_for(lambda: retained_state() == "raised", what="low stock raised")
    wait_for(lambda: ("low_stock", "RB-D10") in api.alerts(), what="the API shows it")
    private_mosquitto.restart()  # a clean stop: the broker's store now holds `raised`
    wait_for(lambda: _subscriptions(collector) == 2, timeout=30, what="collector reconnected")
    scales.weigh("scale-1", 40)
    wait_for(lambda: retained_state() == "cleared", what="low stock cleared")
    private_mosquitto.kill()  # before its next autosave: the store still says `raised`
    private_mosquitto.start()
    wait_for(lambda: _subscriptions(collector) == 3, timeout=30, what="collector back")
    wait_for(lambda: retained_state() == "cleared", timeout=10, what="the collector's state")
    assert collector.logged("alerts_republished")
    wait_for(lambda: ("low_stock", "RB-D10") not in api.alerts(), timeout=10, what="API converged")


def test_an_unplugged_reader_or_scale_raises_device_offline_whatever_its_edge_says(
    tmp_path: Path,
    site_id: str,
    spawn: Callable[..., GudangProcess],
    mqtt_settings: MqttSettings,
) -> None:
    """The edge announces itself `online` every second; its RFID reader (which
    sends nothing when no tag passes) and a scale are unplugged: both raise
    device_offline after the dwell, not never and not after the silence rule."""
    dev = tmp_path / "dev"
    site = tmp_path / "site.yaml"
    site.write_text(f"""\
site: {{id: {site_id}, name: Liveness}}
devices:
  - {{id: scale-1, protocol: ad-continuous, port: {dev}/scale-1, division_kg: 0.1}}
  - {{id: rfid-1, protocol: rdm6300, port: {dev}/rfid-1, bay: R}}
skus:
  - {{id: RB-D10, name: Rebar, unit: pcs, unit_weight_kg: 7.4, minimum: 1, reorder_point: 2, reorder_quantity: 50}}
bins:
  - {{id: B1, rack: R, device: scale-1, sku: RB-D10, tare_kg: 60}}
alerts: {{dwell_s: 2, offline_after_s: 600}}
""")
    control = free_port()
    sim = spawn("sim", "--site", str(site), "--control-port", str(control), "--settle", "0.2")
    wait_for(lambda: sim.logged("sim_start"), what="simulator")
    collector = spawn("collector", "--site", str(site))
    wait_for(lambda: collector.logged("mqtt_subscribed"), what="collector")
    status = f"gudang/v1/{site_id}/device/+/status"
    alerts = f"gudang/v1/{site_id}/alert/device_offline/+"
    edge = f"gudang/v1/{site_id}/edge/edge-1/status"
    with MqttRecorder(mqtt_settings, [status, alerts, edge]) as rec:
        spawn("edge", "--site", str(site), "--status-interval", "1")
        for device in ("scale-1", "rfid-1"):
            wait_for(lambda d=device: [s for s in rec.on(f"{d}/status") if s["state"] == "online"],
                     what=f"{device} online")  # fmt: skip
        with ControlClient(control) as sim_ctl:
            for device in ("rfid-1", "scale-1"):
                sim_ctl.send(op="unplug", device=device)

        def raised(device: str) -> bool:
            states = [a["state"] for a in rec.on(f"device_offline/{device}")]
            return bool(states) and states[-1] == "raised"

        wait_for(lambda: raised("rfid-1"), timeout=20, what="rfid-1 offline")
        wait_for(lambda: raised("scale-1"), timeout=20, what="scale-1 offline")
        # Meanwhile the edge kept announcing itself online, every second.
        assert len([s for s in rec.on("edge-1/status") if s["state"] == "online"]) >= 3
        with ControlClient(control) as sim_ctl:
            sim_ctl.send(op="plug", device="rfid-1")
        wait_for(lambda: not raised("rfid-1"), timeout=20, what="rfid-1 back")


def test_tag_events_in_the_same_millisecond_are_all_kept(
    tmp_path: Path,
    site_id: str,
    spawn: Callable[..., GudangProcess],
    mqtt_settings: MqttSettings,
    influx_settings: InfluxSettings,
) -> None:
    """A UHF inventory round reports many bundles at once: one reader, one
    antenna, one millisecond, thirty tags. Every event is stored, and a replay
    of them all overwrites, never adds."""
    site = write_site(tmp_path / "site.yaml", site_id)
    collector = spawn("collector", "--site", str(site))
    wait_for(lambda: collector.logged("mqtt_subscribed"), what="collector")
    ts = now_ms()
    events = [
        (f"gudang/v1/{site_id}/device/rfid-1/tag",
         TagEvent(device_id="rfid-1", boot_id="b1", seq=i, ts=ts, tag=f"E2801160600002{i:010X}",
                  event="arrived").model_dump_json().encode())
        for i in range(30)
    ]  # fmt: skip
    publish_all(mqtt_settings, events)
    publish_all(mqtt_settings, events)  # a replay (another boot of the collector would not drop it)

    def stored() -> int:
        rows = influx_rows(influx_settings, 'SELECT count("seq") FROM "tag_event"')
        return int(rows[0]["count"]) if rows else 0

    wait_for(lambda: stored() == 30, what="30 tag events")
    rows = influx_rows(influx_settings, 'SELECT "tag", "seq" FROM "tag_event"')
    assert sorted(r["seq"] for r in rows) == list(range(30))
    assert {r["time"] for r in rows} == {ts}  # the device's time, untouched


class PrivateDb:
    """A collector on the test's own InfluxDB (free to stop), and its scales."""

    def __init__(
        self,
        tmp: Path,
        site_id: str,
        spawn: Callable[..., GudangProcess],
        mqtt: MqttSettings,
        influxdb: InfluxServer,
    ) -> None:
        self.influx = InfluxSettings(url=influxdb.url, database=f"t_{site_id}")
        self.site = write_site(tmp / "site.yaml", site_id)
        self.env = {"GUDANG_INFLUX__URL": self.influx.url,
                    "GUDANG_INFLUX__DATABASE": self.influx.database}  # fmt: skip
        self.collector = spawn("collector", "--site", str(self.site), **self.env)
        wait_for(lambda: self.collector.logged("mqtt_subscribed"), what="collector")
        self.scales = Scales(mqtt, site_id)


def _moves(influx: InfluxSettings, bin_id: str) -> list[tuple[int, float]]:
    rows = influx_rows(
        influx, f'SELECT "kind", "delta_qty" FROM "movement" WHERE "bin" = \'{bin_id}\''
    )
    return [(r["time"], r["delta_qty"]) for r in rows if r["kind"] != "none"]


def test_a_restart_with_a_full_spool_counts_each_change_once(
    tmp_path: Path,
    site_id: str,
    spawn: Callable[..., GudangProcess],
    mqtt_settings: MqttSettings,
    private_influxdb: InfluxServer,
) -> None:
    """10 pieces reach InfluxDB; InfluxDB fails and 15 goes to the spool; the
    collector restarts (its spool not yet drained) and 25 arrives: +5 and +10,
    not +5 and +15."""
    rig = PrivateDb(tmp_path, site_id, spawn, mqtt_settings, private_influxdb)
    influx, site, env, collector, scales = rig.influx, rig.site, rig.env, rig.collector, rig.scales
    t0 = now_ms() - 60_000
    scales.weigh("scale-1", 10, t0)
    wait_for(lambda: influx_rows(influx, 'SELECT "qty" FROM "bin_stock"'), what="10 stored")
    private_influxdb.stop()
    scales.weigh("scale-1", 15, t0 + 1000)
    wait_for(lambda: collector.logged("write_failed_spooling"), what="15 spooled")
    assert collector.stop() == 0
    private_influxdb.start()
    collector = spawn("collector", "--site", str(site), **env)
    wait_for(lambda: collector.logged("mqtt_subscribed"), what="collector again")
    scales.weigh("scale-1", 25, t0 + 2000)
    wait_for(lambda: len(_moves(influx, "B1")) >= 2, what="two movements")
    wait_for(lambda: collector.logged("spool_drained"), what="the spool drained")
    assert _moves(influx, "B1") == [(t0 + 1000, 5.0), (t0 + 2000, 10.0)]


def test_a_collector_started_while_influxdb_is_down_ingests_into_its_spool(
    tmp_path: Path,
    site_id: str,
    spawn: Callable[..., GudangProcess],
    mqtt_settings: MqttSettings,
    private_influxdb: InfluxServer,
) -> None:
    """It subscribes at once, spools, acknowledges; when InfluxDB comes back
    everything lands, and the first movement is measured from the level
    InfluxDB held before (20 -> 12: -8)."""
    rig = PrivateDb(tmp_path, site_id, spawn, mqtt_settings, private_influxdb)
    influx, site, env, collector, scales = rig.influx, rig.site, rig.env, rig.collector, rig.scales
    t0 = now_ms() - 60_000
    scales.weigh("scale-1", 20, t0)
    wait_for(lambda: influx_rows(influx, 'SELECT "qty" FROM "bin_stock"'), what="20 stored")
    assert collector.stop() == 0
    private_influxdb.stop()

    collector = spawn("collector", "--site", str(site), **env)
    wait_for(lambda: collector.logged("mqtt_subscribed"), timeout=15,
             what="subscribed while InfluxDB is down")  # fmt: skip
    for i, pieces in enumerate((12, 9)):
        scales.weigh("scale-1", pieces, t0 + 1000 * (i + 1))
    wait_for(lambda: collector.logged("spooling_until_influx_ready"),
             what="spooled")  # fmt: skip
    private_influxdb.start()
    wait_for(lambda: len(_moves(influx, "B1")) >= 2, timeout=60, what="the movements")
    assert _moves(influx, "B1") == [(t0 + 1000, -8.0), (t0 + 2000, -3.0)]
    rows = influx_rows(influx, 'SELECT "qty" FROM "bin_stock"')
    assert [r["qty"] for r in rows] == pytest.approx([20.0, 12.0, 9.0])


def test_a_broker_crash_while_the_collector_is_away_loses_nothing(
    tmp_path: Path,
    site_id: str,
    spawn: Callable[..., GudangProcess],
    private_mosquitto: MosquittoServer,
    influx_settings: InfluxSettings,
) -> None:
    """The collector is stopped (an upgrade), picks go on, the broker has
    acknowledged the edge's readings and is killed before it saved them: the
    edge still holds them (the collector never confirmed them) and sends them
    again, so every reading of every scale reaches InfluxDB."""
    dev = tmp_path / "dev"
    site = tmp_path / "site.yaml"
    site.write_text(f"""\
site: {{id: {site_id}, name: Broker crash}}
devices:
  - {{id: scale-1, protocol: ad-continuous, port: {dev}/scale-1, division_kg: 0.1}}
  - {{id: scale-2, protocol: ad-continuous, port: {dev}/scale-2, division_kg: 0.1}}
skus:
  - {{id: RB-D10, name: Rebar, unit: pcs, unit_weight_kg: 7.4, minimum: 5, reorder_point: 20, reorder_quantity: 50}}
bins:
  - {{id: B1, rack: R, device: scale-1, sku: RB-D10, tare_kg: 60}}
  - {{id: B2, rack: R, device: scale-2, sku: RB-D10, tare_kg: 60}}
""")
    mqtt = MqttSettings(host=private_mosquitto.host, port=private_mosquitto.port)
    env = {"GUDANG_MQTT__PORT": str(private_mosquitto.port)}
    control = free_port()
    sim = spawn("sim", "--site", str(site), "--control-port", str(control), "--settle", "0.2")
    wait_for(lambda: sim.logged("sim_start"), what="simulator")
    collector = spawn("collector", "--site", str(site), **env)
    wait_for(lambda: collector.logged("mqtt_subscribed"), what="collector")
    edge = spawn("edge", "--site", str(site), "--heartbeat", "600", **env)
    readings = f"gudang/v1/{site_id}/device/+/reading"

    def stored() -> dict[str, list[int]]:
        rows = influx_rows(influx_settings, 'SELECT "seq" FROM "reading" GROUP BY "device"')
        out: dict[str, list[int]] = {}
        for r in rows:
            out.setdefault(r["device"], []).append(r["seq"])
        return {d: sorted(s) for d, s in out.items()}

    with MqttRecorder(mqtt, [readings]) as witness:
        wait_for(lambda: set(stored()) == {"scale-1", "scale-2"}, what="both scales stored")
        assert collector.stop() == 0  # an upgrade: its broker session keeps what comes
        with ControlClient(control) as sim_ctl:
            for _ in range(3):
                before = len(witness.on("reading"))
                sim_ctl.send(op="take", bin="B1", qty=2)
                sim_ctl.send(op="take", bin="B2", qty=1)
                wait_for(lambda b=before: len(witness.on("reading")) >= b + 2, what="a pick seen")
        # The broker acknowledged those readings; it dies before its autosave.
        private_mosquitto.kill()
    published = {d: max(r["seq"] for r in witness.on("reading") if r["device_id"] == d)
                 for d in ("scale-1", "scale-2")}  # fmt: skip
    private_mosquitto.start()
    collector = spawn("collector", "--site", str(site), **env)
    wait_for(
        lambda: all(stored().get(d, [-1])[-1] >= n for d, n in published.items()),
        timeout=60,
        what="every published reading in InfluxDB",
    )
    for device, seqs in stored().items():
        assert seqs == list(range(len(seqs))), f"{device}: a reading is missing: {seqs}"
    moves = influx_rows(
        influx_settings, 'SELECT "delta_qty", "kind" FROM "movement" GROUP BY "bin"'
    )
    picks = sorted((m["bin"], m["delta_qty"]) for m in moves if m["kind"] != "none")
    assert picks == [("B1", -2.0)] * 3 + [("B2", -1.0)] * 3
    # Confirmed end to end: the edge forgets them now, and only now.
    wait_for(lambda: edge_unconfirmed(tmp_path) == 0, timeout=30, what="edge outbox confirmed")
    assert edge.logged("resending_unconfirmed")


def edge_unconfirmed(tmp: Path) -> int:
    import sqlite3

    with sqlite3.connect(tmp / "edge-outbox.db") as db:
        return int(db.execute("SELECT COUNT(*) FROM outbox WHERE seq IS NOT NULL").fetchone()[0])


def test_health_and_readiness_follow_the_broker(
    tmp_path: Path,
    site_id: str,
    spawn: Callable[..., GudangProcess],
    private_mosquitto: MosquittoServer,
) -> None:
    """The probes an orchestrator uses, on the metrics port: alive while the
    event loop turns; ready while connected to the broker, not while it is
    down (InfluxDB's state is in the body, not a reason to restart)."""
    site = write_site(tmp_path / "site.yaml", site_id)
    port = free_port()
    collector = spawn("collector", "--site", str(site), "--metrics-port", str(port),
                      GUDANG_MQTT__PORT=str(private_mosquitto.port))  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def probe(path: str) -> tuple[int, dict[str, object]]:
        try:
            r = httpx.get(base + path, timeout=5)
        except httpx.TransportError:
            return 0, {}
        return r.status_code, r.json()

    wait_for(lambda: probe("/readyz")[0] == 200, what="ready")
    assert probe("/readyz")[1] == {"ready": True, "mqtt": True, "influx": True}
    status, body = probe("/healthz")
    assert status == 200 and body["alive"] is True
    assert "gudang_collector_mqtt_connected 1.0" in httpx.get(base + "/metrics").text
    private_mosquitto.stop()
    wait_for(lambda: probe("/readyz")[0] == 503, what="not ready without the broker")
    assert probe("/readyz")[1]["mqtt"] is False
    assert probe("/healthz")[0] == 200  # alive: restarting it would not bring the broker back
    private_mosquitto.start()
    wait_for(lambda: probe("/readyz")[0] == 200, timeout=30, what="ready again")
    assert collector.stop() == 0

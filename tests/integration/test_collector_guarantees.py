"""What the collector promises, against a real Mosquitto and a real InfluxDB:
the same stock and movements however messages are delivered, and nothing lost
or counted twice through an InfluxDB outage or a collector crash."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from pathlib import Path

from gudang.services import InfluxServer
from gudang.settings import InfluxSettings, MqttSettings
from gudang.testing import (
    GudangProcess,
    MqttRecorder,
    expected_movements,
    influx_rows,
    publish_all,
    reading_stream,
    service_env,
    step_payloads,
    wait_for,
)

DEVICES = [f"scale-{i}" for i in range(5)]


def write_site(path: Path, site_id: str) -> Path:
    devices = "\n".join(
        f"  - {{id: {d}, protocol: ad-continuous, port: /dev/null/{d}, division_kg: 0.1}}"
        for d in DEVICES
    )
    bins = "\n".join(
        f"  - {{id: B{i}, rack: R, device: {d}, sku: RB-D10, tare_kg: 60}}"
        for i, d in enumerate(DEVICES)
    )
    path.write_text(f"""\
site: {{id: {site_id}, name: Guarantees}}
devices:
{devices}
skus:
  - {{id: RB-D10, name: Rebar, unit: pcs, unit_weight_kg: 7.4, minimum: 990, reorder_point: 1000, reorder_quantity: 200, hysteresis: 5}}
bins:
{bins}
alerts: {{dwell_s: 3}}
""")
    return path


q = influx_rows


def movements(influx: InfluxSettings) -> set[tuple[str, int, int]]:
    rows = q(influx, """SELECT "kind", "delta_qty" FROM "movement" GROUP BY "bin\"""")
    return {
        (f"scale-{r['bin'][1:]}", r["time"], int(r["delta_qty"]))
        for r in rows
        if r["kind"] != "none"
    }


def alert_states(influx: InfluxSettings) -> dict[tuple[str, str], str]:
    """The final state of each alert."""
    rows = q(influx, 'SELECT last("state") FROM "alert" GROUP BY "kind", "subject"')
    return {(r["kind"], r["subject"]): r["last"] for r in rows}


def reading_count(influx: InfluxSettings) -> int:
    rows = q(influx, 'SELECT count("seq") FROM "reading"')
    return int(rows[0]["count"]) if rows else 0


def last_quantities(influx: InfluxSettings) -> dict[str, float]:
    rows = q(influx, 'SELECT last("qty") FROM "bin_stock" GROUP BY "bin"')
    return {r["bin"]: round(r["last"], 6) for r in rows}


def collector(
    tmp: Path,
    mqtt_s: MqttSettings,
    influx_s: InfluxSettings,
    site: Path,
    name: str,
    *args: str,
    state: str | None = None,
) -> GudangProcess:
    env = service_env(
        mqtt_s,
        influx_s,
        GUDANG_COLLECTOR_SPOOL=str(tmp / f"{name}-spool.db"),
        GUDANG_COLLECTOR_STATE=str(tmp / f"{state or name}-state.db"),
    )
    proc = GudangProcess(["collector", "--site", str(site), *args], env, tmp / f"{name}.log")
    wait_for(
        lambda: proc.logged("mqtt_subscribed") or not proc.running, timeout=30, what=f"{name} up"
    )
    assert proc.running, proc.tail()
    return proc


def test_duplicated_and_reordered_delivery_gives_the_clean_result(
    tmp_path: Path, mqtt_settings: MqttSettings, influxdb: InfluxServer
) -> None:
    steps = reading_stream(DEVICES, 60)
    clean_db = InfluxSettings(url=influxdb.url, database="clean_delivery")
    messy_db = InfluxSettings(url=influxdb.url, database="messy_delivery")
    site_clean = write_site(tmp_path / "clean.yaml", "clean")
    site_messy = write_site(tmp_path / "messy.yaml", "messy")
    procs = [
        collector(tmp_path, mqtt_settings, clean_db, site_clean, "clean"),
        collector(tmp_path, mqtt_settings, messy_db, site_messy, "messy"),
    ]
    try:
        publish_all(mqtt_settings, step_payloads("clean", steps))
        messy = step_payloads("messy", steps)
        rng = random.Random(3)
        messy += rng.sample(messy, len(messy) // 3)  # a third delivered twice
        # reordered in chunks, as after reconnects: late messages inside a window
        chunks = [messy[i : i + 25] for i in range(0, len(messy), 25)]
        for chunk in chunks:
            rng.shuffle(chunk)
        rng.shuffle(chunks)
        publish_all(mqtt_settings, [m for c in chunks for m in c])

        expected = expected_movements(steps)
        wait_for(lambda: movements(clean_db) == expected, timeout=30, what="clean movements")
        wait_for(lambda: movements(messy_db) == expected, timeout=30, what="messy movements")
        assert reading_count(messy_db) == reading_count(clean_db) == len(steps)
        assert last_quantities(messy_db) == last_quantities(clean_db)
        clean_alerts = alert_states(clean_db)
        assert clean_alerts, "the stream should cross the minimum and reorder point"
        assert alert_states(messy_db) == clean_alerts
        assert procs[1].logged("collector_stop") is False
    finally:
        for p in procs:
            assert p.stop() == 0


def _publish_in_background(
    mqtt_s: MqttSettings,
    messages: list[tuple[str, bytes]],
    rate: float,
    sent: list[int] | None = None,
) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            publish_all(mqtt_s, messages, client_id="steady", rate=rate, sent=sent)
        except BaseException as exc:  # surfaced by the test
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, errors


def _publisher_done(thread: threading.Thread, errors: list[BaseException]) -> None:
    thread.join(timeout=120)
    assert not thread.is_alive(), "the publisher did not finish"
    assert not errors, errors


def test_influxdb_down_under_load_loses_nothing(
    tmp_path: Path, mqtt_settings: MqttSettings, private_influxdb: InfluxServer, site_id: str
) -> None:
    """InfluxDB stops while readings stream in and stays down while 2,000 more
    arrive (about 20 s), then comes back: every reading and movement is there."""
    influx_s = InfluxSettings(url=private_influxdb.url, database="outage")
    site = write_site(tmp_path / "site.yaml", site_id)
    proc = collector(tmp_path, mqtt_settings, influx_s, site, "collector")
    steps = reading_stream(DEVICES, 800)  # 4,000 readings over ~40 s
    sent = [0]
    thread, errors = _publish_in_background(mqtt_settings, step_payloads(site_id, steps),
                                            rate=100, sent=sent)  # fmt: skip
    try:
        wait_for(lambda: reading_count(influx_s) >= 300, timeout=30, what="readings stored")
        private_influxdb.stop()
        down_at = sent[0]
        wait_for(lambda: sent[0] >= down_at + 2000 and proc.logged("write_failed_spooling"),
                 timeout=90, what="2,000 readings sent and spooled while InfluxDB is down")  # fmt: skip
        private_influxdb.start()
        _publisher_done(thread, errors)
        wait_for(
            lambda: reading_count(influx_s) == len(steps),
            timeout=90,
            interval=1,
            what="every reading",
        )
        assert movements(influx_s) == expected_movements(steps)
        wait_for(lambda: proc.logged("spool_drained"), what="spool drained")
    finally:
        assert proc.stop() == 0


def test_collector_killed_mid_stream_loses_and_doubles_nothing(
    tmp_path: Path, mqtt_settings: MqttSettings, influx_settings: InfluxSettings, site_id: str
) -> None:
    site = write_site(tmp_path / "site.yaml", site_id)
    first = collector(tmp_path, mqtt_settings, influx_settings, site, "first")
    steps = reading_stream(DEVICES, 2000)
    thread, errors = _publish_in_background(mqtt_settings, step_payloads(site_id, steps), rate=2000)
    wait_for(lambda: reading_count(influx_settings) > 1000, what="some processed")
    first.kill()
    killed_at = reading_count(influx_settings)
    second = collector(tmp_path, mqtt_settings, influx_settings, site, "second")
    try:
        _publisher_done(thread, errors)
        wait_for(
            lambda: reading_count(influx_settings) == len(steps), timeout=60, what="every reading"
        )
        assert killed_at < len(steps), "the kill came too late to mean anything"
        assert movements(influx_settings) == expected_movements(steps)
    finally:
        assert second.stop() == 0


def test_ten_thousand_malformed_payloads_are_dead_lettered(
    tmp_path: Path, mqtt_settings: MqttSettings, influx_settings: InfluxSettings, site_id: str
) -> None:
    site = write_site(tmp_path / "site.yaml", site_id)
    proc = collector(tmp_path, mqtt_settings, influx_settings, site, "collector")
    steps = reading_stream(DEVICES, 400)
    good = step_payloads(site_id, steps)
    topic = f"gudang/v1/{site_id}/device/scale-0/reading"
    kinds: list[Callable[[int], bytes]] = [
        lambda i: b"{not json %d" % i,
        lambda i: b'{"device_id": "scale-0", "seq": -1, "n": %d}' % i,
        lambda i: b"\xff\xfe" + bytes([i % 256]),
        lambda i: good[i % len(good)][1].replace(b'"scale-', b'"ghost-'),
    ]
    bad = [(topic, kinds[i % 4](i)) for i in range(10_000)]
    # bad messages at random places; the valid stream keeps its order
    rng = random.Random(5)
    bad_at = set(rng.sample(range(len(good) + len(bad)), len(bad)))
    good_it, bad_it = iter(good), iter(bad)
    mixed = [next(bad_it) if i in bad_at else next(good_it) for i in range(len(good) + len(bad))]
    with MqttRecorder(mqtt_settings, [f"gudang/v1/{site_id}/deadletter/#"]) as rec:
        publish_all(mqtt_settings, mixed)
        # A last bad message after all of them: once its dead letter is out,
        # every earlier one is (batches are handled and dead-lettered in order).
        publish_all(mqtt_settings, [(topic, b"sentinel")])
        wait_for(
            lambda: (
                any(b"sentinel" in p for _, p, _ in rec.messages) and len(rec.messages) >= 10_001
            ),
            timeout=90,
            interval=0.5,
            what="10,000 dead letters and the sentinel's",
        )
        assert len(rec.messages) == 10_001
    wait_for(lambda: reading_count(influx_settings) == len(steps), timeout=30, what="valid traffic")
    assert movements(influx_settings) == expected_movements(steps)
    assert proc.stop() == 0

"""How fast the collector turns MQTT readings into InfluxDB points.

Starts its own Mosquitto and InfluxDB on loopback (gudang.services, the same
helpers as the tests), runs a real `gudang collector`, publishes N readings
for a site of D scales as fast as a bounded QoS 1 window allows, and measures
until every reading is in InfluxDB. Prints the median of --repeat runs.

    .venv/bin/python bench/collector_ingest.py --readings 20000 --devices 200 --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gudang.contract import WeightReading
from gudang.services import InfluxServer, MosquittoServer
from gudang.settings import InfluxSettings, MqttSettings
from gudang.testing import GudangProcess, service_env, wait_for

T0 = 1_764_000_000_000


def write_site(path: Path, devices: int) -> None:
    lines = [
        "site: {id: bench, name: Bench}",
        "skus:",
        "  - {id: RB-D10, name: Rebar, unit: pcs, unit_weight_kg: 7.4, minimum: 5,"
        " reorder_point: 10, reorder_quantity: 50}",
        "devices:",
    ]
    lines += [f"  - {{id: s{i}, protocol: ad-continuous, port: /dev/null}}" for i in range(devices)]
    lines.append("bins:")
    lines += [
        f"  - {{id: b{i}, rack: R, device: s{i}, sku: RB-D10, tare_kg: 10}}" for i in range(devices)
    ]
    path.write_text("\n".join(lines) + "\n")


def publish(settings: MqttSettings, readings: int, devices: int, budget_s: float) -> float:
    """Publish with at most 1000 unacknowledged messages; returns seconds taken."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-publisher")
    client.max_inflight_messages_set(1000)
    window = threading.Semaphore(1000)
    client.on_publish = lambda *a: window.release()
    # Built before the clock starts: the bench measures the collector, not pydantic here.
    messages = [
        (
            f"gudang/v1/bench/device/s{n % devices}/reading",
            WeightReading(
                device_id=f"s{n % devices}", boot_id="bench", seq=n // devices, ts=T0 + n,
                weight=10 + 7.4 * (n % 50), unit="kg", stable=True, reason="change",
            ).model_dump_json(),
        )
        for n in range(readings)
    ]  # fmt: skip
    client.connect(settings.host, settings.port)
    client.loop_start()
    started = time.perf_counter()
    deadline = started + budget_s
    for n, (topic, payload) in enumerate(messages):
        if time.perf_counter() > deadline:
            raise SystemExit(f"publishing took longer than {budget_s} s; stopped at {n}")
        window.acquire()
        info = client.publish(topic, payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise SystemExit(f"publish refused: rc={info.rc}")
    while window._value < 1000 and time.perf_counter() < deadline:
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    client.loop_stop()
    client.disconnect()
    return elapsed


def count(influx: InfluxSettings) -> int:
    body = httpx.get(
        f"{influx.url}/query",
        params={"db": influx.database, "q": 'SELECT count("seq") FROM "reading"'},
    ).json()
    series = body["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


def one_run(work: Path, readings: int, devices: int) -> tuple[float, float]:
    with MosquittoServer(work / "mosquitto") as broker, InfluxServer(work / "influx") as db:
        mqtt_s = MqttSettings(host=broker.host, port=broker.port)
        influx_s = InfluxSettings(url=db.url, database="bench")
        site = work / "site.yaml"
        write_site(site, devices)
        collector = GudangProcess(
            ["collector", "--site", str(site)],
            service_env(mqtt_s, influx_s, GUDANG_LOG_LEVEL="warning"),
            work / "collector.log",
        )
        try:
            wait_for(
                lambda: collector.running and count_ready(influx_s), timeout=30, what="collector"
            )
            started = time.perf_counter()
            pub_s = publish(mqtt_s, readings, devices, budget_s=300)
            wait_for(
                lambda: count(influx_s) >= readings, timeout=300, interval=0.2, what="all points"
            )
            total_s = time.perf_counter() - started
        finally:
            collector.stop()
        return readings / pub_s, readings / total_s


def count_ready(influx: InfluxSettings) -> bool:
    body = httpx.get(f"{influx.url}/query", params={"q": "SHOW DATABASES"}).json()
    names = [v[0] for v in body["results"][0].get("series", [{}])[0].get("values", [])]
    return influx.database in names


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--readings", type=int, default=20_000)
    ap.add_argument("--devices", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    pub, e2e = [], []
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            p, e = one_run(Path(tmp), args.readings, args.devices)
        pub.append(p)
        e2e.append(e)
        print(f"run {i + 1}: published {p:,.0f} msg/s, into InfluxDB {e:,.0f} msg/s", flush=True)
    print(
        f"median of {args.repeat}: readings={args.readings} devices={args.devices} "
        f"publish={statistics.median(pub):,.0f} msg/s  "
        f"end-to-end={statistics.median(e2e):,.0f} msg/s"
    )


if __name__ == "__main__":
    main()

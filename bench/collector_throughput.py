"""Collector throughput and latency, with a naive baseline, in one run.

Real Mosquitto and influxd on loopback (gudang.services, as the tests), a real
`gudang collector`, and a publisher in its own process that pipelines QoS 1
PUBLISH packets (MQTT 5 over a raw socket, PUBACKs counted in bulk) so that
the publisher is not what is measured. A phase ends when the collector's
`gudang_collector_messages_durable_total` (stored and acknowledged) reaches
the readings published, polled every 20 ms; every figure is then verified by
counting the readings in InfluxDB (zero loss or the script fails). Polling
InfluxDB's count instead, as earlier versions did, took influxd 0.1-0.2 s a
query during the drain and stamped the end up to 0.3 s late.

    .venv/bin/python bench/collector_throughput.py --readings 100000
    .venv/bin/python bench/collector_throughput.py --members 1,2,3

Prints, for each member count (one collector, or the members of a
partitioned one, `--members N --member I`), on a fresh broker and database:
- backlog drain: N readings queued in the collectors' persistent sessions
  while they are stopped, then drained (readings/s from start to all durable);
- sustained: N readings published as fast as the publisher can while the
  collectors run (readings/s from the first publish to all durable);
- latency at a steady 2,000 readings/s: p50/p99 from publish to queryable;
- where the CPU went (collector members, Mosquitto, influxd, publisher);
then a table of them, and the sustained rate of a naive collector (paho, one
HTTP write per message, as tutorials do) on fresh servers of its own.

The site: 200 scales, 50 SKUs on four scales each (50 groups that a
partitioned collector keeps whole), and a probe scale for latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client.parser import text_string_to_metric_families

from gudang.collector.mqtt.codec import Decoder, Puback, encode_connect, encode_publish
from gudang.contract import WeightReading
from gudang.services import InfluxServer, MosquittoServer, free_port
from gudang.settings import InfluxSettings, MqttSettings
from gudang.testing import GudangProcess, service_env, wait_for

SITE = "bench"
DEVICES = 200
BINS_PER_SKU = 4  # SKUs on four scales each: 50 groups that must stay whole (partitions)
T0 = 1_764_000_000_000


def write_site(path: Path) -> None:
    lines = ["site: {id: bench, name: Bench}", "devices:"]
    lines += [
        f"  - {{id: s{i}, protocol: ad-continuous, port: /dev/null/{i}}}" for i in range(DEVICES)
    ]
    lines += ["  - {id: probe, protocol: ad-continuous, port: /dev/null/probe}"]  # latency probe
    lines += ["skus:"]
    lines += [
        f"  - {{id: RB{k}, name: Rebar {k}, unit: pcs, unit_weight_kg: 7.4, minimum: 5, "
        "reorder_point: 10, reorder_quantity: 50}"
        for k in range(DEVICES // BINS_PER_SKU + 1)
    ]
    lines += ["bins:"]
    lines += [
        f"  - {{id: b{i}, rack: R, device: s{i}, sku: RB{i // BINS_PER_SKU}, tare_kg: 10}}"
        for i in range(DEVICES)
    ]
    lines += [f"  - {{id: bprobe, rack: P, device: probe, sku: RB{DEVICES // BINS_PER_SKU}, "
              "tare_kg: 10}"]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")


def payloads(n: int, boot: str, t0: int) -> list[tuple[str, bytes]]:
    out = []
    for k in range(n):
        dev = k % DEVICES
        msg = WeightReading(
            device_id=f"s{dev}", boot_id=boot, seq=k // DEVICES, ts=t0 + k,
            weight=round(10 + 7.4 * (100 + (k // DEVICES) % 7), 2), unit="kg", stable=True,
            reason="change",
        )  # fmt: skip
        out.append((f"gudang/v1/{SITE}/device/s{dev}/reading", msg.model_dump_json().encode()))
    return out


async def _pipelined_publish(
    port: int, messages: list[tuple[str, bytes]], rate: float | None
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(encode_connect("bench-publisher", clean_start=True))
    dec = Decoder()
    dec.feed(await reader.read(64))
    list(dec.packets())
    acked = 0
    window = 2000
    sent = 0
    started = time.perf_counter()
    while acked < len(messages):
        burst: list[bytes] = []
        while sent < len(messages) and sent - acked < window and len(burst) < 500:
            if rate is not None and started + sent / rate > time.perf_counter():
                break
            topic, body = messages[sent]
            burst.append(encode_publish(topic, body, qos=1, packet_id=sent % 65535 + 1))
            sent += 1
        if burst:
            writer.write(b"".join(burst))
        try:
            data = await asyncio.wait_for(reader.read(65536), 0.002 if rate else 0.05)
        except TimeoutError:
            continue
        if not data:
            raise SystemExit("broker closed the publisher's connection")
        dec.feed(data)
        acked += sum(1 for p in dec.packets() if isinstance(p, Puback))
    writer.close()


def _publisher(
    port: int, n: int, boot: str, t0: int, rate: float | None, ready: Any, go: Any
) -> None:
    messages = payloads(n, boot, t0)
    ready.set()
    go.wait()
    asyncio.run(_pipelined_publish(port, messages, rate))


class Publisher:
    """The publisher process, started and with its payloads made; `go()`
    starts publishing (so that no figure counts Python's start-up or the
    making of the payloads)."""

    def __init__(self, port: int, n: int, boot: str, t0: int, rate: float | None = None) -> None:
        ctx = mp.get_context("spawn")
        self._ready, self._go = ctx.Event(), ctx.Event()
        self.proc = ctx.Process(target=_publisher,
                                args=(port, n, boot, t0, rate, self._ready, self._go))  # fmt: skip
        self.proc.start()
        if not self._ready.wait(120):
            raise SystemExit("the publisher did not get ready")

    @property
    def pid(self) -> int | None:
        return self.proc.pid

    def go(self) -> float:
        """Start publishing; returns the time (perf_counter) it was told to."""
        started = time.perf_counter()
        self._go.set()
        return started

    def join(self) -> None:
        self.proc.join()


def publish_process(port: int, n: int, boot: str, t0: int, rate: float | None = None) -> Publisher:
    """A publisher already publishing."""
    pub = Publisher(port, n, boot, t0, rate)
    pub.go()
    return pub


def count(influx: InfluxSettings, boot: str) -> int:
    q = f'SELECT count("seq") FROM "reading" WHERE "boot_id" = \'{boot}\''
    body = httpx.get(
        f"{influx.url}/query", params={"db": influx.database, "q": q}, timeout=30
    ).json()
    series = body["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


def _logged_at(proc: GudangProcess, event: str) -> float:
    """Epoch seconds of the first log line of `event`."""
    for e in proc.events():
        if e.get("event") == event:
            return datetime.fromisoformat(str(e["timestamp"])).timestamp()
    raise SystemExit(f"{proc.name} never logged {event}")


def durable(metrics_port: int) -> float:
    """The collector's readings stored and acknowledged (summed over members)."""
    text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        if family.name == "gudang_collector_messages_durable":
            return sum(s.value for s in family.samples if s.name.endswith("_total"))
    raise SystemExit("the collector has no gudang_collector_messages_durable_total")


def wait_durable(
    ports: list[int], base: float, influx: InfluxSettings, boot: str, n: int,
    budget_s: float = 600,
) -> float:  # fmt: skip
    """perf_counter when the collector(s) had `n` more readings durable than
    `base`, checked against InfluxDB's own count (exactly `n` for `boot`)."""
    deadline = time.perf_counter() + budget_s
    while True:
        got = sum(durable(p) for p in ports) - base
        if got >= n:
            done = time.perf_counter()
            c = count(influx, boot)
            if c == n:
                return done
            raise SystemExit(f"the collector stored {got:.0f} readings, InfluxDB has {c} of {n}")
        if time.perf_counter() > deadline:
            raise SystemExit(f"only {got:.0f} of {n} readings durable after {budget_s} s: LOSS")
        time.sleep(0.02)


def wait_count(influx: InfluxSettings, boot: str, n: int, budget_s: float = 600) -> float:
    deadline = time.perf_counter() + budget_s
    while (c := count(influx, boot)) < n:
        if time.perf_counter() > deadline:
            raise SystemExit(f"only {c} of {n} readings in InfluxDB after {budget_s} s: LOSS")
        time.sleep(0.1)
    if c != n:
        raise SystemExit(f"{c} readings for {n} published")
    return time.perf_counter()


QUERY_MS: list[float] = []  # how long each probe query took: the measurement's own floor


def latency_probe(
    mqtt_s: MqttSettings, influx: InfluxSettings, seconds: float, boot: str
) -> list[float]:
    """Probe readings every 100 ms under the load; each is polled for until queryable."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{boot}")
    client.connect(mqtt_s.host, mqtt_s.port)
    client.loop_start()
    latencies: list[float] = []
    http = httpx.Client(base_url=influx.url, timeout=10)
    started = time.perf_counter()
    n = 0
    while time.perf_counter() - started < seconds:
        ts = T0 + 10_000_000 + n
        body = WeightReading(device_id="probe", boot_id=boot, seq=n, ts=ts, weight=50.0, unit="kg",
                             stable=True, reason="heartbeat").model_dump_json()  # fmt: skip
        sent = time.perf_counter()
        client.publish(f"gudang/v1/{SITE}/device/probe/reading", body, qos=1)
        q = (
            f'SELECT "seq" FROM "reading" WHERE "device" = \'probe\' '
            f"AND time = {ts}ms AND \"boot_id\" = '{boot}'"
        )
        while time.perf_counter() - sent < 10:
            asked = time.perf_counter()
            res = http.get("/query", params={"db": influx.database, "q": q}).json()
            QUERY_MS.append((time.perf_counter() - asked) * 1000)
            if res["results"][0].get("series"):
                latencies.append((time.perf_counter() - sent) * 1000)
                break
            time.sleep(0.002)
        n += 1
        time.sleep(max(0.0, 0.1 - (time.perf_counter() - sent)))
    client.loop_stop()
    return latencies


def peak_rss_mib(pid: int) -> float:
    """A process's peak resident memory so far (VmHWM), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int | list[int] | None) -> float:
    """User + system CPU seconds of a process (or several) so far (0 when gone)."""
    if isinstance(pid, list):
        return sum(cpu_s(p) for p in pid)
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuShare:
    """CPU of the broker, the database and the collector(s) over one phase, as
    %% of one core: where the machine's two cores went (each member's share
    in brackets when there are several)."""

    def __init__(self, **pids: int | list[int] | None) -> None:
        self.pids = pids
        self.start = {k: cpu_s(p) for k, p in pids.items()}
        self.each = {k: [cpu_s(x) for x in p] for k, p in pids.items() if isinstance(p, list)}
        self.t0 = time.perf_counter()

    def report(self) -> str:
        wall = time.perf_counter() - self.t0
        parts = []
        for k, p in self.pids.items():
            part = f"{k} {100 * (cpu_s(p) - self.start[k]) / wall:.0f}%"
            if isinstance(p, list) and len(p) > 1:
                each = [100 * (cpu_s(x) - s) / wall for x, s in zip(p, self.each[k], strict=True)]
                part += " (" + "+".join(f"{e:.0f}" for e in each) + ")"
            parts.append(part)
        return "CPU (% of one core): " + ", ".join(parts)


class Collectors:
    """One collector, or the N members of a partitioned one, stopped together."""

    def __init__(self, procs: list[GudangProcess], metrics_ports: list[int]) -> None:
        self.metrics_ports = metrics_ports
        self.procs = procs
        self.pids = [p.proc.pid for p in procs]

    def stop(self) -> None:
        for p in self.procs:
            p.stop()


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100)[int(p) - 1] if len(values) > 2 else float("nan")


class NaiveCollector:
    """The tutorial way: paho on_message -> one HTTP write per message (auto-ack)."""

    def __init__(self, mqtt_s: MqttSettings, influx: InfluxSettings) -> None:
        self.http = httpx.Client(base_url=influx.url, timeout=10)
        self.db = influx.database
        self.written = 0
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="naive", clean_session=False
        )
        self.client.on_message = self.on_message
        self.client.on_connect = lambda c, *a: c.subscribe(
            f"gudang/v1/{SITE}/device/+/reading", qos=1
        )
        self.client.connect(mqtt_s.host, mqtt_s.port)
        self.client.loop_start()

    def on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        r = json.loads(msg.payload)
        line = (f"reading,site={SITE},device={r['device_id']} weight_kg={r['weight']},"
                f"seq={r['seq']}i,boot_id=\"{r['boot_id']}\" {r['ts']}")  # fmt: skip
        self.http.post("/write", params={"db": self.db, "precision": "ms"}, content=line)
        self.written += 1

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@dataclass
class Figures:
    members: int
    drain: float  # readings/s from the collectors' start
    drain_subscribed: float  # from their subscription
    sustained: float
    p50_ms: float
    p99_ms: float
    drain_cpu: str
    sustained_cpu: str
    peak_rss_mib: list[float]  # each member's, after drain, sustained and latency


@contextmanager
def servers(folder: Path, n: int) -> Iterator[tuple[MosquittoServer, InfluxServer]]:
    """A fresh Mosquitto and influxd: every member count starts from the same
    empty database and broker."""
    broker = MosquittoServer(folder / "mq", max_queued_messages=2 * n + 100_000)
    db = InfluxServer(folder / "influx")
    broker.start()
    db.start()
    try:
        yield broker, db
    finally:
        broker.stop()
        db.stop()


def run(members: int, args: argparse.Namespace, folder: Path) -> Figures:
    """Drain, sustained and latency with `members` collectors (one, or the
    members of a partitioned collector: `--members N --member I`)."""
    n = args.readings
    folder.mkdir()
    with servers(folder, n) as (broker, db):
        mqtt_s = MqttSettings(host=broker.host, port=broker.port)
        influx_s = InfluxSettings(url=db.url, database="bench")
        site = folder / "site.yaml"
        write_site(site)
        env = service_env(mqtt_s, influx_s, GUDANG_LOG_LEVEL="info")  # events, not messages
        starts: list[int] = []

        def start_one(k: int, metrics_port: int) -> GudangProcess:
            cmd = ["collector", "--site", str(site), "--confirm-every", str(args.confirm_every),
                   "--metrics-port", str(metrics_port)]  # fmt: skip
            if members > 1:
                cmd += ["--members", str(members), "--member", str(k)]
            own = {**env, "GUDANG_COLLECTOR_SPOOL": str(folder / f"spool{k}.db"),
                   "GUDANG_COLLECTOR_STATE": str(folder / f"state{k}.db")}  # fmt: skip
            starts.append(k)  # a log per start: each start's events are its own
            return GudangProcess(cmd, own, folder / f"collector{k}-{len(starts)}.log")

        def start_collector() -> Collectors:
            ports = [free_port() for _ in range(members)]
            procs = Collectors([start_one(k, p) for k, p in enumerate(ports)], ports)
            wait_for(lambda: all(p.logged("mqtt_subscribed") for p in procs.procs),
                     timeout=60, what="collectors subscribed")  # fmt: skip
            return procs

        label = f"[{members} member{'s' if members > 1 else ''}]"
        # 1. backlog drain: the sessions exist (started once), then fill while stopped
        collector = start_collector()
        collector.stop()
        pub = Publisher(broker.port, n, "drain", T0)
        queued_at = pub.go()
        pub.join()
        queued_s = time.perf_counter() - queued_at
        print(f"{label} publisher alone (collectors stopped): {n / queued_s:,.0f} messages/s "
              "into the sessions: the ceiling of 'sustained'", flush=True)  # fmt: skip
        # Timed from the collectors' start (Python's start-up included) and,
        # more telling for a long backlog, from their subscription (the first
        # `mqtt_subscribed` log line) to the last reading durable.
        started = time.perf_counter()
        collector = start_collector()
        cpu = CpuShare(collector=collector.pids, mosquitto=broker.pid, influxd=db.pid)
        done = wait_durable(collector.metrics_ports, 0, influx_s, "drain", n)
        drain = n / (done - started)
        subscribed = min(_logged_at(p, "mqtt_subscribed") for p in collector.procs)
        from_sub = n / (time.time() - (time.perf_counter() - done) - subscribed)
        drain_cpu = cpu.report()
        print(f"{label} backlog drain: {n:,} readings queued -> {drain:,.0f} readings/s from "
              f"the start, {from_sub:,.0f} readings/s from the subscription  [{drain_cpu}]",
              flush=True)  # fmt: skip

        # 2. sustained while publishing
        base = sum(durable(p) for p in collector.metrics_ports)
        pub = Publisher(broker.port, n, "live", T0 + 2 * n)
        started = pub.go()
        cpu = CpuShare(collector=collector.pids, mosquitto=broker.pid, influxd=db.pid,
                       publisher=pub.pid)  # fmt: skip
        sustained = n / (wait_durable(collector.metrics_ports, base, influx_s, "live", n)
                         - started)  # fmt: skip
        sustained_cpu = cpu.report()
        pub.join()
        print(f"{label} sustained: {n:,} readings published while running -> "
              f"{sustained:,.0f} readings/s  [{sustained_cpu}]", flush=True)  # fmt: skip

        # 3. latency at a steady 2,000/s
        steady_n = int(2000 * (args.latency_seconds + 2))
        pub = publish_process(broker.port, steady_n, "steady", T0 + 4 * n, rate=2000)
        time.sleep(1)  # the load is on before the first probe
        QUERY_MS.clear()
        lat = latency_probe(mqtt_s, influx_s, args.latency_seconds, "probe")
        pub.join()
        wait_count(influx_s, "steady", steady_n)
        print(f"{label} latency at 2,000/s: p50 {pct(lat, 50):.0f} ms, p99 {pct(lat, 99):.0f} ms "
              f"({len(lat)} probes; one probe query takes p50 {pct(QUERY_MS, 50):.0f} ms)",
              flush=True)  # fmt: skip
        rss = [peak_rss_mib(pid) for pid in collector.pids]
        collector.stop()
        return Figures(members, drain, from_sub, sustained, pct(lat, 50), pct(lat, 99),
                       drain_cpu, sustained_cpu, rss)  # fmt: skip


def naive_baseline(m: int, folder: Path) -> float:
    """The tutorial collector on its own fresh servers: readings/s."""
    folder.mkdir()
    with servers(folder, m) as (broker, db):
        mqtt_s = MqttSettings(host=broker.host, port=broker.port)
        influx_s = InfluxSettings(url=db.url, database="bench")
        httpx.post(f"{db.url}/query", data={"q": "CREATE DATABASE bench"}).raise_for_status()
        naive = NaiveCollector(mqtt_s, influx_s)
        wait_for(lambda: naive.client.is_connected(), what="naive collector connected")
        time.sleep(0.5)  # its SUBACK (paho does not say)
        pub = Publisher(broker.port, m, "naive", T0 + 6 * m)
        started = pub.go()
        wait_for(lambda: naive.written >= m, timeout=600, interval=0.02, what="naive writes")
        rate = m / (time.perf_counter() - started)
        wait_count(influx_s, "naive", m, budget_s=10)  # and all there
        pub.join()
        naive.stop()
        return rate


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--readings", type=int, default=100_000)
    ap.add_argument("--naive-readings", type=int, default=10_000, help="0: no naive baseline")
    ap.add_argument("--latency-seconds", type=float, default=15.0)
    ap.add_argument(
        "--members", default="1",
        help="member counts to measure, e.g. 1,2,3 (a partitioned collector: --members N)",
    )  # fmt: skip
    ap.add_argument(
        "--confirm-every", type=float, default=1.0,
        help="the collector's confirmations to the edges (0: off), to measure their cost",
    )  # fmt: skip
    args = ap.parse_args()
    try:
        counts = [int(x) for x in args.members.split(",")]
    except ValueError:
        ap.error(f"--members: a comma-separated list of counts, got {args.members!r}")
    if not counts or min(counts) < 1 or max(counts) > 16:
        ap.error("--members: counts from 1 to 16")
    if not 1_000 <= args.readings <= 2_000_000:
        ap.error("--readings: 1,000 to 2,000,000")
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        figures = [run(k, args, tmp / f"members{k}") for k in counts]
        naive = naive_baseline(args.naive_readings, tmp / "naive") if args.naive_readings else 0
    print(f"\n{args.readings:,} readings a phase; exact counts verified in InfluxDB every phase")
    print(f"{'members':>7} {'drain/s':>9} {'(from sub)':>10} {'sustained/s':>11} "
          f"{'p50 ms':>6} {'p99 ms':>6}  {'peak RSS MiB':>12}   drain CPU")  # fmt: skip
    for f in figures:
        rss = "+".join(f"{r:.0f}" for r in f.peak_rss_mib)
        print(f"{f.members:>7} {f.drain:>9,.0f} {f.drain_subscribed:>10,.0f} {f.sustained:>11,.0f} "
              f"{f.p50_ms:>6.0f} {f.p99_ms:>6.0f}  {rss:>12}   {f.drain_cpu}")  # fmt: skip
    if naive:
        print(
            f"naive baseline: {args.naive_readings:,} readings -> {naive:,.0f} readings/s; "
            f"sustained/naive {figures[0].sustained / naive:.1f}x, "
            f"drain/naive {figures[0].drain / naive:.1f}x ({figures[0].members} member(s))"
        )


if __name__ == "__main__":
    main()

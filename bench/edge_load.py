"""Edge cost: one edge process serving 16 simulated devices sampling at 10 Hz.

Starts its own Mosquitto on loopback (gudang.services), the simulators and one
`gudang edge` (gudang.testing), lets the scales change every few seconds, and
prints the edge's CPU use (% of one core) and peak RSS over the run, once
forgetting messages at the broker's PUBACK (`--no-confirm`) and once keeping
them until a running collector confirms them (the default; the collector
spools, no InfluxDB needed). Then prints each decoder's throughput in frames
per second (median of 5).

    .venv/bin/python bench/edge_load.py --seconds 60

Target (issue 3): <= 10 % of one core and <= 80 MB for 16 devices at 10 Hz.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from gudang.edge.registry import DRIVERS
from gudang.services import MosquittoServer, free_port
from gudang.settings import InfluxSettings, MqttSettings
from gudang.sim.ad_continuous import encode_display
from gudang.sim.control import ControlClient
from gudang.sim.rfid import rdm6300_frame
from gudang.sim.scale_model import Display
from gudang.sim.toledo import encode_frame, with_even_parity
from gudang.site import Device
from gudang.testing import GudangProcess, service_env, wait_for

CLK = os.sysconf("SC_CLK_TCK")


def site_yaml(dev_dir: Path) -> str:
    lines = ["site: {id: bench, name: Bench}", "devices:"]
    bins = []
    for i in range(16):
        proto = ("ad-continuous", "toledo-continuous", "mt-sics", "ad-continuous")[i % 4]
        extra = ", poll_interval_s: 0.1" if proto == "mt-sics" else ""
        lines.append(
            f"  - {{id: s{i}, protocol: {proto}, port: {dev_dir}/s{i}, division_kg: 0.01{extra}}}"
        )
        bins.append(
            f"  - {{id: b{i}, rack: R, device: s{i}, sku: RB, tare_kg: 20, capacity_kg: 2000}}"
        )
    lines += [
        "skus:",
        "  - {id: RB, name: Rebar, unit: pcs, unit_weight_kg: 7.4, minimum: 5, reorder_point: 20,"
        " reorder_quantity: 50}",
        "bins:",
        *bins,
    ]
    return "\n".join(lines) + "\n"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK  # utime + stime


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def edge_load(seconds: float, confirm: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        broker = MosquittoServer(tmp / "mq")
        broker.start()
        site = tmp / "site.yaml"
        site.write_text(site_yaml(tmp / "dev"))
        mqtt_s = MqttSettings(host=broker.host, port=broker.port)
        # An address where nothing answers: the collector spools (and confirms).
        dead_influx = InfluxSettings(url=f"http://127.0.0.1:{free_port()}")
        env = service_env(
            mqtt_s, dead_influx, GUDANG_EDGE_OUTBOX=str(tmp / "outbox.db"),
            GUDANG_COLLECTOR_SPOOL=str(tmp / "spool.db"),
            GUDANG_COLLECTOR_STATE=str(tmp / "state.db"),
        )  # fmt: skip
        control = free_port()
        sim_args = ["sim", "--site", str(site), "--control-port", str(control), "--rate", "10"]
        sim = GudangProcess(sim_args, env, tmp / "sim.log")
        edge = collector = None
        try:
            wait_for(lambda: sim.logged("sim_start") or not sim.running, what="simulator")
            if confirm:
                collector = GudangProcess(["collector", "--site", str(site)], env,
                                          tmp / "collector.log")  # fmt: skip
                wait_for(lambda: collector.logged("mqtt_subscribed"), what="collector")
            mode = [] if confirm else ["--no-confirm"]
            edge = GudangProcess(["edge", "--site", str(site), *mode], env, tmp / "edge.log")
            time.sleep(3)  # start-up (imports, connections) is not the steady state
            pid = edge.proc.pid
            cpu0, t0 = cpu_seconds(pid), time.monotonic()
            with ControlClient(control) as ctl:
                n = 0
                while time.monotonic() - t0 < seconds:
                    ctl.send(op="take", bin=f"b{n % 16}", qty=1)
                    n += 1
                    time.sleep(0.5)
            cpu = (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0) * 100
            rss = peak_rss_mb(pid)
            how = "confirmed by the collector" if confirm else "forgotten at PUBACK"
            print(f"edge, 16 devices at 10 Hz, {seconds:.0f} s, {n} picks, {how}: "
                  f"CPU {cpu:.1f} % of one core, peak RSS {rss:.1f} MB")  # fmt: skip
            if confirm:
                with sqlite3.connect(tmp / "outbox.db") as db:
                    kept = db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
                print(f"  outbox rows still unconfirmed at the end: {kept}")
        finally:
            if edge is not None:
                edge.stop()
            if collector is not None:
                collector.stop()
            sim.stop()
            broker.stop()


def corpus(protocol: str, frames: int) -> bytes:
    if protocol == "ad-continuous":
        return b"".join(
            encode_display(Display(100 + i / 100, i % 3 > 0, "ok"), 0.01) for i in range(frames)
        )
    if protocol == "toledo-continuous":
        return b"".join(
            with_even_parity(encode_frame(Display(100 + i / 100, True, "ok"), 0.01))
            for i in range(frames)
        )
    if protocol == "mt-sics":
        return b"".join(f"S S {100 + i / 100:>10.2f} kg\r\n".encode() for i in range(frames))
    if protocol == "rdm6300":
        return b"".join(rdm6300_frame(f"{i:010X}") for i in range(frames))
    from gudang.sim.rfid import FieldTag, UhfResponder

    out: list[bytes] = []
    reader = UhfResponder(out.append, 0.0, 1)
    for i in range(frames):
        reader.field = {"t": FieldTag(f"{i:024X}")}
        reader._inventory()
    return b"".join(out)


def parser_throughput(frames: int) -> None:
    for protocol, spec in DRIVERS.items():
        data = corpus(protocol, frames)
        rates = []
        for _ in range(5):
            dec = spec.decoder(Device(id="b", protocol=protocol, port="/dev/null"))  # type: ignore[arg-type]
            started = time.perf_counter()
            for i in range(0, len(data), 4096):
                dec.feed(data[i : i + 4096])
                while dec.next_frame() is not None:
                    pass
            rates.append(dec.stats.frames_ok / (time.perf_counter() - started))
            assert dec.stats.frames_ok == frames, (protocol, dec.stats)
        print(f"decoder {protocol:<18} {statistics.median(rates):>10,.0f} frames/s (median of 5)")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--frames", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=1, help="Alternations of the two modes.")
    args = ap.parse_args()
    for _ in range(args.runs):
        edge_load(args.seconds, confirm=False)
        edge_load(args.seconds, confirm=True)
    parser_throughput(args.frames)


if __name__ == "__main__":
    main()

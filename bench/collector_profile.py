"""The collector's own work per reading, without broker or database.

Feeds `Collector.handle` the benchmark's payloads (one SKU over 200 bins, every
reading a change) and prints microseconds per reading; with --profile, the
top functions by cumulative time (cProfile).

    .venv/bin/python bench/collector_profile.py --readings 30000 --profile
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import tempfile
import time
from pathlib import Path

from collector_throughput import SITE, T0, payloads, write_site

from gudang.collector.mqtt import Publish
from gudang.collector.service import Collector
from gudang.settings import InfluxSettings, MqttSettings
from gudang.site.loader import load_site


class _Writer:
    """Takes what the durable writer would: points and acknowledgements."""

    def __init__(self) -> None:
        self.points = 0

    def add(
        self, points: list[str], acks: object, seen: object = None, *, ordered: bool = False
    ) -> None:
        self.points += len(points)


def run(n: int, batch: int, tmp: Path, boot: str) -> float:
    site_file = tmp / "site.yaml"
    write_site(site_file)
    site = load_site(site_file)
    c = Collector(
        site, MqttSettings(), InfluxSettings(database=SITE), spool_path=tmp / f"{boot}.db"
    )
    msgs = [
        Publish(topic=t, payload=p, qos=1, packet_id=1 + i % 60000, retain=False)
        for i, (t, p) in enumerate(payloads(n, boot, T0))
    ]
    w = _Writer()
    started = time.perf_counter()
    for i in range(0, n, batch):
        c.handle(msgs[i : i + batch], w)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    c.close()
    return elapsed / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--readings", type=int, default=30_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        us = [run(args.readings, args.batch, tmp, f"r{k}") for k in range(args.repeat)]
        med = statistics.median(us)
        print(f"collector in-process: {med:.1f} us/reading (median of {args.repeat}; "
              f"{1e6 / med:,.0f} readings/s on one core)")  # fmt: skip
        if args.profile:
            prof = cProfile.Profile()
            prof.runcall(run, args.readings, args.batch, tmp, "profiled")
            pstats.Stats(prof).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()

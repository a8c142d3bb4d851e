"""How many points a second influxd takes on this machine, with nothing else
running: the ceiling under any collector.

The bodies are the collector's own line protocol for the throughput
benchmark's readings (a reading, a bin level and a movement per reading, made
by the real engine beforehand), posted as the collector posts them (plain, ms
precision) by 1, 2, 3 or 4 concurrent writers in batches of the writer's size.
influxd gets a fresh database each round; every point is counted back.

    .venv/bin/python bench/influx_ceiling.py --readings 100000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from collector_throughput import SITE, T0, CpuShare, payloads, write_site

from gudang.collector.calibration import Calibration
from gudang.collector.engine import StockEngine
from gudang.contract import WeightReading
from gudang.services import InfluxServer
from gudang.site.loader import load_site


def engine_lines(n: int, tmp: Path) -> list[str]:
    """The points the collector makes for the benchmark's n readings."""
    write_site(tmp / "site.yaml")
    site = load_site(tmp / "site.yaml")
    cal = Calibration(site, tmp / "state.db")
    engine = StockEngine(site, cal)
    lines: list[str] = []
    for _, body in payloads(n, "ceiling", T0):
        lines += engine.reading(WeightReading.model_validate_json(body)).lines
    cal.close()
    return lines


async def post_all(url: str, db: str, bodies: list[bytes], writers: int) -> None:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for b in bodies:
        queue.put_nowait(b)
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:

        async def writer() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                r = await http.post("/write", params={"db": db, "precision": "ms"}, content=body)
                r.raise_for_status()

        await asyncio.gather(*(writer() for _ in range(writers)))


def count(url: str, db: str) -> int:
    q = 'SELECT count("seq") FROM "reading"'
    body = httpx.get(f"{url}/query", params={"db": db, "q": q}, timeout=30).json()
    series = body["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--readings", type=int, default=100_000)
    ap.add_argument("--batch-points", type=int, default=30_000)
    ap.add_argument("--writers", default="1,2,3,4")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        lines = engine_lines(args.readings, tmp)
        step = args.batch_points
        bodies = [
            ("\n".join(lines[i : i + step]) + "\n").encode() for i in range(0, len(lines), step)
        ]
        print(f"{len(lines):,} points ({args.readings:,} readings) in {len(bodies)} bodies "
              f"of up to {step:,} points", flush=True)  # fmt: skip
        server = InfluxServer(tmp / "influx")
        server.start()
        try:
            round_no = 0
            for writers in (int(w) for w in args.writers.split(",")):
                rates: list[float] = []
                usage = ""
                for _ in range(args.repeat):
                    round_no += 1
                    db = f"{SITE}_{round_no}"
                    httpx.post(f"{server.url}/query", params={"q": f'CREATE DATABASE "{db}"'})
                    cpu = CpuShare(influxd=server.pid)
                    started = time.perf_counter()
                    asyncio.run(post_all(server.url, db, bodies, writers))
                    rates.append(len(lines) / (time.perf_counter() - started))
                    usage = cpu.report()
                    if count(server.url, db) != args.readings:
                        raise SystemExit("points lost")
                print(f"{writers} concurrent writer(s): median {statistics.median(rates):,.0f} "
                      f"points/s = {statistics.median(rates) / 3:,.0f} readings/s "
                      f"(runs: {', '.join(f'{r:,.0f}' for r in rates)})  [{usage}]",
                      flush=True)  # fmt: skip
        finally:
            server.stop()


if __name__ == "__main__":
    main()

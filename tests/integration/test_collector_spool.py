"""The collector's spool at its limits, with a real InfluxDB that goes away:
a batch larger than the spool is split, a full spool never wedges a stop,
and a limit too small to hold one batch is refused at start."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path

from gudang.collector.spool import Spool
from gudang.collector.writer import Acks, DurableWriter, Seen
from gudang.influx import InfluxClient
from gudang.services import InfluxServer
from gudang.settings import InfluxSettings
from gudang.testing import influx_rows, wait_for_async


def _points(n: int, seed: int = 1) -> list[str]:
    """Points that compress poorly (random values), as real readings do."""
    rng = random.Random(seed)
    return [f"m,bin=B{i % 50} v={rng.random()!r},w={rng.random()!r} {1_764_000_000_000 + i}"
            for i in range(n)]  # fmt: skip


async def test_a_batch_larger_than_the_spool_is_split_not_looped(
    tmp_path: Path, private_influxdb: InfluxServer
) -> None:
    settings = InfluxSettings(url=private_influxdb.url, database=f"t_{uuid.uuid4().hex[:8]}")
    async with InfluxClient(settings) as db:
        await db.ensure_database()
    private_influxdb.stop()  # InfluxDB away: everything must go to the spool
    points = _points(20_000)
    spool = Spool(tmp_path / "spool.db", max_bytes=400_000)  # about half of the batch
    released: list[tuple[Acks, Seen]] = []
    stop = asyncio.Event()
    async with InfluxClient(settings) as db:
        writer = DurableWriter(db, spool, lambda a, s: released.append((a, s)), write_timeout_s=1)
        writer.db_ready.set()  # as the collector does once InfluxDB first answered
        task = asyncio.create_task(writer.run(stop))
        writer.add(points, [(1, 1)], [("d", "b", 0)])
        # The first part goes in, the rest waits for room.
        await wait_for_async(lambda: not spool.empty, 30, what="the first part spooled")
        assert not released  # not one acknowledgement before every point is durable
        private_influxdb.start()  # the drainer makes room; the rest follows
        await wait_for_async(lambda: released and spool.empty, 90, what="all durable, drained")
        assert released == [([(1, 1)], [("d", "b", 0)])]
        assert spool.batches == 0 and spool.points == 0
        stop.set()
        await task
    rows = influx_rows(settings, 'SELECT count("v") FROM "m"')
    assert rows[0]["count"] == len(points)


async def test_a_full_spool_does_not_hold_up_a_stop(tmp_path: Path) -> None:
    """Nothing answers at the InfluxDB address and the spool is full: the stop
    still ends the writer at once, leaving the batch unacknowledged (the broker
    keeps those messages)."""
    settings = InfluxSettings(url="http://127.0.0.1:9", database="nowhere", timeout_s=1)
    spool = Spool(tmp_path / "spool.db", max_bytes=10_000)
    released: list[tuple[Acks, Seen]] = []
    stop = asyncio.Event()
    async with InfluxClient(settings) as db:
        writer = DurableWriter(db, spool, lambda a, s: released.append((a, s)), write_timeout_s=1)
        writer.db_ready.set()
        task = asyncio.create_task(writer.run(stop))
        writer.add(_points(5_000), [(1, 7)])
        await wait_for_async(lambda: not spool.empty, 30, what="the spool filled")
        stop.set()
        started = time.monotonic()
        async with asyncio.timeout(10):
            await task
        assert time.monotonic() - started < 5
    assert released == []


def test_a_spool_limit_below_one_batch_is_refused_at_start(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text("site: {id: s, name: S}\n")
    env = {**os.environ, "GUDANG_COLLECTOR_SPOOL": str(tmp_path / "spool.db"),
           "PYTHONSAFEPATH": "1"}  # the installed package, not the checkout's gudang/  # fmt: skip
    for limit in ("0", "1"):
        done = subprocess.run(
            [sys.executable, "-m", "gudang.cli", "collector", "--site", str(site),
             "--spool-max-mb", limit],
            capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert "--spool-max-mb" in done.stderr and "16" in done.stderr

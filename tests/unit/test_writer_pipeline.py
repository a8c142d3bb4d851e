"""The durable writer's pipeline, with writes whose end the test decides: several
writes with InfluxDB at once, releases strictly in the order parcels came,
rewrites never overtaking earlier writes, failures spooled in order.

InfluxDB itself is not needed here (the scheduling is pure logic); the
writer's real InfluxDB and spool paths are tested in
tests/integration/test_collector_spool.py and the collector tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from gudang.collector.spool import Spool
from gudang.collector.writer import Acks, DurableWriter, Seen
from gudang.testing import wait_for_async


class _Writes(DurableWriter):
    """A DurableWriter whose writes end when the test says (True: written,
    False: failed and retryable)."""

    def __init__(self, tmp: Path, **kw: Any) -> None:
        self.released: list[Acks] = []
        super().__init__(None, Spool(tmp / "spool.db"), self._on_durable, **kw)  # type: ignore[arg-type]
        self.started: list[tuple[int, asyncio.Future[bool]]] = []  # (first ack id, its end)
        self.stop = asyncio.Event()
        self.db_ready.set()

    def _on_durable(self, acks: Acks, seen: Seen) -> None:
        self.released.append(acks)

    async def _try_write(self, body: bytes, points: int) -> bool:
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        first = int(body.split(b" ", 1)[0].split(b"=")[1])  # m,p=<first ack id> ...
        self.started.append((first, fut))
        return await fut

    async def _drain(self, stop: asyncio.Event) -> None:
        await stop.wait()  # the spool stays as the test left it

    def end(self, first: int, ok: bool = True) -> None:
        for k, fut in self.started:
            if k == first and not fut.done():
                fut.set_result(ok)
                return
        raise AssertionError(f"no write starting at {first} in flight")

    def writing(self) -> list[int]:
        return [k for k, fut in self.started if not fut.done()]


def _parcel(w: DurableWriter, k: int, *, ordered: bool = False) -> None:
    w.add([f"m,p={k} v=1 {1_764_000_000_000 + k}"], [(1, k)], [("d", "b", k)], ordered=ordered)


@contextlib.asynccontextmanager
async def _running(tmp: Path, in_flight: int) -> AsyncIterator[_Writes]:
    """A writer running (one point per write) until the block ends; `w.stop`
    stops it earlier."""
    w = _Writes(tmp, max_in_flight=in_flight, max_batch_points=1)
    task = asyncio.create_task(w.run(w.stop))
    try:
        yield w
    finally:
        w.stop.set()
        for _, fut in w.started:
            if not fut.done():
                fut.set_result(True)
        async with asyncio.timeout(5):
            await task


async def test_several_writes_in_flight_and_releases_in_order(tmp_path: Path) -> None:
    async with _running(tmp_path, 3) as w:
        for k in (1, 2, 3):
            _parcel(w, k)
        # Three writes at once: InfluxDB stores while the collector works on.
        await wait_for_async(lambda: w.writing() == [1, 2, 3], 5, what="three writes in flight")
        _parcel(w, 4)  # the fourth waits for room
        w.end(3)
        w.end(2)
        await wait_for_async(
            lambda: 4 in w.writing(), 5, what="the fourth write, once there is room"
        )
        assert w.released == []  # 2 and 3 are in InfluxDB, but 1 is not: nothing released yet
        w.end(1)
        await wait_for_async(lambda: len(w.released) == 3, 5, what="1, 2, 3 released")
        assert w.released == [[(1, 1)], [(1, 2)], [(1, 3)]]
        w.end(4)
        await wait_for_async(lambda: len(w.released) == 4, 5, what="4 released")


async def test_a_rewrite_waits_for_every_earlier_write(tmp_path: Path) -> None:
    """A parcel that rewrites a point (a corrected movement, an alert's new
    state) must reach InfluxDB after the writes before it, or the older
    answer could win."""
    async with _running(tmp_path, 3) as w:
        _parcel(w, 1)
        await wait_for_async(lambda: w.writing() == [1], 5, what="first write")
        _parcel(w, 2, ordered=True)
        _parcel(w, 3)
        # The writer has taken the rewrite and waits: neither it nor what came
        # after it started before the write ahead of it ended.
        await wait_for_async(lambda: w.pending == 1, 5, what="the rewrite taken")
        assert w.writing() == [1]
        w.end(1)
        # Then the rewrite goes, and the next parcel (no rewrite) beside it.
        await wait_for_async(lambda: w.writing() == [2, 3], 5, what="the rewrite and the next")
        w.end(3)
        w.end(2)
        await wait_for_async(lambda: len(w.released) == 3, 5, what="all released")
        assert w.released == [[(1, 1)], [(1, 2)], [(1, 3)]]


async def test_a_failed_write_is_spooled_and_released_in_its_turn(tmp_path: Path) -> None:
    async with _running(tmp_path, 3) as w:
        for k in (1, 2):
            _parcel(w, k)
        await wait_for_async(lambda: w.writing() == [1, 2], 5, what="two writes")
        w.end(2)
        w.end(1, ok=False)  # InfluxDB failed the first: it goes to the spool
        await wait_for_async(lambda: len(w.released) == 2, 5, what="both released")
        assert w.released == [[(1, 1)], [(1, 2)]]
        assert w.spool.points == 1
        # While the spool holds anything, new parcels join it (in order) instead
        # of overtaking it in InfluxDB.
        _parcel(w, 3)
        await wait_for_async(lambda: len(w.released) == 3, 5, what="3 spooled and released")
        assert w.spool.points == 2 and w.writing() == []


async def test_a_stop_writes_and_releases_everything_pending(tmp_path: Path) -> None:
    async with _running(tmp_path, 2) as w:
        for k in (1, 2, 3):
            _parcel(w, k)
        await wait_for_async(lambda: w.writing() == [1, 2], 5, what="two writes")
        w.stop.set()
        w.end(1)
        w.end(2)
        await wait_for_async(lambda: w.writing() == [3], 5, what="the last write, after the stop")
        w.end(3)
        await wait_for_async(lambda: len(w.released) == 3, 5, what="all released")
        assert w.released == [[(1, 1)], [(1, 2)], [(1, 3)]]


async def test_acknowledgements_without_points_wait_for_the_writes_before_them(
    tmp_path: Path,
) -> None:
    """A duplicate (no points) is acknowledged after the message it copies."""
    async with _running(tmp_path, 2) as w:
        _parcel(w, 1)
        await wait_for_async(lambda: w.writing() == [1], 5, what="first write")
        w.add([], [(1, 99)])
        await wait_for_async(lambda: w.in_flight == 2, 5, what="the acknowledgement queued")
        assert w.released == []
        w.end(1)
        await wait_for_async(lambda: len(w.released) == 2, 5, what="both released")
        assert w.released == [[(1, 1)], [(1, 99)]]


async def test_a_parcels_commit_runs_when_it_is_durable_before_its_acknowledgements(
    tmp_path: Path,
) -> None:
    """The alert state of a batch is saved with its points, not before: a
    crash while they are in flight leaves the state file as of the last
    durable batch (the broker resends the rest, judged from there)."""
    events: list[str] = []
    async with _running(tmp_path, 3) as w:
        w.on_durable = lambda acks, seen: events.append(f"ack {acks[0][1]}" if acks else "ack")
        for k in (1, 2):
            w.add([f"m,p={k} v=1 {1_764_000_000_000 + k}"], [(1, k)], [("d", "b", k)],
                  commit=lambda k=k: events.append(f"commit {k}"))  # fmt: skip
        await wait_for_async(lambda: w.writing() == [1, 2], 5, what="two writes")
        w.add([], [], commit=lambda: events.append("commit off-batch"))  # no points: in order too
        w.end(2)
        assert events == []  # 2 is written, but 1 is not: nothing saved, nothing acknowledged
        w.end(1, ok=False)  # spooled: durable as well
        await wait_for_async(lambda: len(events) == 6, 5, what="all committed and released")
        assert events == ["commit 1", "ack 1", "commit 2", "ack 2", "commit off-batch", "ack"]

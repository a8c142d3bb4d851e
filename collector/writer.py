"""From points to durable: InfluxDB when it answers, the disk spool when it does
not, and only then the MQTT acknowledgement.

Writes are pipelined: up to ``max_in_flight`` writes are with InfluxDB at
once, so that the collector turns the next messages into points while
InfluxDB stores the last ones (a single write at a time left both idle half
the time). Each ``add()`` is a parcel (points and the messages behind them); a
write takes whole parcels, oldest first, up to ``max_batch_points``.
Acknowledgements are released strictly in the order the parcels came, whatever
order the writes finish in (MQTT wants PUBACKs in order, and a message is
remembered as seen only once its points are durable).

Batching adapts to the load: when points arrive and nothing is in flight, they
are written after a short linger (``linger_s``, so that the rest of a socket
read joins them); while writes are in flight, new points gather and go in the
next write. If InfluxDB fails with a retryable error (down, 5xx, timeout), the
batch goes to the spool instead. While the spool holds anything, new batches
join it too; a drainer writes the spool back, oldest first, with backoff and
jitter. Either way, once the batch is durable, ``on_durable(acks, seen)``
releases its messages. A 4xx from InfluxDB (points refused as written) is
counted and logged: those points are not retried.

Concurrent writes may land in either order. That is harmless for new points
(each has its own series and time); a parcel that *rewrites* a point written
before (a movement a late level corrected, an alert's new state, a
calibration) is ``ordered``: it waits until every earlier write has finished,
so the newer answer is the one InfluxDB keeps.

The spool takes a batch in pieces of at most ``MAX_SPOOL_POINTS`` lines,
halved again while a piece is larger than the whole spool, so no batch is too
big for it. When the spool is full, acknowledgement waits (backpressure); a
stop ends that wait at once and leaves the batch unacknowledged, for the
broker to deliver again after the restart.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from gudang import logs
from gudang.collector.spool import Spool
from gudang.errors import StorageError
from gudang.influx import InfluxClient
from gudang.runtime import sleep_or_stop

__all__ = ["Acks", "DurableWriter", "Seen"]

log = logs.get("collector.writer")

Acks = list[tuple[int, int]]  # (connection generation, packet id)
Seen = list[tuple[str, str, int]]  # (device, boot, seq) of the messages behind the points
MAX_SPOOL_POINTS = 50_000  # lines per spool row: a few MiB compressed


@dataclass(slots=True)
class _Batch:
    """Points and the messages behind them: one parcel as added, or whole
    parcels taken together for one write and one release."""

    points: list[str] = field(default_factory=list)
    acks: Acks = field(default_factory=list)
    seen: Seen = field(default_factory=list)
    ordered: bool = False
    # State that becomes true with these points (the alert book as of this
    # parcel): saved when they are durable, before their messages are acknowledged.
    commits: list[Callable[[], None]] = field(default_factory=list)


class DurableWriter:
    def __init__(
        self,
        db: InfluxClient,
        spool: Spool,
        on_durable: Callable[[Acks, Seen], None],
        *,
        linger_s: float = 0.002,
        write_timeout_s: float = 5.0,
        max_in_flight: int = 3,
        max_batch_points: int = 30_000,
    ) -> None:
        self.db = db
        self.spool = spool
        self.on_durable = on_durable
        self.linger_s = linger_s
        self.write_timeout_s = write_timeout_s
        self.max_in_flight = max(1, max_in_flight)
        self.max_batch_points = max(1, max_batch_points)
        self._parcels: deque[_Batch] = deque()
        self._pending_points = 0
        # Writes with InfluxDB (or already settled, waiting for those before
        # them), oldest first: released in this order.
        self._in_flight: deque[tuple[asyncio.Future[bool], _Batch]] = deque()
        self._wake = asyncio.Event()
        self._spooled = asyncio.Event()
        # Set once InfluxDB answered and the database exists; until then every
        # batch goes straight to the spool (the collector ingests meanwhile).
        self.db_ready = asyncio.Event()
        self._waiting_logged = False
        self.points_written = 0
        self.batches_written = 0
        self.points_refused = 0
        self.write_errors = 0
        self.last_batch_points = 0
        self.last_write_s = 0.0

    @property
    def pending(self) -> int:
        """Points not yet handed to InfluxDB or the spool."""
        return self._pending_points

    @property
    def in_flight(self) -> int:
        """Batches handed over and not yet released (written or not)."""
        return len(self._in_flight)

    def add(
        self,
        points: list[str],
        acks: Acks,
        seen: Seen | None = None,
        *,
        ordered: bool = False,
        commit: Callable[[], None] | None = None,
    ) -> None:
        """Lines of line protocol, and the messages they come from. `ordered`:
        some line rewrites a point written before (see the module text).
        `commit`: called once these points are durable, before the
        acknowledgements (in order with every other parcel's)."""
        if not points and not acks and commit is None:
            return
        commits = [commit] if commit is not None else []
        self._parcels.append(_Batch(points, acks, seen or [], ordered and bool(points), commits))
        self._pending_points += len(points)
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        drainer = asyncio.create_task(self._drain(stop))
        stopping = asyncio.create_task(stop.wait())
        stopping.add_done_callback(lambda _: self._wake.set())
        try:
            while not stop.is_set():
                await self._wake.wait()  # set by add(), a finished write, and stop
                self._wake.clear()
                await self._settle(stop, only_done=True)
                if self._parcels:
                    if not self._in_flight:
                        await asyncio.sleep(self.linger_s)
                    await self._submit(stop)
            # What arrived before the stop (unless the spool is full: then it
            # stays unacknowledged).
            if await self._submit(stop):
                await self._settle(stop, only_done=False)
        finally:
            drainer.cancel()
            stopping.cancel()
            for task, _ in self._in_flight:  # only left when a stop met a full spool
                task.cancel()

    def _take(self) -> _Batch:
        """Whole parcels, oldest first, up to max_batch_points (at least one)."""
        batch = _Batch()
        while self._parcels:
            parcel = self._parcels[0]
            if batch.points and len(batch.points) + len(parcel.points) > self.max_batch_points:
                break
            if batch.points and parcel.ordered:
                break  # an ordered parcel starts its own batch (it waits for the others)
            self._parcels.popleft()
            self._pending_points -= len(parcel.points)
            batch.points += parcel.points
            batch.acks += parcel.acks
            batch.seen += parcel.seen
            batch.commits += parcel.commits
            batch.ordered = batch.ordered or parcel.ordered
        return batch

    def _writing(self) -> list[asyncio.Future[bool]]:
        return [f for f, _ in self._in_flight if not f.done()]

    def _direct(self) -> bool:
        return self.db_ready.is_set() and self.spool.empty

    async def _submit(self, stop: asyncio.Event) -> bool:
        """Hand every pending parcel to InfluxDB (up to max_in_flight writes)
        or to the spool, in order. False: stopped with the spool full (what
        is not yet durable stays unacknowledged, for the broker to send again)."""
        while self._parcels:
            batch = self._take()
            if not batch.points:
                self._in_flight.append((_done(), batch))  # released after those before it
                await self._settle(stop, only_done=True)
                continue
            # A rewrite waits for every earlier write: InfluxDB keeps the newer answer.
            if batch.ordered and not await self._settle(stop, only_done=False):
                return False  # stopped with the spool full: nothing more is released
            while len(writing := self._writing()) >= self.max_in_flight:
                await asyncio.wait(writing, return_when=asyncio.FIRST_COMPLETED)
                if not await self._settle(stop, only_done=True):
                    return False
            if self._direct():
                body = ("\n".join(batch.points) + "\n").encode()
                task = asyncio.ensure_future(self._try_write(body, len(batch.points)))
                task.add_done_callback(lambda _: self._wake.set())
                self._in_flight.append((task, batch))
                continue
            # Bound for the spool: after every earlier write, so it keeps the order too.
            if not await self._settle(stop, only_done=False):
                return False
            if not self.db_ready.is_set() and not self._waiting_logged:
                self._waiting_logged = True
                log.info("spooling_until_influx_ready", points=len(batch.points))
            if not await self._spool_batch(batch, stop):
                return False
            self._durable(batch)
        return True

    def _durable(self, batch: _Batch) -> None:
        for commit in batch.commits:
            commit()
        self.on_durable(batch.acks, batch.seen)

    async def _settle(self, stop: asyncio.Event, *, only_done: bool) -> bool:
        """Release finished writes in order (every one unless `only_done`:
        then only those at the head that have finished). False: stopped with
        the spool full."""
        while self._in_flight and (not only_done or self._in_flight[0][0].done()):
            if not await self._settle_one(stop):
                return False
        return True

    async def _settle_one(self, stop: asyncio.Event) -> bool:
        """The oldest write: released once written, or spooled if it failed."""
        task, batch = self._in_flight[0]
        try:
            written = await asyncio.shield(task)
        except Exception as exc:  # a bug in writing: keep the points all the same
            log.exception("write_crashed_spooling", points=len(batch.points), error=repr(exc))
            written = False
        if not written and not await self._spool_batch(batch, stop):
            return False
        self._in_flight.popleft()
        self._durable(batch)
        return True

    async def _spool_batch(self, batch: _Batch, stop: asyncio.Event) -> bool:
        if await self._spool(batch.points, stop):
            return True
        # Not acknowledged: the broker delivers these messages again after the restart.
        log.warning("stopped_with_spool_full", points=len(batch.points),
                    messages=len(batch.acks))  # fmt: skip
        return False

    async def _spool(self, points: list[str], stop: asyncio.Event) -> bool:
        """Put every point in the spool, in order; False if a stop came first."""
        pieces = [points[i : i + MAX_SPOOL_POINTS] for i in range(0, len(points), MAX_SPOOL_POINTS)]
        while pieces:
            piece = pieces[0]
            pushed = self.spool.push(("\n".join(piece) + "\n").encode(), len(piece))
            if pushed == "stored":
                pieces.pop(0)
                self._spooled.set()
            elif pushed == "too_big" and len(piece) > 1:
                half = len(piece) // 2
                pieces[0:1] = [piece[:half], piece[half:]]
            elif pushed == "too_big":
                # One line larger than the whole spool: it can never be kept.
                self.points_refused += 1
                log.error("spool_line_too_large", bytes=len(piece[0]),
                          max_bytes=self.spool.max_bytes)  # fmt: skip
                pieces.pop(0)
            else:
                # Full: stop acknowledging; the broker keeps the messages for us.
                log.error("spool_full", bytes=self.spool.bytes, max_bytes=self.spool.max_bytes)
                if stop.is_set() or await sleep_or_stop(stop, 1.0):
                    return False
        return True

    async def _try_write(self, body: bytes, points: int) -> bool:
        started = time.perf_counter()
        try:
            await asyncio.wait_for(self.db.write_lines(body), self.write_timeout_s)
        except (StorageError, TimeoutError) as exc:
            self.write_errors += 1
            retryable = not isinstance(exc, StorageError) or exc.retryable
            if not retryable:
                self.points_refused += points
                log.error("write_refused", points=points, error=str(exc))
                return True  # retrying can not help; the messages are released
            log.warning("write_failed_spooling", points=points, error=str(exc) or "timeout")
            return False
        self.last_write_s = time.perf_counter() - started
        self.last_batch_points = points
        self.points_written += points
        self.batches_written += 1
        return True

    async def _drain(self, stop: asyncio.Event) -> None:
        backoff = 0.5
        await self.db_ready.wait()
        while True:
            if self.spool.empty:
                self._spooled.clear()
                await self._spooled.wait()
                continue
            oldest = self.spool.oldest()
            if oldest is None:
                continue
            row_id, body, points = oldest
            if await self._try_write(body, points):
                self.spool.remove(row_id)
                backoff = 0.5
                if self.spool.batches == 0:  # (not .empty: mypy holds it False from above)
                    log.info("spool_drained", points_written=self.points_written)
                continue
            await asyncio.sleep(backoff * random.uniform(0.5, 1.5))
            backoff = min(backoff * 2, 30.0)


def _done() -> asyncio.Future[bool]:
    fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    fut.set_result(True)
    return fut

"""From points to durable: InfluxDB when it answers, the disk spool when it does
not, and only then the MQTT acknowledgement.

Batching adapts to the load: when points arrive and no write is in flight,
they are written after a short linger (``linger_s``, so that the rest of a
socket read joins them); while a write is in flight, new points gather and go
in the next write. A quiet site gets low latency, a busy one large batches,
with no fixed delay to tune. If InfluxDB fails with a retryable error (down,
5xx, timeout), the batch goes to the spool instead. While the spool holds anything,
new batches join it too, so that InfluxDB receives everything in order; a
drainer writes the spool back, oldest first, with backoff and jitter. Either
way, once the batch is durable, ``on_durable(acks, seen)`` releases its
messages (and lets the collector remember them as seen).
A 4xx from InfluxDB (points refused as written) is counted and logged: those
points are not retried.

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
from collections.abc import Callable

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


class DurableWriter:
    def __init__(
        self,
        db: InfluxClient,
        spool: Spool,
        on_durable: Callable[[Acks, Seen], None],
        *,
        linger_s: float = 0.002,
        write_timeout_s: float = 5.0,
    ) -> None:
        self.db = db
        self.spool = spool
        self.on_durable = on_durable
        self.linger_s = linger_s
        self.write_timeout_s = write_timeout_s
        self._points: list[str] = []
        self._acks: Acks = []
        self._seen: Seen = []
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
        return len(self._points)

    def add(self, points: list[str], acks: Acks, seen: Seen | None = None) -> None:
        """Lines of line protocol, and the messages they come from."""
        if not points and not acks:
            return
        self._points.extend(points)
        self._acks.extend(acks)
        if seen:
            self._seen.extend(seen)
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        drainer = asyncio.create_task(self._drain(stop))
        stopping = asyncio.create_task(stop.wait())
        stopping.add_done_callback(lambda _: self._wake.set())
        try:
            while not stop.is_set():
                await self._wake.wait()  # set by add(), and by stop
                self._wake.clear()
                await asyncio.sleep(self.linger_s)
                await self._flush_once(stop)  # points added meanwhile wake the next round
            await self._flush_once(stop)  # what arrived before the stop
        finally:
            drainer.cancel()
            stopping.cancel()

    async def _flush_once(self, stop: asyncio.Event) -> None:
        if not self._points and not self._acks:
            return
        # Everything pending goes in one batch, so that no acknowledgement is
        # released ahead of its points (a burst makes one larger write).
        points, acks, seen = self._points, self._acks, self._seen
        self._points, self._acks, self._seen = [], [], []
        body = ("\n".join(points) + "\n").encode() if points else b""
        if (
            body
            and self.db_ready.is_set()
            and self.spool.empty
            and await self._try_write(body, len(points))
        ):
            self.on_durable(acks, seen)
            return
        if points and not self.db_ready.is_set() and not self._waiting_logged:
            self._waiting_logged = True
            log.info("spooling_until_influx_ready", points=len(points))
        if points and not await self._spool(points, stop):
            log.warning("stopped_with_spool_full", points=len(points), messages=len(acks))
            return  # not acknowledged: the broker delivers them again after the restart
        self.on_durable(acks, seen)

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

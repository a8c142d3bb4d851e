"""Batches points into InfluxDB writes: by size and by time, retried with backoff.

A batch leaves the buffer only after InfluxDB accepted it. Retryable failures
(connection refused, 5xx such as 1.6's "engine: error syncing wal") keep the
batch and retry with exponential backoff and jitter; a 4xx answer means the
points themselves are refused, which is logged and counted, not retried.
"""

from __future__ import annotations

import asyncio
import random
import time

from gudang import logs
from gudang.errors import StorageError
from gudang.influx import InfluxClient, Point
from gudang.runtime import sleep_or_stop

__all__ = ["BatchWriter"]

log = logs.get("collector.writer")


class BatchWriter:
    def __init__(
        self,
        db: InfluxClient,
        *,
        max_points: int = 5000,
        max_delay_s: float = 0.2,
        max_backoff_s: float = 30.0,
    ) -> None:
        self.db = db
        self.max_points = max_points
        self.max_delay_s = max_delay_s
        self.max_backoff_s = max_backoff_s
        self._buffer: list[Point] = []
        self._first_at: float | None = None
        self._wake = asyncio.Event()
        self.points_written = 0
        self.batches_written = 0
        self.points_refused = 0
        self.write_errors = 0

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def add(self, points: list[Point]) -> None:
        if not points:
            return
        if not self._buffer:
            self._first_at = time.monotonic()
        self._buffer.extend(points)
        if len(self._buffer) >= self.max_points:
            self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            timeout = self.max_delay_s
            if self._first_at is not None:
                timeout = max(0.0, self._first_at + self.max_delay_s - time.monotonic())
            await sleep_or_stop(self._wake, timeout)  # woken early by a full batch
            self._wake.clear()
            if self._buffer:
                await self._write_batch(stop)
        await self.flush(deadline_s=10.0)

    async def flush(self, deadline_s: float = 10.0) -> None:
        """Write everything buffered, retrying until `deadline_s` has passed."""
        give_up = asyncio.Event()
        loop = asyncio.get_running_loop()
        handle = loop.call_later(deadline_s, give_up.set)
        try:
            while self._buffer and not give_up.is_set():
                await self._write_batch(give_up)
        finally:
            handle.cancel()
        if self._buffer:
            log.error("flush_incomplete", points=len(self._buffer))

    async def _write_batch(self, stop: asyncio.Event) -> None:
        batch = self._buffer[: self.max_points]
        backoff = 0.2
        while True:
            started = time.perf_counter()
            try:
                await self.db.write(batch)
            except StorageError as exc:
                self.write_errors += 1
                if not exc.retryable:
                    self.points_refused += len(batch)
                    log.error("write_refused", points=len(batch), error=str(exc))
                    break
                log.warning("write_retry", points=len(batch), error=str(exc), retry_in_s=backoff)
                if await sleep_or_stop(stop, backoff * random.uniform(0.5, 1.5)):
                    return  # stopping: the batch stays buffered for flush()
                backoff = min(backoff * 2, self.max_backoff_s)
                continue
            self.points_written += len(batch)
            self.batches_written += 1
            log.debug(
                "write_ok", points=len(batch), ms=round((time.perf_counter() - started) * 1e3, 1)
            )
            break
        del self._buffer[: len(batch)]
        self._first_at = time.monotonic() if self._buffer else None

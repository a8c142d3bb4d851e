"""A simulated scale: a load model streaming A&D continuous lines to a port."""

from __future__ import annotations

import asyncio
import os
import time

from gudang.sim.ad_continuous import encode_display
from gudang.sim.ports import SimPort
from gudang.sim.scale_model import LoadModel

from gudang.runtime import sleep_or_stop

__all__ = ["SimScale"]


class SimScale:
    def __init__(self, device_id: str, model: LoadModel, port: SimPort, rate_hz: float = 10.0):
        self.device_id = device_id
        self.model = model
        self.port = port
        self.rate_hz = rate_hz
        self.frames_sent = 0
        self._pending_garbage = b""
        self._corrupt_next = 0

    def inject_garbage(self, n: int) -> None:
        self._pending_garbage += os.urandom(n)

    def corrupt_next(self, n: int) -> None:
        """Damage the next n frames (a flipped byte), as electrical noise does."""
        self._corrupt_next += n

    async def run(self, stop: asyncio.Event) -> None:
        await self.port.open()
        period = 1.0 / self.rate_hz
        next_at = time.monotonic()
        try:
            while not stop.is_set():
                frame = encode_display(self.model.display(time.monotonic()), self.model.division)
                if self._corrupt_next:
                    self._corrupt_next -= 1
                    frame = frame[:3] + b"\x7f" + frame[4:]
                if self._pending_garbage:
                    frame = self._pending_garbage + frame
                    self._pending_garbage = b""
                self.port.write(frame)
                self.frames_sent += 1
                next_at += period
                delay = next_at - time.monotonic()
                if delay < -1.0:  # fell far behind (suspended): do not burst to catch up
                    next_at = time.monotonic()
                await sleep_or_stop(stop, delay)
        finally:
            await self.port.close()

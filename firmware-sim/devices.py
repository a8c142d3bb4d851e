"""Simulated devices: what each one sends, on which port, and the faults it can show."""

from __future__ import annotations

import asyncio
import os
import time

from gudang.runtime import sleep_or_stop
from gudang.sim.ad_continuous import encode_display
from gudang.sim.mt_sics import MtSicsResponder
from gudang.sim.ports import SimPort
from gudang.sim.rfid import Rdm6300Emitter, UhfResponder
from gudang.sim.scale_model import LoadModel
from gudang.sim.toledo import encode_frame, with_even_parity

__all__ = [
    "PolledScale",
    "Rdm6300Reader",
    "SimDevice",
    "SimReader",
    "SimScale",
    "StreamScale",
    "UhfReader",
]


class SimDevice:
    def __init__(self, device_id: str, port: SimPort) -> None:
        self.device_id = device_id
        self.port = port
        self.frames_sent = 0
        self.corrupt_next = 0

    def write(self, data: bytes) -> None:
        self.port.write(data)
        self.frames_sent += 1

    def inject_garbage(self, n: int) -> None:
        self.port.write(os.urandom(n))

    def corrupt(self, n: int) -> None:
        """Damage the next n frames (checksum, or a flipped byte where there is none)."""
        self.corrupt_next += n

    def _take_corrupt(self) -> bool:
        if self.corrupt_next:
            self.corrupt_next -= 1
            return True
        return False

    async def serve(self, stop: asyncio.Event) -> None:
        raise NotImplementedError

    async def run(self, stop: asyncio.Event) -> None:
        await self.port.open()
        try:
            await self.serve(stop)
        finally:
            await self.port.close()


class SimScale(SimDevice):
    def __init__(self, device_id: str, port: SimPort, model: LoadModel) -> None:
        super().__init__(device_id, port)
        self.model = model


class StreamScale(SimScale):
    """A&D-style lines or Toledo frames, `rate_hz` samples a second, listened to or not."""

    def __init__(
        self,
        device_id: str,
        port: SimPort,
        model: LoadModel,
        protocol: str,
        *,
        rate_hz: float = 10.0,
        checksum: bool = True,
    ) -> None:
        super().__init__(device_id, port, model)
        self.protocol = protocol
        self.rate_hz = rate_hz
        self.checksum = checksum

    def encode(self, now: float) -> bytes:
        d = self.model.display(now)
        if self.protocol == "toledo-continuous":
            frame = encode_frame(d, self.model.division, checksum=self.checksum)
            if self._take_corrupt():
                frame = (
                    frame[:-1] + bytes([(frame[-1] + 1) & 0x7F])
                    if self.checksum
                    else frame[:5] + b"X" + frame[6:]
                )
            # Toledo continuous output is 7E1: the parity bit rides in bit 7.
            return with_even_parity(frame)
        frame = encode_display(d, self.model.division)
        if self._take_corrupt():
            frame = frame[:3] + b"\x7f" + frame[4:]
        return frame

    async def serve(self, stop: asyncio.Event) -> None:
        period = 1.0 / self.rate_hz
        next_at = time.monotonic()
        while not stop.is_set():
            self.write(self.encode(time.monotonic()))
            next_at += period
            delay = next_at - time.monotonic()
            if delay < -1.0:  # fell far behind (suspended): do not burst to catch up
                next_at = time.monotonic()
            await sleep_or_stop(stop, delay)


class PolledScale(SimScale):
    """An MT-SICS balance: silent until asked."""

    def __init__(self, device_id: str, port: SimPort, model: LoadModel) -> None:
        super().__init__(device_id, port, model)
        self.responder = MtSicsResponder(model, self._answer)
        port.receiver = self.responder.receive

    def _answer(self, data: bytes) -> None:
        if self._take_corrupt():
            data = data[:2] + b"\xff" + data[3:]
        self.write(data)

    async def serve(self, stop: asyncio.Event) -> None:
        await self.responder.run(stop)


class SimReader(SimDevice):
    reader: Rdm6300Emitter | UhfResponder

    def corrupt(self, n: int) -> None:
        self.reader.corrupt_next += n


class Rdm6300Reader(SimReader):
    def __init__(self, device_id: str, port: SimPort, miss_rate: float, seed: int) -> None:
        super().__init__(device_id, port)
        self.reader = Rdm6300Emitter(self.write, miss_rate, seed)

    async def serve(self, stop: asyncio.Event) -> None:
        await self.reader.run(stop)


class UhfReader(SimReader):
    def __init__(self, device_id: str, port: SimPort, miss_rate: float, seed: int) -> None:
        super().__init__(device_id, port)
        self.reader = UhfResponder(self.write, miss_rate, seed)
        port.receiver = self.reader.receive

    async def serve(self, stop: asyncio.Event) -> None:
        await self.reader.run(stop)

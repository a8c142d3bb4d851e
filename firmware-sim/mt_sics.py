"""Device side of MT-SICS, from the manual: answers S, SI, Z, T and @ like a balance.

- ``SI``: ``S S`` when stable, ``S D`` in motion, ``S +`` / ``S -`` out of range.
- ``S``: waits up to ``stable_timeout_s`` for a stable value, else ``S I``.
- ``Z``: ``Z A`` within the zero range (2 % of capacity around the power-up
  zero), ``Z +`` / ``Z -`` outside it, ``Z I`` in motion.
- ``T``: ``T S <tare> <unit>`` (display then shows net), ``T I`` in motion,
  ``T +`` overload, ``T -`` for a negative weight.
- ``@``: ``I4 A "<serial>"``, clears the tare.
- Anything else: ``ES``; a byte that is not 7-bit ASCII: ``ET``; after the
  ``refuse`` control operation: ``EL`` once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from gudang.sim.scale_model import Display, LoadModel, decimals_for

__all__ = ["MtSicsResponder"]


class MtSicsResponder:
    def __init__(
        self,
        model: LoadModel,
        write: Callable[[bytes], None],
        serial: str = "B123456789",
        stable_timeout_s: float = 1.5,
    ) -> None:
        self.model = model
        self.write = write
        self.serial = serial
        self.stable_timeout_s = stable_timeout_s
        self.zero = 0.0
        self.tare = 0.0
        self.refuse_next = 0
        self.answered = 0
        self._buf = bytearray()
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()

    def receive(self, data: bytes) -> None:
        self._buf += data
        while (end := self._buf.find(b"\n")) >= 0:
            line = bytes(self._buf[:end]).rstrip(b"\r")
            del self._buf[: end + 1]
            self._queue.put_nowait(line)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                line = await asyncio.wait_for(self._queue.get(), 0.2)
            except TimeoutError:
                continue
            self.write(await self.answer(line))
            self.answered += 1

    def _shown(self, now: float) -> Display:
        d = self.model.display(now)
        if d.weight is None:
            return d
        places = decimals_for(self.model.division)
        return Display(round(d.weight - self.zero - self.tare, places), d.stable, d.state)

    def _number(self, value: float) -> str:
        return f"{value:>10.{decimals_for(self.model.division)}f}"

    async def answer(self, line: bytes) -> bytes:
        if any(b > 0x7F for b in line):
            return b"ET\r\n"
        if self.refuse_next:
            self.refuse_next -= 1
            return b"EL\r\n"
        command = line.decode("ascii").strip()
        now = time.monotonic()
        d = self._shown(now)
        match command:
            case "SI":
                if d.state != "ok":
                    return b"S +\r\n" if d.state == "overload" else b"S -\r\n"
                return f"S {'S' if d.stable else 'D'} {self._number(d.weight or 0)} kg\r\n".encode()
            case "S":
                deadline = now + self.stable_timeout_s
                while not d.stable and d.state == "ok" and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                    d = self._shown(time.monotonic())
                if d.state != "ok":
                    return b"S +\r\n" if d.state == "overload" else b"S -\r\n"
                if not d.stable:
                    return b"S I\r\n"
                return f"S S {self._number(d.weight or 0)} kg\r\n".encode()
            case "Z":
                if not d.stable or d.weight is None:
                    return b"Z I\r\n"
                gross = d.weight + self.zero + self.tare
                band = 0.02 * self.model.capacity_kg
                if gross > band:
                    return b"Z +\r\n"
                if gross < -band:
                    return b"Z -\r\n"
                self.zero, self.tare = gross, 0.0
                return b"Z A\r\n"
            case "T":
                if d.state == "overload":
                    return b"T +\r\n"
                if not d.stable or d.weight is None:
                    return b"T I\r\n"
                if d.weight + self.tare < 0:
                    return b"T -\r\n"
                self.tare += d.weight
                return f"T S {self._number(self.tare)} kg\r\n".encode()
            case "@":
                self.tare = 0.0
                return f'I4 A "{self.serial}"\r\n'.encode()
        return b"ES\r\n"

"""Device side of the RFID readers, from the manuals (independent of the edge).

- RDM6300 / EM4100: ``STX + 10 hex + XOR checksum (2 hex) + ETX`` repeated every
  ~65 ms for each tag in the field, unasked.
- UHF M100/R200: ``BB type cmd PL data checksum 7E``; answers a single poll
  (22) with one notification per tag read (RSSI, PC, EPC, CRC-16) or the
  no-tag error ``BB 01 FF 00 01 15 16 7E``, runs N inventory rounds for a
  multi-poll (27), and stops on 28 (``BB 01 28 00 01 00 2A 7E``).

Near steel, reads are missed: ``miss_rate`` is the chance a tag is not read
in one repetition or inventory round.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["FieldTag", "Rdm6300Emitter", "UhfResponder", "rdm6300_frame", "uhf_frame"]


@dataclass
class FieldTag:
    tag: str
    antenna: int = 0
    rssi: int = -55


def rdm6300_frame(tag: str, *, corrupt: bool = False) -> bytes:
    check = 0
    for byte in bytes.fromhex(tag):
        check ^= byte
    if corrupt:
        check ^= 0x5A
    return b"\x02" + tag.upper().encode() + f"{check:02X}".encode() + b"\x03"


def uhf_frame(type_: int, cmd: int, data: bytes = b"", *, corrupt: bool = False) -> bytes:
    body = bytes([type_, cmd, len(data) >> 8, len(data) & 0xFF]) + data
    check = (sum(body) + (0x33 if corrupt else 0)) & 0xFF
    return b"\xbb" + body + bytes([check, 0x7E])


def _crc16(data: bytes) -> int:
    # Written again on purpose, not imported: the simulator is an independent
    # reading of the Gen2 spec (CRC-16, poly 0x1021, preset and final xor 0xFFFF).
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc ^ 0xFFFF


def _notification(t: FieldTag, corrupt: bool) -> bytes:
    epc = bytes.fromhex(t.tag)
    pc = (len(epc) // 2) << 11
    pc_epc = pc.to_bytes(2, "big") + epc
    data = bytes([t.rssi & 0xFF]) + pc_epc + _crc16(pc_epc).to_bytes(2, "big")
    return uhf_frame(0x02, 0x22, data, corrupt=corrupt)


class _Reader:
    def __init__(self, write: Callable[[bytes], None], miss_rate: float, seed: int) -> None:
        self.write = write
        self.miss_rate = miss_rate
        self.field: dict[str, FieldTag] = {}
        self.corrupt_next = 0
        self._rng = random.Random(seed)

    def _corrupt(self) -> bool:
        if self.corrupt_next:
            self.corrupt_next -= 1
            return True
        return False

    def _read(self) -> list[FieldTag]:
        return [t for t in self.field.values() if self._rng.random() >= self.miss_rate]


class Rdm6300Emitter(_Reader):
    period_s = 0.065

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            for t in self._read():
                self.write(rdm6300_frame(t.tag, corrupt=self._corrupt()))
            await asyncio.sleep(self.period_s)

    def receive(self, data: bytes) -> None:
        """Transmit-only: anything sent to the reader is ignored."""


class UhfResponder(_Reader):
    round_s = 0.05

    def __init__(self, write: Callable[[bytes], None], miss_rate: float, seed: int) -> None:
        super().__init__(write, miss_rate, seed)
        self._buf = bytearray()
        self._rounds = 0

    def receive(self, data: bytes) -> None:
        self._buf += data
        while (start := self._buf.find(0xBB)) >= 0:
            del self._buf[:start]
            if len(self._buf) < 7:
                return
            size = 7 + ((self._buf[3] << 8) | self._buf[4])
            if len(self._buf) < size:
                return
            frame = bytes(self._buf[:size])
            del self._buf[:size]
            self._command(frame)

    def _inventory(self) -> None:
        tags = self._read()
        if not tags:
            self.write(uhf_frame(0x01, 0xFF, b"\x15", corrupt=self._corrupt()))
        for t in tags:
            self.write(_notification(t, self._corrupt()))

    def _command(self, f: bytes) -> None:
        if f[-1] != 0x7E or sum(f[1:-2]) & 0xFF != f[-2] or f[1] != 0x00:
            self.write(uhf_frame(0x01, 0xFF, b"\x17"))  # invalid command
            return
        cmd, data = f[2], f[5:-2]
        if cmd == 0x22:
            self._inventory()
        elif cmd == 0x27 and len(data) == 3:
            self._rounds = (data[1] << 8) | data[2]
        elif cmd == 0x28:
            self._rounds = 0
            self.write(uhf_frame(0x01, 0x28, b"\x00"))
        else:
            self.write(uhf_frame(0x01, 0xFF, b"\x17"))

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if self._rounds:
                self._rounds -= 1
                self._inventory()
            await asyncio.sleep(self.round_s)

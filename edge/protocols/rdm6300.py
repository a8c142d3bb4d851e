"""RDM6300 / EM4100 125 kHz readers: unsolicited 14-byte frames, 9600 8N1.

    STX  V V  I I I I I I I I  C C  ETX
    02   version/customer + card id (10 ASCII hex)  XOR of the 5 data bytes (2 ASCII hex)  03

The reader repeats the frame about every 65 ms while a tag is in the field;
presence (arrived / departed) is decided by ``gudang.edge.presence``.
"""

from __future__ import annotations

from gudang.edge.protocols.base import DecoderStats, TagRead

__all__ = ["Rdm6300Decoder"]

STX, ETX = 0x02, 0x03
SIZE = 14
_HEX = frozenset(b"0123456789ABCDEFabcdef")


class Rdm6300Decoder:
    def __init__(self) -> None:
        self._buf = bytearray()
        self.stats = DecoderStats()

    def feed(self, data: bytes) -> None:
        self._buf += data

    def next_frame(self) -> TagRead | None:
        while True:
            start = self._buf.find(STX)
            if start < 0:
                if self._buf:
                    self._buf.clear()
                    self.stats.resyncs += 1
                return None
            if start > 0:
                del self._buf[:start]
                self.stats.resyncs += 1
            if len(self._buf) < SIZE:
                return None
            frame = bytes(self._buf[:SIZE])
            tag = self._parse(frame)
            if tag is None:
                del self._buf[:1]
                continue
            del self._buf[:SIZE]
            self.stats.frames_ok += 1
            return TagRead(tag)

    def _parse(self, f: bytes) -> str | None:
        body = f[1:13]
        if f[13] != ETX or not all(b in _HEX for b in body):
            self.stats.bad("malformed")
            return None
        data = bytes.fromhex(body[:10].decode("ascii"))
        check = int(body[10:12], 16)
        x = 0
        for b in data:
            x ^= b
        if x != check:
            self.stats.bad("checksum")
            return None
        return body[:10].decode("ascii").upper()

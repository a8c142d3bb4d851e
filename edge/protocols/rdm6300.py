"""RDM6300 / EM4100 125 kHz readers: unsolicited 14-byte frames, 9600 8N1.

    STX  V V  I I I I I I I I  C C  ETX
    02   version/customer + card id (10 ASCII hex)  XOR of the 5 data bytes (2 ASCII hex)  03

The reader repeats the frame about every 65 ms while a tag is in the field;
presence (arrived / departed) is decided by ``gudang.edge.presence``.
"""

from __future__ import annotations

from gudang.edge.protocols.base import TagRead
from gudang.edge.protocols.framing import StartByteDecoder

__all__ = ["Rdm6300Decoder"]

STX, ETX = 0x02, 0x03
SIZE = 14
_HEX = frozenset(b"0123456789ABCDEFabcdef")


class Rdm6300Decoder(StartByteDecoder[TagRead]):
    start = STX

    def frame_size(self, buf: bytearray) -> int | None:
        return SIZE

    def parse_frame(self, f: bytes) -> TagRead | None:
        tag = self._tag(f)
        return TagRead(tag) if tag is not None else None

    def _tag(self, f: bytes) -> str | None:
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

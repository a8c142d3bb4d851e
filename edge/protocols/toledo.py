"""Toledo continuous output: fixed 18-byte frames, unsolicited.

    STX SWA SWB SWC  W W W W W W  T T T T T T  CR  CHK
    02                weight (6)   tare (6)    0D   two's complement (7-bit)
                                                    of the sum of all bytes before it

- SWA bits 0-2: decimal point (0 = XXXX00, 1 = XXXXX0, 2 = XXXXXX, 3 = XXXXX.X,
  4 = XXXX.XX, 5 = XXX.XXX, 6 = XX.XXXX, 7 = X.XXXXX).
- SWB bit 0 net / gross, bit 1 negative, bit 2 out of range, bit 3 motion,
  bit 4 kg / lb; bit 5 varies by vendor and is ignored.
- On a 7E1 line read as 8N1 the parity lands in bit 7: every byte is masked
  with 0x7F first, so the same decoder serves both line settings.

Resynchronisation: anything that is not a valid frame starting at an STX is
skipped up to the next STX. With ``checksum=False`` the frame is 17 bytes.
"""

from __future__ import annotations

from typing import Literal

from gudang.edge.protocols.base import ScaleFrame, ScaleState
from gudang.edge.protocols.framing import StartByteDecoder

__all__ = ["ToledoDecoder"]

STX, CR = 0x02, 0x0D
_SCALE = {0: 100, 1: 10, 2: 1, 3: 0.1, 4: 0.01, 5: 0.001, 6: 0.0001, 7: 0.00001}
_DECIMALS = {0: 0, 1: 0, 2: 0, 3: 1, 4: 2, 5: 3, 6: 4, 7: 5}


class ToledoDecoder(StartByteDecoder[ScaleFrame]):
    start = STX

    def __init__(self, checksum: bool = True) -> None:
        super().__init__()
        self.checksum = checksum
        self.size = 18 if checksum else 17

    def prepare(self, data: bytes) -> bytes:
        return bytes(b & 0x7F for b in data)  # 7E1 read as 8N1: drop the parity bit

    def frame_size(self, buf: bytearray) -> int | None:
        return self.size

    def parse_frame(self, f: bytes) -> ScaleFrame | None:
        if f[16] != CR:
            self.stats.bad("no CR")
            return None
        if self.checksum and sum(f) % 128 != 0:
            self.stats.bad("checksum")
            return None
        swa, swb = f[1], f[2]
        digits, tare_digits = f[4:10], f[10:16]
        if not (digits.replace(b" ", b"0").isdigit() and tare_digits.replace(b" ", b"0").isdigit()):
            self.stats.bad("digits")
            return None
        code = swa & 0x07
        scale, places = _SCALE[code], _DECIMALS[code]
        weight = round(int(digits.replace(b" ", b"0")) * scale, places)
        tare = round(int(tare_digits.replace(b" ", b"0")) * scale, places)
        unit = "kg" if swb & 0x10 else "lb"
        mode: Literal["gross", "net"] = "net" if swb & 0x01 else "gross"
        negative = bool(swb & 0x02)
        if swb & 0x04:
            state: ScaleState = "underload" if negative else "overload"
            return ScaleFrame(None, unit, mode, stable=False, state=state, tare=tare)
        return ScaleFrame(
            -weight if negative else weight, unit, mode, stable=not swb & 0x08, tare=tare
        )

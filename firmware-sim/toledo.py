"""Device side of Toledo continuous output, from the manual (independent of the edge).

18 bytes: STX, status words A B C, six weight digits, six tare digits, CR, and
a checksum that makes the 7-bit sum of the whole frame 0 mod 128. On a 7E1
line the eighth bit of every byte carries even parity.
"""

from __future__ import annotations

from gudang.sim.scale_model import Display, decimals_for

__all__ = ["encode_frame", "with_even_parity"]

# decimal places -> SWA code (bits 0-2); 2 = no decimal point
_CODE = {0: 2, 1: 3, 2: 4, 3: 5, 4: 6, 5: 7}


def encode_frame(d: Display, division: float, tare: float = 0.0, *, checksum: bool = True) -> bytes:
    places = min(decimals_for(division), 5)
    swa = 0x20 | _CODE[places]  # bit 5 is always set
    weight = d.weight if d.weight is not None else 0.0
    swb = 0x20 | 0x10  # always-one bit, kg
    if tare:
        swb |= 0x01
    if weight < 0:
        swb |= 0x02
    if d.state != "ok":
        swb |= 0x04 | (0x02 if d.state == "underload" else 0)
    if not d.stable:
        swb |= 0x08
    scale = 10**places
    digits = f"{min(round(abs(weight) * scale), 999_999):06d}"
    tare_digits = f"{min(round(abs(tare) * scale), 999_999):06d}"
    body = bytes([0x02, swa, swb, 0x20]) + digits.encode() + tare_digits.encode() + b"\r"
    if checksum:
        body += bytes([(-sum(b & 0x7F for b in body)) & 0x7F])
    return body


def with_even_parity(frame: bytes) -> bytes:
    """The bytes as a 7E1 line delivers them to an 8N1 reader."""
    return bytes(b | 0x80 if bin(b).count("1") % 2 else b for b in frame)

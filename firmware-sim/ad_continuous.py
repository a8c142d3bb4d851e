r"""Device side of the A&D-style continuous output, written from the manual.

``ST,GS,+0012.34kg\r\n``: stability header (ST stable, US in motion, OL out of
range), GS gross, an 8-character signed, zero-padded number, the unit, CR LF.
Independent of the edge's decoder on purpose (two readings of one manual).
"""

from __future__ import annotations

from gudang.sim.scale_model import Display, decimals_for

__all__ = ["encode_display"]


def encode_display(d: Display, division: float, unit: str = "kg") -> bytes:
    if d.state != "ok" or d.weight is None:
        sign = "-" if d.state == "underload" else "+"
        return f"OL,GS,{sign}9999999{unit}\r\n".encode("ascii")
    header = "ST" if d.stable else "US"
    sign = "-" if d.weight < 0 else "+"
    number = f"{abs(d.weight):0{7}.{decimals_for(division)}f}"
    return f"{header},GS,{sign}{number}{unit}\r\n".encode("ascii")

r"""A&D-style continuous ASCII output, the common indicator stream format.

One line per sample, unsolicited, CR LF terminated::

    ST,GS,+0012.34kg\r\n
    |  |  |       |
    |  |  |       unit: kg, g, t, lb, pc ... (letters, may be space padded)
    |  |  number: sign (+, - or space) then digits, spaces and one decimal point
    |  GS gross, NT net, TR tare
    ST stable, US unstable (in motion), OL out of range, QT stable count

Out of range (``OL``) lines may carry spaces or ``+999999.9`` as digits; the
sign tells overload (+) from underload (-). Lines are resynchronised on LF, and
a line longer than ``MAX_LINE`` without one is discarded as noise.
"""

from __future__ import annotations

import re

from gudang.edge.protocols.base import ScaleFrame
from gudang.edge.protocols.framing import LineDecoder

__all__ = ["MAX_LINE", "AdContinuousDecoder"]

MAX_LINE = 64

_LINE = re.compile(
    rb"^(?P<h1>ST|US|OL|QT),(?P<h2>GS|NT|TR),"
    rb"(?P<sign>[+\- ])(?P<num>[0-9. ]{1,10})(?P<unit>[A-Za-z% ]{0,4})$"
)
_MODES = {b"GS": "gross", b"NT": "net", b"TR": "tare"}


class AdContinuousDecoder(LineDecoder[ScaleFrame]):
    """Bytes in, ScaleFrame out; see the module docstring for the line format."""

    max_line = MAX_LINE

    def parse_line(self, raw: bytes) -> ScaleFrame | None:
        # Leading noise (a partial line after connecting) before the header.
        start = max(raw.rfind(h) for h in (b"ST,", b"US,", b"OL,", b"QT,"))
        if start > 0:
            self.stats.resyncs += 1
            raw = raw[start:]
        m = _LINE.match(raw)
        if m is None:
            self.stats.bad("malformed")
            return None
        unit = m["unit"].strip().decode("ascii")
        mode = _MODES[m["h2"]]
        digits = m["num"].replace(b" ", b"")
        if m["h1"] == b"OL":
            state = "underload" if m["sign"] == b"-" else "overload"
            return ScaleFrame(None, unit, mode, stable=False, state=state)  # type: ignore[arg-type]
        if not unit:
            self.stats.bad("no unit")
            return None
        if digits.count(b".") > 1 or not digits.strip(b"."):
            self.stats.bad("bad number")
            return None
        value = float(digits)
        if m["sign"] == b"-":
            value = -value
        return ScaleFrame(value, unit, mode, stable=m["h1"] in (b"ST", b"QT"))  # type: ignore[arg-type]

"""Mettler Toledo MT-SICS: polled, one ASCII line per request and per answer, CR LF.

Requests this module encodes: ``S`` (stable weight), ``SI`` (immediate
weight), ``Z`` (zero), ``T`` (tare), ``@`` (reset, answers the serial number).

Answers it decodes (fields separated by spaces; the weight is right-aligned
and space padded, so lines are split on white space)::

    S S     100.00 g      stable weight         -> ScaleFrame(stable=True)
    S D     100.02 g      dynamic (SI only)     -> ScaleFrame(stable=False)
    S I                   busy / not stable in time -> Reply("S", "I")
    S + / S -             overload / underload  -> ScaleFrame(state=...)
    Z A / Z I / Z + / Z - zero done / cannot / out of range -> Reply("Z", ...)
    T S   12.30 kg        tare taken             -> Reply("T", "S", 12.30, "kg")
    T I / T + / T -       tare not taken         -> Reply("T", ...)
    I4 A "B123456789"     serial number          -> Reply("I4", "A", text=...)
    ES / ET / EL          syntax / transmission / logical error -> Reply("", "ES")
"""

from __future__ import annotations

from gudang.edge.protocols.base import Event, Reply, ScaleFrame
from gudang.edge.protocols.framing import LineDecoder
from gudang.errors import LocalProtocolError

__all__ = ["COMMANDS", "MtSicsDecoder", "encode_command"]

COMMANDS = frozenset({"S", "SI", "Z", "T", "@"})
MAX_LINE = 128


def encode_command(command: str) -> bytes:
    if command not in COMMANDS:
        raise LocalProtocolError(f"MT-SICS command {command!r} is not supported")
    return command.encode("ascii") + b"\r\n"


class MtSicsDecoder(LineDecoder[Event]):
    max_line = MAX_LINE

    def parse_line(self, raw: bytes) -> Event | None:
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            self.stats.bad("not ascii")
            return None
        if text.startswith("I4 "):
            head, _, rest = text.partition('"')
            if head.split() == ["I4", "A"] and rest.endswith('"'):
                return Reply("I4", "A", text=rest[:-1])
            self.stats.bad("malformed")
            return None
        tokens = text.split()
        match tokens:
            case ["ES" | "ET" | "EL" as err]:
                return Reply("", err)
            case ["S", "S" | "D" as status, number, unit]:
                value = _number(number)
                if value is None:
                    self.stats.bad("bad number")
                    return None
                return ScaleFrame(value, unit, "gross", stable=status == "S")
            case ["S", "+"]:
                return ScaleFrame(None, "", "gross", stable=False, state="overload")
            case ["S", "-"]:
                return ScaleFrame(None, "", "gross", stable=False, state="underload")
            case ["S", "I"]:
                return Reply("S", "I")
            case ["Z", "A" | "I" | "+" | "-" as status]:
                return Reply("Z", status)
            case ["T", "S", number, unit]:
                value = _number(number)
                if value is None:
                    self.stats.bad("bad number")
                    return None
                return Reply("T", "S", value, unit)
            case ["T", "I" | "+" | "-" as status]:
                return Reply("T", status)
        self.stats.bad("malformed")
        return None


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    if value != value or value in (float("inf"), float("-inf")):
        return None
    return value

"""What every protocol module provides: a sans-I/O decoder and the events it yields.

Framing (lines, or frames behind a start byte) is written once in
``framing.py``. Reader contract: ``feed(data)`` only buffers; ``next_frame()`` returns the next
decoded event, or ``None`` when more bytes are needed. Garbage never raises: a
frame that breaks the protocol (bad checksum, bad field) is counted in
``stats`` and skipped, and the decoder resynchronises on the next frame
boundary. Encoders (commands to the device) are plain functions that return
bytes and raise ``LocalProtocolError`` for what the protocol cannot say.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

__all__ = ["Decoder", "DecoderStats", "Event", "Reply", "ScaleFrame", "ScaleState", "TagRead"]

ScaleState = Literal["ok", "overload", "underload"]


@dataclass(frozen=True)
class ScaleFrame:
    """One weight sample as the indicator reported it."""

    weight: float | None  # None when out of range
    unit: str  # as sent: kg, g, lb, t, pc...
    mode: Literal["gross", "net", "tare"]
    stable: bool | None  # None: this format carries no stability flag
    state: ScaleState = "ok"
    tare: float | None = None  # where the format reports the tare alongside


@dataclass(frozen=True)
class TagRead:
    """One read of one RFID tag (readers repeat it while the tag stays in the field)."""

    tag: str  # upper-case hex
    antenna: int = 0
    rssi: float | None = None  # dBm


@dataclass(frozen=True)
class Reply:
    """A device's answer to a command (or an error that answers any command)."""

    command: str  # e.g. "Z", "T", "I4", or "" for a generic error (ES/ET/EL)
    status: str  # protocol status, e.g. "A", "I", "+", "-", "S", "ES", "no_tag"
    value: float | None = None
    unit: str | None = None
    text: str | None = None


Event = ScaleFrame | TagRead | Reply


@dataclass
class DecoderStats:
    frames_ok: int = 0
    frames_bad: int = 0  # malformed frames and checksum errors, skipped
    resyncs: int = 0  # times bytes were discarded to find the next frame boundary
    bad_reasons: dict[str, int] = field(default_factory=dict)

    def bad(self, reason: str) -> None:
        self.frames_bad += 1
        self.bad_reasons[reason] = self.bad_reasons.get(reason, 0) + 1


class Decoder(Protocol):
    stats: DecoderStats

    def feed(self, data: bytes) -> None: ...

    def next_frame(self) -> Event | None: ...

"""What every scale protocol module provides: a sans-I/O decoder.

Reader contract: ``feed(data)`` only buffers; ``next_frame()`` returns the next
decoded frame, or ``None`` when more bytes are needed. Garbage never raises: a
line or frame that breaks the protocol is counted in ``stats`` and skipped,
and the decoder resynchronises on the next frame boundary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

__all__ = ["DecoderStats", "ScaleDecoder", "ScaleFrame", "ScaleState"]

ScaleState = Literal["ok", "overload", "underload"]


@dataclass(frozen=True)
class ScaleFrame:
    """One sample as the indicator reported it."""

    weight: float | None  # None when out of range
    unit: str  # as sent: kg, g, lb, t, pc...
    mode: Literal["gross", "net", "tare"]
    stable: bool | None  # None: this format carries no stability flag
    state: ScaleState = "ok"


@dataclass
class DecoderStats:
    frames_ok: int = 0
    frames_bad: int = 0  # malformed frames and checksum errors, skipped
    resyncs: int = 0  # bytes discarded to find the next frame boundary
    bad_reasons: dict[str, int] = field(default_factory=dict)

    def bad(self, reason: str) -> None:
        self.frames_bad += 1
        self.bad_reasons[reason] = self.bad_reasons.get(reason, 0) + 1


class ScaleDecoder(Protocol):
    stats: DecoderStats

    def feed(self, data: bytes) -> None: ...

    def next_frame(self) -> ScaleFrame | None: ...

"""Which scale samples become messages: stable changes, faults, and heartbeats.

Indicators stream 5-20 samples a second; publishing each would flood the
broker with the same number. A sample is published when

- it is stable and differs from the last published stable value by more than
  the deadband (a change the collector must count),
- the scale enters or leaves a fault (overload / underload), or
- nothing was published for ``heartbeat_s`` (liveness, and a fresh absolute
  value so that a lost change heals itself).

This module decides only; it does no I/O and reads no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gudang.edge.protocols.base import ScaleFrame

__all__ = ["Decision", "ReadingFilter"]


@dataclass(frozen=True)
class Decision:
    frame: ScaleFrame
    reason: Literal["change", "heartbeat"]


class ReadingFilter:
    def __init__(self, division: float, deadband_divisions: float, heartbeat_s: float) -> None:
        if division <= 0 or deadband_divisions < 0 or heartbeat_s <= 0:
            raise ValueError("division must be > 0, deadband >= 0 and heartbeat_s > 0")
        self.division = division
        # Compared in divisions with a little slack: 172.81 - 172.80 is
        # 0.0100000000000193 in floating point, one division, not more.
        self.deadband_divisions = deadband_divisions + 1e-6
        self.heartbeat_s = heartbeat_s
        self._state: str | None = None  # last published: "ok" (stable) or a fault
        self._stable: tuple[float, str] | None = None  # last published stable value, unit
        self._sent_at: float | None = None

    def offer(self, frame: ScaleFrame, now: float, *, force: bool = False) -> Decision | None:
        """Return what to publish for this sample, if anything. `now` in seconds.

        `force` publishes the sample as a change (a re-read asked for by a command).
        """
        if frame.mode == "tare":
            return None  # a tare display is not a load on the rack
        changed = False
        if frame.state != "ok":
            changed = frame.state != self._state
        elif frame.stable and frame.weight is not None:
            changed = (
                self._state != "ok"
                or self._stable is None
                or frame.unit != self._stable[1]
                or abs(frame.weight - self._stable[0]) / self.division > self.deadband_divisions
            )
        if changed or force:
            decision = Decision(frame, "change")
        elif self._sent_at is None or now - self._sent_at >= self.heartbeat_s:
            decision = Decision(frame, "heartbeat")
        else:
            return None
        self._sent_at = now
        if frame.state != "ok":
            self._state = frame.state
        elif frame.stable and frame.weight is not None:
            self._state = "ok"
            self._stable = (frame.weight, frame.unit)
        return decision

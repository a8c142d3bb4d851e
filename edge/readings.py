"""Which scale samples become messages: settled plateaus, faults, heartbeats.

Indicators stream 5-20 samples a second, each a little different (load-cell
noise, a display flickering by a division). The edge publishes

- a **change** when a plateau settles (``plateau.py``) whose mean differs from
  the last published plateau (the reference) by more than the deadband and
  than noise can explain (``Z`` standard errors of the difference of the two
  means); the reading carries the mean, how many samples it averages, their
  spread and the scale's learned noise;
- a change when the scale enters or leaves a fault (overload / underload);
- a **heartbeat** when nothing was published for ``heartbeat_s``: the current
  plateau's mean (refined by every sample since), or the latest sample,
  unstable, while the scale is in motion or settling. A heartbeat never moves
  the reference, so a quiet bin publishes its heartbeats and nothing else.

A plateau settles once it has lasted ``settle_s`` and its mean is precise
enough to tell one piece of the finest SKU on the scale from noise
(``resolution``), or once it has lasted ``settle_max_s``.

This module decides only; it does no I/O and reads no clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from gudang.contract.units import KG_PER
from gudang.edge.plateau import K, NoiseEstimate, Plateau
from gudang.edge.protocols.base import ScaleFrame
from gudang.site.counting import Z

__all__ = ["Decision", "ReadingFilter"]

_MIN_SAMPLES = 3
_MARGIN = 0.8
_NOISE_KNOWN = 10  # stable samples before the noise estimate is trusted


@dataclass(frozen=True)
class Decision:
    frame: ScaleFrame  # for a plateau: its mean, stable
    reason: Literal["change", "heartbeat"]
    samples: int = 1
    spread: float | None = None
    noise: float | None = None


class ReadingFilter:
    def __init__(
        self,
        division_kg: float,
        deadband_divisions: float,
        heartbeat_s: float,
        *,
        settle_s: float = 1.0,
        settle_max_s: float = 8.0,
        resolution_kg: float | None = None,
        window: int = 600,
    ) -> None:
        if division_kg <= 0 or deadband_divisions < 0 or heartbeat_s <= 0:
            raise ValueError("division must be > 0, deadband >= 0 and heartbeat_s > 0")
        if settle_s < 0 or settle_max_s < settle_s:
            raise ValueError("settle_s must be >= 0 and settle_max_s >= settle_s")
        self.division_kg = division_kg
        self.deadband_divisions = deadband_divisions
        self.heartbeat_s = heartbeat_s
        self.settle_s = settle_s
        self.settle_max_s = settle_max_s
        self.resolution_kg = resolution_kg
        self.window = window
        self._key: tuple[str, str] | None = None  # (unit, mode) the state below is in
        self._division = division_kg
        self._deadband = 0.0
        self._decimals = 0
        self.noise = NoiseEstimate(division_kg)
        self._plateau: Plateau | None = None
        self._candidate: Plateau | None = None
        self._settled = False  # the current plateau has been judged
        self._ref: tuple[float, int] | None = None  # last published plateau: mean, samples
        self._state: str | None = None  # last published: "ok" or a fault
        self._sent_at: float | None = None
        self._force = False
        self.spikes = 0  # samples outside the band that did not last
        self._first_at: float | None = None  # of the samples counted for the rate
        self._last_at = 0.0
        self._count = 0

    # -- state ----------------------------------------------------------------

    def _enter(self, unit: str, mode: str) -> None:
        """A new unit or mode: nothing learned so far compares with what comes."""
        self._key = (unit, mode)
        self._division = self.division_kg / KG_PER.get(unit, 1.0)
        self._deadband = self.deadband_divisions * self._division * (1 + 1e-6)
        # A mean is finer than the display: two more digits, no float noise.
        self._decimals = max(0, math.ceil(-math.log10(self._division) - 1e-9)) + 2
        self.noise = NoiseEstimate(0.3 * self._division)  # ~ the rounding of a still display
        self._end()
        self._ref = None

    def _end(self) -> None:
        """Motion, a fault or a new plateau: learn from the one that ends."""
        if self._plateau is not None:
            self.noise.block(*self._plateau.take_block())
        self._plateau = None
        self._candidate = None
        self._settled = False
        self.noise.gap()

    @property
    def rate_hz(self) -> float | None:
        """The indicator's samples a second, over everything seen (None for the
        first second)."""
        if self._first_at is None or self._last_at - self._first_at < 1.0:
            return None
        return (self._count - 1) / (self._last_at - self._first_at)

    @property
    def max_samples(self) -> int | None:
        """The most samples a plateau averages before it is published: the
        indicator's sample rate x ``settle_max_s`` (None until the rate is known)."""
        rate = self.rate_hz
        return None if rate is None else max(1, round(rate * self.settle_max_s) + 1)

    @property
    def sigma(self) -> float:
        """The learned sample noise, in the display unit."""
        return self.noise.sigma

    @property
    def resolution(self) -> float | None:
        if self.resolution_kg is None or self._key is None:
            return None
        return self.resolution_kg / KG_PER.get(self._key[0], 1.0)

    def _lasted(self, p: Plateau, now: float) -> float:
        """How long a plateau has lasted: by the clock, or by its samples at the
        indicator's rate, whichever is longer. An edge starved of CPU reads a
        second of samples in one go, all at one `now`; their count still says
        how long the scale was still."""
        by_clock = now - p.started
        rate = self.rate_hz
        return by_clock if not rate else max(by_clock, (p.total - 1) / rate)

    def _ready(self, p: Plateau, now: float) -> bool:
        lasted = self._lasted(p, now)
        if p.total < _MIN_SAMPLES or lasted < self.settle_s - 1e-6:
            return False
        if lasted >= self.settle_max_s - 1e-6:
            return True
        need = self.resolution
        if need is None:
            return True
        if self.noise.samples < _NOISE_KNOWN:
            return False  # too few samples yet to say how noisy the scale is
        # A margin below the need: the noise estimate itself wanders a little.
        return Z * self.sigma * math.sqrt(2.0 / p.n) <= _MARGIN * need

    def _moved(self, p: Plateau) -> bool:
        if self._ref is None or self._state != "ok":
            return True
        value, n = self._ref
        noise = Z * self.sigma * math.sqrt(1.0 / n + 1.0 / p.n)
        return abs(p.mean - value) > max(self._deadband, noise)

    # -- decisions --------------------------------------------------------------

    def _level(
        self, p: Plateau, frame: ScaleFrame, reason: Literal["change", "heartbeat"]
    ) -> Decision:
        mean = round(p.mean, self._decimals)
        level = ScaleFrame(mean, frame.unit, frame.mode, True, "ok", frame.tare)
        return Decision(level, reason, p.n, float(f"{p.spread:.4g}"), float(f"{self.sigma:.4g}"))

    def _sent(self, decision: Decision, now: float) -> Decision:
        self._sent_at = now
        return decision

    def offer(self, frame: ScaleFrame, now: float, *, force: bool = False) -> Decision | None:
        """Return what to publish for this sample, if anything. `now` in seconds.

        `force` publishes the settled plateau (now, or once it settles) as a
        change whatever the deadband says: a re-read asked for by a command.
        """
        if frame.mode == "tare":
            return None  # a tare display is not a load on the rack
        if self._sent_at is None:
            self._sent_at = now  # the first heartbeat is due a period after start
        if self._first_at is None:
            self._first_at = now
        self._count += 1
        self._last_at = now
        self._force = self._force or force
        if frame.state != "ok" or frame.weight is None:
            self._end()
            if frame.state != self._state:
                self._state = frame.state
                return self._sent(Decision(frame, "change"), now)
            return self._heartbeat(frame, now)
        if self._key != (frame.unit, frame.mode):
            self._enter(frame.unit, frame.mode)
        if not frame.stable:
            self._end()
            return self._heartbeat(frame, now)
        self._add(frame.weight, now)
        p = self._plateau
        assert p is not None
        if not self._settled and self._ready(p, now):
            self._settled = True
            if self._force or self._moved(p):
                return self._publish(p, frame, now)
        elif self._settled and self._force:
            return self._publish(p, frame, now)
        return self._heartbeat(frame, now)

    def _add(self, w: float, now: float) -> None:
        self.noise.sample(w)
        # A display flickering a division either side always belongs to its plateau.
        band = max(self._deadband + self._division, K * self.sigma)
        p = self._plateau
        if p is None:
            self._plateau = Plateau(w, now, self.window)
            self._settled = False
            return
        if abs(w - p.mean) <= band:
            p.add(w)
            if self._candidate is not None:
                self.spikes += self._candidate.total
                self._candidate = None
            if p.full_block():
                self.noise.block(*p.take_block())
            return
        c = self._candidate
        if c is not None and abs(w - c.mean) <= band:
            c.add(w)
        else:
            if c is not None:
                self.spikes += c.total
            c = self._candidate = Plateau(w, now, self.window)
        if c.total >= _MIN_SAMPLES and self._lasted(c, now) >= self.settle_s - 1e-6:
            # A step the indicator did not flag as motion: a new plateau.
            self.noise.block(*p.take_block())
            self._plateau, self._candidate, self._settled = c, None, False

    def _publish(self, p: Plateau, frame: ScaleFrame, now: float) -> Decision:
        self._ref = (p.mean, p.n)
        self._state = "ok"
        self._force = False
        return self._sent(self._level(p, frame, "change"), now)

    def _heartbeat(self, frame: ScaleFrame, now: float) -> Decision | None:
        if self._sent_at is not None and now - self._sent_at < self.heartbeat_s:
            return None
        p = self._plateau
        if p is not None and self._settled and frame.state == "ok":
            return self._sent(self._level(p, frame, "heartbeat"), now)
        if frame.state == "ok":  # in motion or settling: alive, but not a level
            frame = ScaleFrame(frame.weight, frame.unit, frame.mode, False, "ok", frame.tare)
        return self._sent(Decision(frame, "heartbeat"), now)

"""Settled plateaus of a scale's stable samples, and the scale's noise. Pure.

A plateau is a run of stable samples that agree: each lies within the band
(``K`` x the scale's noise, at least the deadband plus a division) of the
plateau's mean. Its
value is the mean of its newest ``window`` samples, so it follows the slow
drift of a load cell. Samples outside the band that keep agreeing with each
other for as long as a plateau takes to settle are a new plateau (a step the
indicator did not flag as motion); fewer are a spike, and dropped.

The noise is the standard deviation of a sample about the true load. It is
learned two ways and the larger is used: from successive differences of stable
samples (robust: a median, so a step now and then does not count; works from
the first samples, before any plateau has settled), and from the spread of
samples within plateaus (pooled over blocks, older blocks weighing less: this
sees the slow wander that successive differences miss).
"""

from __future__ import annotations

import math
import statistics
from collections import deque

__all__ = ["K", "NoiseEstimate", "Plateau"]

K = 4.0  # a sample further than K x noise from its plateau's mean is not noise

_BLOCK = 64  # samples per block of the pooled within-plateau variance
_HALF_LIFE = 2000.0  # samples after which an old block counts half
_DIFFS = 255  # successive differences the median is taken over
# Median |difference| of two samples with Gaussian noise sigma is
# 0.6745 * sqrt(2) * sigma.
_DIFF_TO_SIGMA = 1.0 / (0.6744897501960817 * math.sqrt(2.0))


class NoiseEstimate:
    """A scale's sample noise (standard deviation), in the display unit."""

    def __init__(self, floor: float) -> None:
        if floor <= 0:
            raise ValueError("floor must be > 0")
        self.floor = floor  # display rounding: a still load still wobbles a division
        self._diffs: deque[float] = deque(maxlen=_DIFFS)
        self._last: float | None = None
        self._diff_sigma = 0.0
        self._stale = 0
        self._m2 = 0.0
        self._dof = 0.0
        self.samples = 0  # stable samples learned from

    def sample(self, weight: float) -> None:
        """A stable sample that follows the previous one without motion between."""
        self.samples += 1
        if self._last is not None:
            self._diffs.append(abs(weight - self._last))
            self._stale += 1
            if self._stale >= 16 or len(self._diffs) < 16:
                self._diff_sigma = statistics.median(self._diffs) * _DIFF_TO_SIGMA
                self._stale = 0
        self._last = weight

    def gap(self) -> None:
        """Motion or a fault: the next stable sample does not follow the last."""
        self._last = None

    def block(self, m2: float, dof: int) -> None:
        """Sum of squared deviations of `dof` + 1 samples about their plateau's mean."""
        if dof <= 0:
            return
        keep = 0.5 ** (dof / _HALF_LIFE)
        self._m2 = self._m2 * keep + m2
        self._dof = self._dof * keep + dof

    @property
    def sigma(self) -> float:
        pooled = math.sqrt(self._m2 / self._dof) if self._dof >= 8 else 0.0
        return max(self.floor, self._diff_sigma, pooled)


class Plateau:
    """Stable samples that agree with each other: one settled level."""

    def __init__(self, weight: float, now: float, window: int = 600) -> None:
        self.started = now
        self.window = window
        self._anchor = weight  # sums are kept relative to it: no cancellation
        self._values: deque[float] = deque()
        self._sum = 0.0
        self._sq = 0.0
        self._rolled = 0
        self.total = 0  # samples since it began; the window holds the newest
        self._block: list[float] = []
        self.add(weight)

    def add(self, weight: float) -> None:
        x = weight - self._anchor
        self._values.append(x)
        self._sum += x
        self._sq += x * x
        self.total += 1
        self._block.append(weight)
        if len(self._values) > self.window:
            old = self._values.popleft()
            self._sum -= old
            self._sq -= old * old
            self._rolled += 1
            if self._rolled >= self.window:  # re-add now and then: no rounding creep
                self._sum = math.fsum(self._values)
                self._sq = math.fsum(v * v for v in self._values)
                self._rolled = 0

    @property
    def n(self) -> int:
        return len(self._values)

    @property
    def mean(self) -> float:
        return self._anchor + self._sum / len(self._values)

    @property
    def spread(self) -> float:
        """Standard deviation of the samples in the window."""
        n = len(self._values)
        if n < 2:
            return 0.0
        return math.sqrt(max(0.0, (self._sq - self._sum * self._sum / n) / (n - 1)))

    def full_block(self) -> bool:
        return len(self._block) >= _BLOCK

    def take_block(self) -> tuple[float, int]:
        """The squared deviations of the samples since the last take, and their
        degrees of freedom (for ``NoiseEstimate.block``)."""
        values, self._block = self._block, []
        if len(values) < 3:
            return 0.0, 0
        mean = math.fsum(values) / len(values)
        return math.fsum((v - mean) ** 2 for v in values), len(values) - 1

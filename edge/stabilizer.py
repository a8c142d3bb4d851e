"""Stability for indicators that do not report it (the XK3190 family and others).

A sample is stable when the samples of the last ``window_s`` seconds (and the
one just before them) lie within ``band`` of each other (max - min <= band),
and they span the whole window.
Out-of-range samples reset the window. Pure: the caller passes the time.
"""

from __future__ import annotations

from collections import deque

__all__ = ["Stabilizer"]


class Stabilizer:
    def __init__(self, window_s: float, band: float) -> None:
        if window_s <= 0 or band < 0:
            raise ValueError("window_s must be > 0 and band >= 0")
        self.window_s = window_s
        self.band = band + 1e-9  # 172.81 - 172.80 is not more than 0.01
        self._samples: deque[tuple[float, float]] = deque()

    def reset(self) -> None:
        self._samples.clear()

    def offer(self, weight: float, now: float) -> bool:
        """Add a sample; True when the window ending now is full and quiet."""
        self._samples.append((now, weight))
        # Keep one sample at or beyond the window's start, so that sparse
        # sampling still proves a whole quiet window.
        while len(self._samples) > 1 and now - self._samples[1][0] >= self.window_s:
            self._samples.popleft()
        full = now - self._samples[0][0] >= self.window_s * 0.9  # 10 % slack for jitter
        values = [w for _, w in self._samples]
        return full and max(values) - min(values) <= self.band

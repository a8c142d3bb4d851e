"""The physics of a rack bin on a load cell, as an indicator displays it.

The true load changes in steps (a pick, a put); the load cell may drift
slowly on top of it. After a step the display is
in motion for ``settle_s`` (large, decaying swings, no stable flag), then
settles to the load plus a little noise, rounded to the display division. Past
capacity plus nine divisions the indicator shows out of range.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal

__all__ = ["Display", "LoadModel", "decimals_for"]


def decimals_for(division: float) -> int:
    """Digits after the decimal point needed to show multiples of `division`."""
    return max(0, math.ceil(-math.log10(division) - 1e-9))


@dataclass(frozen=True)
class Display:
    weight: float | None  # None when out of range
    stable: bool
    state: Literal["ok", "overload", "underload"]


class LoadModel:
    def __init__(
        self,
        load_kg: float,
        *,
        division: float,
        capacity_kg: float,
        settle_s: float = 1.5,
        noise_div: float = 0.3,
        seed: int = 0,
    ) -> None:
        self.division = division
        self.capacity_kg = capacity_kg
        self.settle_s = settle_s
        self.noise_div = noise_div
        self._rng = random.Random(seed)
        self._load = load_kg
        self._from = load_kg
        self._changed_at = -math.inf
        # Drift is an error of the load cell, not material: it persists across picks.
        self._drift_rate = 0.0  # kg per hour
        self._drift_acc = 0.0
        self._drift_since = 0.0

    @property
    def load_kg(self) -> float:
        return self._load

    def drift(self, now: float) -> float:
        return self._drift_acc + self._drift_rate * (now - self._drift_since) / 3600.0

    def set_drift(self, kg_per_h: float, now: float) -> None:
        self._drift_acc = self.drift(now)
        self._drift_rate = kg_per_h
        self._drift_since = now

    def set_load(self, kg: float, now: float) -> None:
        self._from = self.display(now).weight or self._load
        self._load = kg
        self._changed_at = now

    def display(self, now: float) -> Display:
        load = self._load + self.drift(now)
        moving = now - self._changed_at < self.settle_s
        if moving:
            # Swing between the old and new load, decaying as it settles.
            left = 1.0 - (now - self._changed_at) / self.settle_s
            swing = (self._from - load) * left * math.cos(now * 9.0)
            shown = load + swing + self._rng.gauss(0.0, 3 * self.division)
        else:
            shown = load + self._rng.gauss(0.0, self.noise_div * self.division)
        if shown > self.capacity_kg + 9 * self.division:
            return Display(None, False, "overload")
        if shown < -20 * self.division:
            return Display(None, False, "underload")
        rounded = round(round(shown / self.division) * self.division, decimals_for(self.division))
        return Display(rounded, not moving, "ok")

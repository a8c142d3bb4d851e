"""Quantities as people read them. Pure.

The collector stores what the scales measured (``qty=19.00128`` pieces:
47.40 kg of plate at a nominal 46.66 kg a sheet, within the count). People
and alert texts get it rounded to what the scale can tell:

- pieces: a whole number when within the SKU's count tolerance of one (the
  same rule that counts a movement as whole pieces); otherwise one decimal,
  so that "18.6 sheets" shows something is off;
- kilograms and metres: to the decimals of the finest scale division under
  the SKU (0.05 kg: two decimals; for metres, the division over the weight
  of a metre).

Integrators who want the measured value read the ``*_exact`` fields.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Rounding", "decimals_for"]

_MAX_DECIMALS = 3  # finer than a gram or a millimetre says nothing here


def decimals_for(step: float) -> int:
    """Decimals needed to write multiples of `step` (0.05 -> 2, 0.5 -> 1, 2 -> 0)."""
    if not math.isfinite(step) or step <= 0:
        return _MAX_DECIMALS
    return min(_MAX_DECIMALS, max(0, math.ceil(-math.log10(step) - 1e-9)))


@dataclass(frozen=True, slots=True)
class Rounding:
    """How one SKU's quantities and weights are shown."""

    unit: str  # "pcs", "m" or "kg"
    kg_decimals: int
    qty_decimals: int  # m and kg; pieces follow the count tolerance
    count_tolerance: float = 0.3

    @classmethod
    def of(
        cls, unit: str, division_kg: float, unit_weight_kg: float | None, count_tolerance: float
    ) -> Rounding:
        kg = decimals_for(division_kg)
        qty = decimals_for(division_kg / unit_weight_kg) if unit == "m" and unit_weight_kg else kg
        return cls(unit, kg, qty, count_tolerance)

    def qty(self, value: float) -> float:
        if self.unit == "pcs":
            whole = round(value)
            if abs(value - whole) <= self.count_tolerance:
                return float(whole) + 0.0  # + 0.0: never "-0"
            return round(value, 1) + 0.0
        return round(value, self.qty_decimals) + 0.0

    def kg(self, value: float) -> float:
        return round(value, self.kg_decimals) + 0.0

    def text(self, value: float) -> str:
        """`qty` for a sentence: no trailing zeros ("19", "35.5")."""
        shown = f"{self.qty(value):.{max(self.qty_decimals, 1)}f}"
        return shown.rstrip("0").rstrip(".") if "." in shown else shown

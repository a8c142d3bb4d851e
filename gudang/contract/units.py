"""Mass units a scale may report, and their size in kilograms (defined once)."""

from __future__ import annotations

from typing import Literal

__all__ = ["KG_PER", "MASS_UNITS", "MassUnit", "to_kg"]

MassUnit = Literal["kg", "g", "t", "lb"]
KG_PER: dict[str, float] = {"kg": 1.0, "g": 0.001, "t": 1000.0, "lb": 0.45359237}
MASS_UNITS = frozenset(KG_PER)


def to_kg(weight: float, unit: str) -> float:
    return weight * KG_PER[unit]

"""What a scale can count: the smallest movement it tells apart from noise. Pure.

A movement is the difference of two settled plateau means (docs/collector.md).
Each mean is off by its standard error, ``noise / sqrt(samples)``, so the
difference is off by ``sqrt(se_a**2 + se_b**2)``; a change of less than ``Z``
of those is noise (the chance that noise alone makes it is about 1 in 16,000).
Display rounding adds up to half a division to each mean of a load that sits
still between two display steps, so nothing under one division is a movement
either. A SKU counted in pieces needs one piece, times its count tolerance, to
clear that resolution; otherwise single-piece picks cannot be told apart.
"""

from __future__ import annotations

import math

__all__ = ["Z", "delta_error", "resolution", "smallest_unit"]

Z = 4.0


def delta_error(se_a: float, se_b: float) -> float:
    """Standard error of the difference of two means with these standard errors."""
    return math.hypot(se_a, se_b)


def resolution(division_kg: float, noise_kg: float | None = None, samples: int = 1) -> float:
    """The smallest change (kg) told apart from noise between two plateaus of
    `samples` samples each, on a scale of this division and sample noise."""
    if noise_kg is None:
        return division_kg
    se = noise_kg / math.sqrt(max(samples, 1))
    return max(division_kg, Z * delta_error(se, se))


def smallest_unit(
    division_kg: float, noise_kg: float | None, samples: int, tolerance: float
) -> float:
    """The smallest unit weight (kg per piece) whose single pieces are counted
    reliably: one piece within `tolerance` of a whole count clears the resolution."""
    return resolution(division_kg, noise_kg, samples) / tolerance

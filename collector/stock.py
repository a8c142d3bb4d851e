"""Stock math: a scale reading -> each bin's net kilograms and quantity. Pure."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from gudang.contract import WeightReading
from gudang.contract.units import KG_PER, to_kg
from gudang.site import Bin, Site, Sku

__all__ = ["KG_PER", "BinLevel", "bin_levels", "level_error_kg", "to_kg"]


@dataclass(slots=True)  # (not frozen: 1 µs a level on the hot path)
class BinLevel:
    bin: Bin
    sku: Sku
    gross_kg: float | None  # None when the indicator reported net weight
    net_kg: float
    quantity: float  # in sku.unit
    ts: int
    se_kg: float | None = None  # standard error of net_kg (a plateau mean), when known


def level_error_kg(reading: WeightReading) -> float | None:
    """Standard error of a reading's weight as a level: the scale's noise over
    the root of the samples averaged; None when the edge did not say."""
    if reading.noise is None:
        return None
    return to_kg(reading.noise, reading.unit) / math.sqrt(reading.samples)


def bin_levels(
    site: Site,
    reading: WeightReading,
    tares: Mapping[str, float] | None = None,
    skus: Mapping[str, Sku] | None = None,
    se_kg: float | None = None,
) -> list[BinLevel]:
    """The stock a reading shows, for every bin on that device channel.

    Only stable in-range readings count: motion and faults change no stock.
    A net reading (tare held by the indicator) is taken as the bin's net load.
    `tares` and `skus` carry calibration that overrides the site file.
    """
    if not reading.stable or reading.state != "ok" or reading.weight is None:
        return []
    kg = to_kg(reading.weight, reading.unit)
    levels = []
    for b in site.bins_of(reading.device_id):
        if b.channel != reading.channel:
            continue
        sku = skus[b.sku] if skus is not None else site.sku(b.sku)
        tare = tares[b.id] if tares is not None else b.tare_kg
        gross = kg if reading.mode == "gross" else None
        net = kg - tare if reading.mode == "gross" else kg
        levels.append(BinLevel(b, sku, gross, net, sku.quantity(net), reading.ts, se_kg))
    return levels

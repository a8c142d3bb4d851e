"""Movements: the change between consecutive stable levels of a bin. Pure.

A bin's stable levels are kept in device-time order (a bounded window), so a
reading that arrives late is put in its place and the movements around it are
computed again. A movement is identified by the time of the level that ends
it; re-computing writes the same InfluxDB point (same tags and time) and so
replaces the earlier answer. Duplicates (same time) change nothing. This is
what makes movements correct under duplicated and reordered delivery.

Classification of a change of ``delta_kg`` between two levels:

- within the noise band: no movement. Each level knows its standard error
  (the scale's noise / sqrt(samples averaged), from the edge); the band is
  ``Z`` standard errors of the difference, at least one division
  (``gudang.site.counting``). A level without it (an older edge, a level
  seeded from storage) falls back to 3 display divisions;
- unit ``kg`` / ``m``: a pick (negative) or put (positive) of delta in the unit;
- unit ``pcs``: ``x = delta_kg / unit_weight``; when ``|x - k| <= tolerance`` for a
  whole ``k != 0`` it is ``k`` pieces; when ``|x| <= tolerance`` it is noise;
  otherwise an ``anomaly`` (half a bar, a wrong item, a scale fault).

Only picks, puts and anomalies are written. A ``none`` is written only where
it replaces an answer written before (a late level showed it wrong).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from gudang.contract.vocab import MovementKind
from gudang.site import Sku
from gudang.site.counting import Z, delta_error

__all__ = ["BinHistory", "Movement", "MovementKind", "classify", "noise_band"]


@dataclass(slots=True)  # (not frozen: 1 µs a movement on the hot path)
class Movement:
    ts: int  # device time of the level that ends the movement
    kind: MovementKind
    delta_kg: float
    delta_qty: float  # in the SKU's unit; whole pieces for pcs
    pieces_exact: float | None = None  # pcs: delta_kg / unit_weight, unrounded


def classify(delta_kg: float, sku: Sku, noise_kg: float, ts: int) -> Movement:
    if abs(delta_kg) <= noise_kg:
        return Movement(ts, "none", delta_kg, 0.0)
    if sku.unit != "pcs":
        qty = sku.quantity(delta_kg)
        return Movement(ts, "put" if delta_kg > 0 else "pick", delta_kg, qty)
    assert sku.unit_weight_kg is not None
    exact = delta_kg / sku.unit_weight_kg
    k = round(exact)
    if k == 0 and abs(exact) <= sku.count_tolerance:
        return Movement(ts, "none", delta_kg, 0.0, exact)
    if k != 0 and abs(exact - k) <= sku.count_tolerance:
        return Movement(ts, "put" if k > 0 else "pick", delta_kg, float(k), exact)
    return Movement(ts, "anomaly", delta_kg, exact, exact)


def noise_band(division_kg: float, se_a: float | None, se_b: float | None) -> float:
    """The change two levels can show from noise alone (see the module text)."""
    if se_a is None or se_b is None:
        return 3 * division_kg
    return max(division_kg, Z * delta_error(se_a, se_b))


class BinHistory:
    """The last `size` stable levels of one bin, in device-time order, each
    with its standard error (None when unknown)."""

    def __init__(self, sku: Sku, division_kg: float, size: int = 64) -> None:
        self.sku = sku
        self.division_kg = division_kg
        self.size = size
        self._ts: list[int] = []
        self._kg: list[float] = []
        self._se: list[float | None] = []
        self._kind: list[MovementKind | None] = []  # of the movement into each level, as written
        self.too_late = 0  # levels older than the window: stored, not used for movements
        # The oldest level this process has known (kept when the window moves
        # on): a last stored level learned late measures the movement into it.
        self._first: tuple[int, float, float | None] | None = None

    def _between(self, i: int, j: int) -> Movement:
        band = noise_band(self.division_kg, self._se[i], self._se[j])
        return classify(self._kg[j] - self._kg[i], self.sku, band, self._ts[j])

    def seed(self, ts: int, net_kg: float, se_kg: float | None = None) -> list[Movement]:
        """The last level stored before this process started (from InfluxDB),
        possibly learned after newer levels arrived (InfluxDB was down at
        start): taken only where it is older than every level known, and then
        the movement to the next level is measured from it (to write)."""
        if self._first is None:
            self._insert(0, ts, net_kg, se_kg)
            self._first = (ts, net_kg, se_kg)
            return []
        first_ts, first_kg, first_se = self._first
        if ts >= first_ts:
            return []  # levels this old are known already: not a last stored level
        if self._ts[0] == first_ts and len(self._ts) < self.size:
            return self.add(ts, net_kg, se_kg)  # in the window: placed like any late level
        # The window has moved past it (a large backlog came first): only the
        # movement into the first level is missing; measure it.
        self._first = (ts, net_kg, se_kg)
        band = noise_band(self.division_kg, se_kg, first_se)
        m = classify(first_kg - net_kg, self.sku, band, first_ts)
        return [] if m.kind == "none" else [m]

    def _insert(self, i: int, ts: int, net_kg: float, se_kg: float | None) -> None:
        self._ts.insert(i, ts)
        self._kg.insert(i, net_kg)
        self._se.insert(i, se_kg)
        self._kind.insert(i, None)

    def add(self, ts: int, net_kg: float, se_kg: float | None = None) -> list[Movement]:
        """Insert a stable level; return the movements to (re)write."""
        i = bisect.bisect_left(self._ts, ts)
        if i < len(self._ts) and self._ts[i] == ts:
            return []  # the same reading again
        if i == 0 and len(self._ts) >= self.size:
            self.too_late += 1
            return []
        self._insert(i, ts, net_kg, se_kg)
        if self._first is None or ts < self._first[0]:
            self._first = (ts, net_kg, se_kg)
        out = []
        if i > 0:
            m = self._between(i - 1, i)
            self._kind[i] = m.kind
            if m.kind != "none":
                out.append(m)
        if i + 1 < len(self._ts):
            m = self._between(i, i + 1)
            before, self._kind[i + 1] = self._kind[i + 1], m.kind
            if m.kind != "none" or before not in (None, "none"):
                out.append(m)  # a none here replaces the answer written before
        if len(self._ts) > self.size:
            del self._ts[0], self._kg[0], self._se[0], self._kind[0]
        return out

    @property
    def last(self) -> tuple[int, float] | None:
        return (self._ts[-1], self._kg[-1]) if self._ts else None

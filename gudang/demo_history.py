"""A plausible month behind the demo's racks, so that every SKU has a
consumption rate, days of cover and reorder suggestions from the first
minute (docs/replenishment.md). Pure: readings to publish, nothing sent here.

Each bin gets picks on most working days of the last four weeks and a
delivery whenever its stock would have fallen under its reorder point,
built backwards from the quantity the simulator starts it at, so that the
first live reading continues the history instead of making a movement. The
pace differs per SKU (seeded by its id: the same every run), from a few days
of cover to several weeks.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from gudang.site import Bin, Site

__all__ = ["HistoricReading", "month_of_picks"]

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class HistoricReading:
    device: str
    channel: int
    ts: int  # epoch ms, device time
    gross_kg: float


def _quantity_step(unit: str) -> float:
    return {"pcs": 1.0, "m": 0.5}.get(unit, 0.1)


def month_of_picks(
    site: Site, start_qty: Mapping[str, float], now_ms: int, days: int = 28
) -> list[HistoricReading]:
    """Readings, oldest first per device, of `days` of picks and deliveries
    for every bin, ending (before `now_ms`) at `start_qty[bin]` (default: the
    simulator's 2.5 x reorder point)."""
    cal = site.calendar
    tz = cal.tz
    now = datetime.fromtimestamp(now_ms / 1000, tz)
    working = cal.working_days((now - timedelta(days=days)).date(), now.date() - timedelta(days=1))
    out: list[HistoricReading] = []
    for b in site.bins:
        out += _bin_history(site, b, start_qty, working, tz, now_ms)
    out.sort(key=lambda r: (r.device, r.channel, r.ts))
    return out


def _bin_history(
    site: Site,
    b: Bin,
    start_qty: Mapping[str, float],
    working: list[date],
    tz: tzinfo,
    now_ms: int,
) -> list[HistoricReading]:
    sku = site.sku(b.sku)
    rng = random.Random(f"{site.site.id}/{b.id}")
    step = _quantity_step(sku.unit)
    end = start_qty.get(b.id, round(sku.reorder_point * 2.5))
    cover = rng.uniform(6, 30)  # working days the end stock lasts at this pace
    mean = max(end / cover, step)
    per_kg = sku.unit_weight_kg or 1.0
    # Backwards from the end: each day's picks were on the shelf before it;
    # a delivery puts back what the level would otherwise climb beyond.
    events: list[tuple[datetime, float]] = []  # (when, level after), newest first
    level = end
    cap = sku.reorder_point + sku.reorder_quantity + mean * 3
    for day in reversed(working):
        base = datetime(day.year, day.month, day.day, 8, tzinfo=tz)
        count = rng.choice((0, 1, 1, 2, 2))
        times = sorted((base + timedelta(hours=1 + 3 * k, minutes=rng.randrange(50))
                        for k in range(count)), reverse=True)  # fmt: skip
        for when in times:  # newest first: each pick was on the shelf before it
            events.append((when, level))
            level += max(step, round(rng.gauss(mean / 1.5, mean / 4) / step) * step)
        if level > cap:  # a delivery that morning, before the picks
            events.append((base + timedelta(minutes=rng.randrange(30)), level))
            level = max(level - sku.reorder_quantity, 0.0)
    if working:  # the first level, the evening before: when the bin was first seen
        first = working[0] - timedelta(days=1)
        events.append((datetime(first.year, first.month, first.day, 17, tzinfo=tz), level))
    readings = []
    for when, after in reversed(events):
        ts = min(int(when.timestamp() * 1000), now_ms - 60_000)
        gross = b.tare_kg + after * per_kg
        readings.append(HistoricReading(b.device, b.channel, ts, round(gross, 3)))
    # Device time only moves forward (two events may share a rounded minute).
    for i in range(1, len(readings)):
        if readings[i].ts <= readings[i - 1].ts:
            prev = readings[i - 1]
            readings[i] = HistoricReading(
                prev.device, prev.channel, prev.ts + 1, readings[i].gross_kg
            )
    return readings

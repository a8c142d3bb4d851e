"""Consumption, days of cover and reorder suggestions from recorded picks. Pure.

docs/replenishment.md explains the formulas with a worked example. In short,
for one SKU:

- **Demand per working day** over a window (28 days by default): the pieces
  (or metres, kg) picked that day. Puts (deliveries) and anomalies are not
  demand; closed days (Sundays by default, holidays) are not days at all.
  Days before the SKU was first seen are not zero-demand days either.
- **Rate**: the mean daily demand, weighted toward recent days (each day
  weighs half as much as a day ``half_life_days`` newer), and its
  **variability**: the weighted standard deviation of daily demand.
- With fewer than ``min_history_days`` working days observed, or picks on
  fewer than three of them, there is no rate: ``insufficient_history`` says
  so instead of inventing a number.
- **Days of cover** = stock / rate, in working days; the **projected
  stock-out** is that many working days from now, on the site's calendar.
- **Suggested reorder point** = rate x lead time + z x variability x
  sqrt(lead time), z from the target service level (0.95: z = 1.645): the
  stock that covers the lead time's expected demand, and its noise in all
  but (1 - service level) of the cycles.
- **Suggested order** = what brings stock up to the demand of lead time plus
  one review period (with its safety stock), whole pieces for ``pcs``.
- **Urgency** = days of cover - lead time: below zero, an order placed today
  arrives after the shelf is empty.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import NormalDist
from zoneinfo import ZoneInfo

__all__ = [
    "Calendar",
    "Forecast",
    "Measured",
    "Pick",
    "Policy",
    "daily_demand",
    "forecast",
    "measure",
    "project",
    "weighted_rate",
]

MIN_PICK_DAYS = 3  # fewer days with a pick: no rate, however long the history


@dataclass(frozen=True, slots=True)
class Pick:
    """One recorded movement of a SKU: `qty` in its unit, negative for a pick."""

    ts: int  # epoch ms (device time)
    qty: float
    kind: str  # "pick", "put" or "anomaly"


@dataclass(frozen=True, slots=True)
class Calendar:
    """The site's working days: its time zone, the weekdays it is closed
    (0 = Monday ... 6 = Sunday) and closed dates (holidays)."""

    tz: ZoneInfo
    closed_weekdays: frozenset[int] = frozenset({6})
    closed_dates: frozenset[date] = frozenset()

    def day_of(self, ts_ms: int) -> date:
        return datetime.fromtimestamp(ts_ms / 1000, self.tz).date()

    def open(self, day: date) -> bool:
        return day.weekday() not in self.closed_weekdays and day not in self.closed_dates

    def working_days(self, first: date, last: date) -> list[date]:
        """Open days from `first` to `last`, both included."""
        days, d = [], first
        while d <= last:
            if self.open(d):
                days.append(d)
            d += timedelta(days=1)
        return days

    def add_working_days(self, start: date, days: float) -> date:
        """The date `days` working days after `start` (a fraction counts as
        reaching into the next working day); at most ten years ahead."""
        remaining, d = math.ceil(days), start
        limit = start + timedelta(days=3660)
        while remaining > 0 and d < limit:
            d += timedelta(days=1)
            if self.open(d):
                remaining -= 1
        return d


@dataclass(frozen=True, slots=True)
class Policy:
    """How one SKU is replenished (site file, or changed at run time)."""

    lead_time_days: float = 7.0  # working days from order to delivery
    service_level: float = 0.95  # cycles without a stock-out
    review_days: float = 7.0  # how often orders are placed
    window_days: int = 28
    half_life_days: float = 7.0
    min_history_days: int = 7

    @property
    def z(self) -> float:
        return NormalDist().inv_cdf(self.service_level)


@dataclass(frozen=True, slots=True)
class Forecast:
    """What the recorded picks say about one SKU (None: not enough history,
    or no consumption for the values that divide by the rate)."""

    rate: float | None  # per working day, in the SKU's unit
    variability: float | None  # standard deviation of daily demand
    observed_days: int  # working days in the window since the SKU was first seen
    pick_days: int  # of those, days with at least one pick
    insufficient_history: bool
    days_of_cover: float | None
    stockout_date: date | None
    suggested_reorder_point: float | None
    suggested_order: float | None
    urgency: float | None  # days of cover - lead time


def daily_demand(picks: Iterable[Pick], calendar: Calendar, days: Sequence[date]) -> list[float]:
    """Demand on each of `days` (working days, oldest first): the quantity
    picked. Puts and anomalies are not demand; a pick on a closed day counts
    on the next open day (the shelf is as empty then)."""
    index = {d: i for i, d in enumerate(days)}
    out = [0.0] * len(days)
    if not days:
        return out
    for p in picks:
        if p.kind != "pick" or p.qty >= 0:
            continue
        day = calendar.day_of(p.ts)
        if day < days[0]:
            continue  # before the window (or before the SKU was seen)
        while day not in index and day < days[-1]:
            day += timedelta(days=1)
        i = index.get(day)
        if i is not None:
            out[i] += -p.qty
    return out


def weighted_rate(demand: Sequence[float], half_life_days: float) -> tuple[float, float]:
    """Weighted mean and standard deviation of `demand` (oldest first): the
    newest day weighs 1, each older day 2^(-1/half_life) as much as the next.
    The deviation is corrected for the effective number of days."""
    n = len(demand)
    if n == 0:
        return 0.0, 0.0
    decay = 0.5 ** (1 / half_life_days) if half_life_days > 0 else 1.0
    weights = [decay ** (n - 1 - i) for i in range(n)]
    total = sum(weights)
    mean = sum(w * d for w, d in zip(weights, demand, strict=True)) / total
    if n < 2:
        return mean, 0.0
    var = sum(w * (d - mean) ** 2 for w, d in zip(weights, demand, strict=True)) / total
    effective = total**2 / sum(w * w for w in weights)
    if effective > 1:
        var *= effective / (effective - 1)
    return mean, math.sqrt(var)


@dataclass(frozen=True, slots=True)
class Measured:
    """What the picks alone say (independent of the stock now)."""

    rate: float | None
    variability: float | None
    observed_days: int
    pick_days: int
    insufficient_history: bool


def measure(
    picks: Iterable[Pick], *, now_ms: int, first_seen_ms: int | None, calendar: Calendar,
    policy: Policy,
) -> Measured:  # fmt: skip
    """Rate and variability from the movements in the window (`now_ms` -
    window_days .. now) and when the SKU (or bin) was first seen."""
    today = calendar.day_of(now_ms)
    first = today - timedelta(days=policy.window_days - 1)
    if first_seen_ms is not None:
        first = max(first, calendar.day_of(first_seen_ms))
    days = calendar.working_days(first, today) if first_seen_ms is not None else []
    demand = daily_demand(picks, calendar, days)
    pick_days = sum(1 for d in demand if d > 0)
    if len(days) < policy.min_history_days or pick_days < MIN_PICK_DAYS:
        return Measured(None, None, len(days), pick_days, True)
    rate, sigma = weighted_rate(demand, policy.half_life_days)
    return Measured(rate, sigma, len(days), pick_days, False)


MAX_COVER_DATED = 365  # working days: a stock-out further out gets no date


def project(
    m: Measured, stock: float | None, *, today: date, calendar: Calendar, policy: Policy,
    whole_units: bool = False,
) -> Forecast:  # fmt: skip
    """Cover, stock-out date, suggestions and urgency for `stock` now."""
    if m.insufficient_history or m.rate is None or m.variability is None:
        return Forecast(None, None, m.observed_days, m.pick_days, True, None, None, None, None,
                        None)  # fmt: skip
    rate, sigma = m.rate, m.variability
    lead, review = policy.lead_time_days, policy.review_days
    z = policy.z
    reorder_point = rate * lead + z * sigma * math.sqrt(lead)
    order_up_to = rate * (lead + review) + z * sigma * math.sqrt(lead + review)
    cover = stockout = order = urgency = None
    if stock is not None:
        order = max(0.0, order_up_to - stock)
        if whole_units:
            order = float(math.ceil(order - 1e-6))  # not 21 for 20.000000000000014
        if rate > 0:
            cover = max(stock, 0.0) / rate
            if cover <= MAX_COVER_DATED:
                stockout = calendar.add_working_days(today, cover)
            urgency = cover - lead
    return Forecast(
        rate=rate, variability=sigma, observed_days=m.observed_days, pick_days=m.pick_days,
        insufficient_history=False, days_of_cover=cover, stockout_date=stockout,
        suggested_reorder_point=reorder_point, suggested_order=order, urgency=urgency,
    )  # fmt: skip


def forecast(
    picks: Iterable[Pick],
    stock: float | None,
    *,
    now_ms: int,
    first_seen_ms: int | None,
    calendar: Calendar,
    policy: Policy,
    whole_units: bool = False,
) -> Forecast:
    """Rate, variability, cover and suggestions for one SKU from its
    movements in the window (`now_ms` - window_days .. now), its current
    `stock`, and when it was first seen (its oldest level)."""
    m = measure(picks, now_ms=now_ms, first_seen_ms=first_seen_ms, calendar=calendar,
                policy=policy)  # fmt: skip
    return project(m, stock, today=calendar.day_of(now_ms), calendar=calendar, policy=policy,
                   whole_units=whole_units)  # fmt: skip

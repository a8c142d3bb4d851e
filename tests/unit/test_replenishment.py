"""Consumption statistics on seeded histories, against hand-computed values."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gudang.replenishment import Calendar, Pick, Policy, forecast, weighted_rate

JKT = ZoneInfo("Asia/Jakarta")
CAL = Calendar(JKT)  # closed on Sundays
NOW = datetime(2026, 11, 30, 17, 0, tzinfo=JKT)  # a Monday, after work
NOW_MS = int(NOW.timestamp() * 1000)
DAY = timedelta(days=1)


def ms(d: datetime) -> int:
    return int(d.timestamp() * 1000)


def at(day: date, hour: int = 10) -> int:
    return ms(datetime(day.year, day.month, day.day, hour, tzinfo=JKT))


def working(days_back: int) -> list[date]:
    """The working days of the last `days_back` calendar days, oldest first."""
    today = NOW.date()
    return CAL.working_days(today - (days_back - 1) * DAY, today)


FIRST_SEEN = ms(NOW - 60 * DAY)  # long before the 28-day window


def test_steady_demand() -> None:
    days = working(28)
    assert len(days) == 24  # 28 days, 4 Sundays
    picks = [Pick(at(d), -5.0, "pick") for d in days]
    f = forecast(picks, 50.0, now_ms=NOW_MS, first_seen_ms=FIRST_SEEN, calendar=CAL,
                 policy=Policy(lead_time_days=7, review_days=7), whole_units=True)  # fmt: skip
    assert not f.insufficient_history
    assert (f.observed_days, f.pick_days) == (24, 24)
    assert f.rate == pytest.approx(5.0) and f.variability == pytest.approx(0.0, abs=1e-9)
    assert f.days_of_cover == pytest.approx(10.0) and f.urgency == pytest.approx(3.0)
    # 5 a day x 7 days, no noise: no safety stock
    assert f.suggested_reorder_point == pytest.approx(35.0)
    assert f.suggested_order == 20.0  # up to 5 x (7 + 7) = 70 from 50
    # 10 working days from Monday 30 Nov: Sundays 6 and 13 Dec closed -> Friday 11 Dec.
    assert f.stockout_date == date(2026, 12, 11)


def test_noisy_demand_gets_safety_stock() -> None:
    days = working(28)
    picks = [Pick(at(d), -(4.0 if i % 2 else 6.0), "pick") for i, d in enumerate(days)]
    f = forecast(picks, 50.0, now_ms=NOW_MS, first_seen_ms=FIRST_SEEN, calendar=CAL,
                 policy=Policy(lead_time_days=4, half_life_days=0))  # fmt: skip
    sigma = math.sqrt(24 / 23)  # population variance 1, corrected for 24 days
    assert f.rate == pytest.approx(5.0)
    assert f.variability == pytest.approx(sigma)
    z = 1.6448536269514722  # service level 0.95
    assert f.suggested_reorder_point == pytest.approx(5 * 4 + z * sigma * 2)


def test_recent_days_weigh_more() -> None:
    # Half-life of one day: weights 1/64 ... 1/2, 1 for demand 1 ... 7.
    assert weighted_rate([1, 2, 3, 4, 5, 6, 7], 1.0)[0] == pytest.approx(769 / 127)
    days = working(9)[-7:]
    picks = [Pick(at(d), -float(i + 1), "pick") for i, d in enumerate(days)]
    f = forecast(picks, 100.0, now_ms=NOW_MS, first_seen_ms=at(days[0]), calendar=CAL,
                 policy=Policy(half_life_days=1.0))  # fmt: skip
    assert f.observed_days == 7
    assert f.rate == pytest.approx(769 / 127)  # a rising trend: above the plain mean of 4
    assert f.days_of_cover == pytest.approx(100 / (769 / 127))


def test_puts_and_anomalies_are_not_demand() -> None:
    days = working(28)
    picks = [Pick(at(d), -5.0, "pick") for d in days]
    picks += [Pick(at(d, 14), 40.0, "put") for d in days[::5]]  # deliveries
    picks += [Pick(at(d, 15), -0.5, "anomaly") for d in days[::3]]  # half a bar
    f = forecast(picks, 50.0, now_ms=NOW_MS, first_seen_ms=FIRST_SEEN, calendar=CAL,
                 policy=Policy())  # fmt: skip
    assert f.rate == pytest.approx(5.0) and f.variability == pytest.approx(0.0, abs=1e-9)


def test_a_new_or_sparse_sku_says_so() -> None:
    days = working(28)
    sparse = [Pick(at(days[3]), -10.0, "pick"), Pick(at(days[20]), -10.0, "pick")]
    f = forecast(sparse, 50.0, now_ms=NOW_MS, first_seen_ms=FIRST_SEEN, calendar=CAL,
                 policy=Policy())  # fmt: skip
    assert f.insufficient_history and f.rate is None and f.days_of_cover is None
    assert f.pick_days == 2
    new = [Pick(at(d), -5.0, "pick") for d in days[-4:]]  # seen four working days ago
    f = forecast(new, 50.0, now_ms=NOW_MS, first_seen_ms=at(days[-4], 8), calendar=CAL,
                 policy=Policy())  # fmt: skip
    assert f.insufficient_history and f.observed_days == 4
    never = forecast([], None, now_ms=NOW_MS, first_seen_ms=None, calendar=CAL, policy=Policy())
    assert never.insufficient_history and never.observed_days == 0


def test_days_before_the_sku_was_seen_are_not_zero_demand() -> None:
    days = working(28)[-10:]
    picks = [Pick(at(d), -3.0, "pick") for d in days]
    f = forecast(picks, 30.0, now_ms=NOW_MS, first_seen_ms=at(days[0], 7), calendar=CAL,
                 policy=Policy())  # fmt: skip
    assert f.observed_days == 10 and f.rate == pytest.approx(3.0)  # not 10 x 3 / 24


def test_no_consumption_has_no_cover_but_a_suggestion() -> None:
    days = working(28)
    picks = [Pick(at(d), -2.0, "pick") for d in days[:3]]  # three picks, then nothing
    f = forecast(picks, 10.0, now_ms=NOW_MS, first_seen_ms=FIRST_SEEN, calendar=CAL,
                 policy=Policy(half_life_days=0))  # fmt: skip
    assert f.rate == pytest.approx(6 / 24)
    assert f.days_of_cover == pytest.approx(40.0)
    quiet = forecast([Pick(at(d), 5.0, "put") for d in days], 10.0, now_ms=NOW_MS,
                     first_seen_ms=FIRST_SEEN, calendar=CAL, policy=Policy())  # fmt: skip
    assert quiet.insufficient_history  # no picks at all: nothing to forecast from


def test_closed_days_and_holidays() -> None:
    cal = Calendar(JKT, frozenset({6}), frozenset({date(2026, 12, 25)}))
    assert cal.add_working_days(date(2026, 12, 24), 1) == date(2026, 12, 26)  # Christmas shut
    assert cal.add_working_days(date(2026, 12, 26), 1) == date(2026, 12, 28)  # Sunday shut
    assert cal.add_working_days(date(2026, 12, 26), 0.2) == date(2026, 12, 28)  # part of a day
    # A pick on a Sunday (a delivery day off, someone came in) counts on Monday.
    sunday = date(2026, 11, 29)
    days = working(28)
    picks = [Pick(at(d), -5.0, "pick") for d in days if d != NOW.date()]
    picks.append(Pick(at(sunday), -5.0, "pick"))
    f = forecast(picks, 50.0, now_ms=NOW_MS, first_seen_ms=FIRST_SEEN, calendar=CAL,
                 policy=Policy())  # fmt: skip
    assert f.rate == pytest.approx(5.0)

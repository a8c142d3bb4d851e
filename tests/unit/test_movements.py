"""Movements between stable levels: tolerance, noise, and the same answer for
any delivery order or duplication of the same readings."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gudang.collector.movements import BinHistory, Movement, classify
from gudang.site import Sku

REBAR = Sku(id="RB", name="Rebar", unit="pcs", unit_weight_kg=7.4, minimum=5,
            reorder_point=10, reorder_quantity=50)  # fmt: skip
PIPE = Sku(id="EX", name="Pipe", unit="m", unit_weight_kg=1.354, minimum=5,
           reorder_point=10, reorder_quantity=50)  # fmt: skip
OFFCUT = Sku(id="OF", name="Offcut", unit="kg", minimum=5, reorder_point=10, reorder_quantity=50)


@pytest.mark.parametrize(
    ("delta", "kind", "qty"),
    [
        (-22.2, "pick", -3.0),  # exactly 3 bars
        (-22.2 * 1.04, "pick", -3.0),  # 4 % heavier bars: still 3 (x = 3.12)
        (7.4 * 0.6, "anomaly", 0.6),  # 0.6 of a bar: not a whole number of bars
        (-7.4 * 2.5, "anomaly", -2.5),
        (0.05, "none", 0.0),  # below the noise band
        (7.4 * 0.2, "none", 0.0),  # a fifth of a bar: scale noise, not a pick
        (74.0, "put", 10.0),
    ],
)
def test_counted_skus(delta: float, kind: str, qty: float) -> None:
    m = classify(delta, REBAR, noise_kg=0.3, ts=1)
    assert m.kind == kind
    assert m.delta_qty == pytest.approx(qty)


def test_kg_and_metre_skus() -> None:
    assert classify(-13.54, PIPE, 0.15, 1) == Movement(1, "pick", -13.54, pytest.approx(-10.0))
    assert classify(35.5, OFFCUT, 1.5, 1).delta_qty == 35.5
    assert classify(1.0, OFFCUT, 1.5, 1).kind == "none"


def test_history_gives_each_change_once() -> None:
    h = BinHistory(REBAR, 0.1)
    assert h.add(1000, 370.0) == []
    (m,) = h.add(2000, 347.8)
    assert (m.ts, m.kind, m.delta_qty) == (2000, "pick", -3.0)
    assert h.add(2000, 347.8) == []  # duplicate
    assert h.add(3000, 347.8) == []  # a heartbeat at the same level: no movement point


def test_the_band_is_z_standard_errors_of_the_difference() -> None:
    """Levels that are means of many samples know their error: 4 x hypot(0.5,
    0.5) = 2.83 kg of noise band; without it, 3 divisions (0.3 kg)."""
    measured = BinHistory(OFFCUT, 0.1)
    measured.add(1000, 500.0, 0.5)
    assert measured.add(2000, 497.5, 0.5) == []
    (m,) = measured.add(3000, 494.0, 0.5)
    assert (m.kind, m.delta_kg) == ("pick", pytest.approx(-3.5))
    legacy = BinHistory(OFFCUT, 0.1)
    legacy.add(1000, 500.0)
    assert legacy.add(2000, 499.5)[0].kind == "pick"
    precise = BinHistory(OFFCUT, 0.1)  # a tiny error: the band is one division
    precise.add(1000, 500.0, 0.001)
    assert precise.add(2000, 499.85, 0.001)[0].kind == "pick"


def test_a_none_is_written_only_to_replace_an_earlier_answer() -> None:
    h = BinHistory(REBAR, 0.1)
    h.add(1000, 370.0)
    (pick,) = h.add(3000, 362.6)
    assert (pick.ts, pick.kind) == (3000, "pick")
    # The late level shows the bar went at 2000; the level at 3000 is no movement.
    into, replaced = h.add(2000, 362.6)
    assert (into.ts, into.kind) == (2000, "pick")
    assert (replaced.ts, replaced.kind) == (3000, "none")
    assert h.add(2500, 362.6) == []  # none replacing none: nothing to write


@given(st.lists(st.floats(-0.2, 0.2), min_size=2, max_size=60))
def test_levels_in_order_never_write_a_none(wobble: list[float]) -> None:
    h = BinHistory(REBAR, 0.1)
    for i, w in enumerate(wobble):
        assert all(m.kind != "none" for m in h.add(1000 * (i + 1), 370.0 + w))


def test_late_reading_recomputes_both_sides() -> None:
    h = BinHistory(REBAR, 0.1)
    h.add(1000, 370.0)
    (skip,) = h.add(3000, 333.0)  # 5 bars, seen first
    assert skip.delta_qty == -5.0
    before, after = h.add(2000, 355.2)  # the 2-bar pick in between arrives late
    assert (before.ts, before.delta_qty) == (2000, -2.0)
    assert (after.ts, after.delta_qty) == (3000, -3.0)  # replaces the -5 at the same time


def _final(events: list[tuple[int, float]]) -> dict[int, Movement]:
    h = BinHistory(REBAR, 0.1)
    written: dict[int, Movement] = {}
    for ts, kg in events:
        for m in h.add(ts, kg):
            written[m.ts] = m  # InfluxDB keeps the last write per (tags, time)
    return {ts: m for ts, m in written.items() if m.kind != "none"}


@given(
    st.lists(st.integers(-6, 6), min_size=2, max_size=40),
    st.randoms(use_true_random=False),
    st.integers(0, 10),
)
@settings(max_examples=200)
def test_any_order_and_duplicates_give_the_clean_result(
    steps: list[int], rnd: random.Random, dups: int
) -> None:
    levels, kg = [], 400.0
    for i, pieces in enumerate(steps):
        kg += pieces * 7.4
        levels.append((1000 * (i + 1), round(kg, 2)))
    clean = _final(levels)
    messy = levels + [rnd.choice(levels) for _ in range(dups)]
    rnd.shuffle(messy)
    assert _final(messy) == clean


def test_a_seed_learned_late_measures_the_first_movement_and_nothing_else() -> None:
    """InfluxDB was down at start: its last level (20 bars) arrives after 12
    and 9 were counted; only the movement into 12 is measured from it."""
    h = BinHistory(REBAR, division_kg=0.1)
    assert h.add(2000, 12 * 7.4) == []
    (m,) = h.add(3000, 9 * 7.4)
    assert (m.ts, m.delta_qty) == (3000, -3.0)
    (first,) = h.seed(1000, 20 * 7.4)
    assert (first.ts, first.kind, first.delta_qty) == (2000, "pick", -8.0)
    assert h.seed(2500, 50 * 7.4) == []  # newer than a known level: not a last stored level
    assert BinHistory(REBAR, 0.1).seed(1000, 1.0) == []  # nothing known yet: a plain start


def test_a_seed_learned_after_a_large_backlog_still_measures_the_first_movement() -> None:
    """More levels arrived before InfluxDB answered than the window holds: the
    movement into the first of them is still measured from the stored level."""
    h = BinHistory(REBAR, division_kg=0.1, size=8)
    for i in range(20):  # 20 pieces, then one fewer each second
        h.add(1000 * (i + 1), (20 - i) * 7.4)
    (m,) = h.seed(500, 23 * 7.4)  # stored before the restart: 23 pieces
    assert (m.ts, m.kind, m.delta_qty) == (1000, "pick", -3.0)
    (older,) = h.seed(400, 30 * 7.4)  # an older one still: the movement into the one after it
    assert (older.ts, older.delta_qty) == (500, -7.0)

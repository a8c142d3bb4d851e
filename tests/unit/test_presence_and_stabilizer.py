"""RFID presence and the stabilizer for indicators without a stable flag."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gudang.edge.presence import Presence, PresenceEvent
from gudang.edge.stabilizer import Stabilizer


def test_tag_arrives_after_n_reads_and_departs_after_silence() -> None:
    p = Presence(arrive_reads=3, depart_after_s=0.3)
    assert p.read("AB12CD34EF", 0, None, 0.000) is None
    assert p.read("AB12CD34EF", 0, None, 0.065) is None
    assert p.read("AB12CD34EF", 0, None, 0.130) == PresenceEvent("AB12CD34EF", 0, "arrived", None)
    for i in range(3, 40):  # a tag lying in the field, read every 65 ms
        assert p.read("AB12CD34EF", 0, None, i * 0.065) is None
    assert p.duplicates == 37
    assert p.expire(2.6) == []
    assert p.expire(2.9) == [PresenceEvent("AB12CD34EF", 0, "departed", None)]
    assert p.present == []


def test_a_single_stray_read_is_not_an_arrival() -> None:
    p = Presence(arrive_reads=2, depart_after_s=3.0)
    assert p.read("E2", 0, -70, 0.0) is None
    assert p.expire(3.5) == []  # forgotten silently
    assert p.read("E2", 0, -70, 10.0) is None


def test_antennas_are_separate_and_rssi_is_smoothed() -> None:
    p = Presence(arrive_reads=2, depart_after_s=3.0)
    p.read("E2", 0, -60, 0.0)
    arrived = p.read("E2", 0, -50, 0.1)
    assert arrived == PresenceEvent("E2", 0, "arrived", -57.0)
    assert p.read("E2", 1, -70, 0.2) is None
    assert p.read("E2", 1, -70, 0.3) is not None
    assert sorted(p.present) == [("E2", 0), ("E2", 1)]


def test_a_missed_read_near_steel_does_not_flap() -> None:
    p = Presence(arrive_reads=2, depart_after_s=1.0)
    events = []
    t = 0.0
    for i in range(100):
        t = i * 0.1
        if i % 3 == 0:  # every third inventory round misses the tag
            continue
        if (e := p.read("E2", 0, -60, t)) is not None:
            events.append(e.event)
        events += [e.event for e in p.expire(t)]
    assert events == ["arrived"]


@given(st.lists(st.floats(min_value=0.0, max_value=0.2), min_size=1, max_size=200))
def test_presence_alternates_arrived_departed(gaps: list[float]) -> None:
    p = Presence(arrive_reads=2, depart_after_s=0.15)
    t, events = 0.0, []
    for gap in gaps:
        t += gap
        events += [e.event for e in p.expire(t)]
        if (e := p.read("E2", 0, None, t)) is not None:
            events.append(e.event)
    events += [e.event for e in p.expire(t + 1)]
    assert events == ["arrived", "departed"] * (len(events) // 2)


def test_stabilizer_needs_a_full_quiet_window() -> None:
    s = Stabilizer(window_s=1.0, band=0.02)
    assert not s.offer(100.00, 0.0)
    assert not s.offer(100.01, 0.5)
    assert s.offer(100.01, 1.0)
    assert not s.offer(103.00, 1.1)  # a pick: the old load is still in the window
    assert not s.offer(103.00, 1.6)
    assert not s.offer(103.00, 2.0)  # 1.0 (100.01) is still exactly in the window
    assert s.offer(103.00, 2.15)


def test_stabilizer_rejects_bad_settings() -> None:
    with pytest.raises(ValueError):
        Stabilizer(0, 0.1)


@given(st.lists(st.floats(min_value=-5, max_value=5), min_size=12, max_size=60))
def test_stable_only_when_the_window_is_within_band(noise: list[float]) -> None:
    s = Stabilizer(window_s=1.0, band=1.0)
    for i, n in enumerate(noise):
        t = i * 0.1
        stable = s.offer(100 + n, t)
        window = [100 + x for j, x in enumerate(noise[: i + 1]) if t - j * 0.1 <= 1.0 + 1e-9]
        if stable:
            assert max(window) - min(window) <= 1.0 + 1e-6

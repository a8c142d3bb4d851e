"""The edge's reading filter: stable changes, faults and heartbeats, nothing else."""

from __future__ import annotations

import pytest
from gudang.edge.protocols.base import ScaleFrame
from gudang.edge.readings import ReadingFilter
from hypothesis import given
from hypothesis import strategies as st


def stable(w: float) -> ScaleFrame:
    return ScaleFrame(w, "kg", "gross", True)


def moving(w: float) -> ScaleFrame:
    return ScaleFrame(w, "kg", "gross", False)


def test_first_stable_sample_is_published() -> None:
    f = ReadingFilter(0.01, 1, heartbeat_s=30)
    d = f.offer(stable(172.8), 0.0)
    assert d is not None and d.reason == "change"


def test_same_value_is_not_republished_until_heartbeat() -> None:
    f = ReadingFilter(0.01, 1, heartbeat_s=30)
    f.offer(stable(172.8), 0.0)
    assert all(f.offer(stable(172.8), t / 10) is None for t in range(1, 299))
    d = f.offer(stable(172.8), 30.0)
    assert d is not None and d.reason == "heartbeat"


def test_one_division_flicker_is_within_deadband() -> None:
    f = ReadingFilter(0.01, 1, heartbeat_s=30)
    f.offer(stable(172.80), 0.0)
    # 172.81 - 172.80 is 0.0100000000000193 in floating point: still one division.
    assert f.offer(stable(172.81), 0.1) is None
    assert f.offer(stable(172.79), 0.2) is None
    d = f.offer(stable(172.82), 0.3)
    assert d is not None and d.reason == "change"


def test_motion_is_not_published_but_the_settled_value_is() -> None:
    f = ReadingFilter(0.1, 1, heartbeat_s=30)
    f.offer(stable(100.0), 0.0)
    for i in range(10):
        assert f.offer(moving(100.0 - i * 3), 0.1 * (i + 1)) is None
    d = f.offer(stable(77.6), 1.2)
    assert d is not None and d.reason == "change" and d.frame.weight == 77.6


def test_fault_published_once_then_recovery() -> None:
    f = ReadingFilter(0.1, 1, heartbeat_s=30)
    f.offer(stable(100.0), 0.0)
    over = ScaleFrame(None, "kg", "gross", False, "overload")
    d = f.offer(over, 1.0)
    assert d is not None and d.reason == "change" and d.frame.state == "overload"
    assert f.offer(over, 1.1) is None
    d = f.offer(stable(100.0), 2.0)
    assert d is not None and d.reason == "change"


def test_tare_display_is_ignored() -> None:
    f = ReadingFilter(0.1, 1, heartbeat_s=30)
    assert f.offer(ScaleFrame(5.0, "kg", "tare", True), 0.0) is None


def test_invalid_settings_refused() -> None:
    with pytest.raises(ValueError):
        ReadingFilter(0, 1, 30)
    with pytest.raises(ValueError):
        ReadingFilter(0.1, 1, 0)


@given(st.lists(st.tuples(st.integers(-50, 50), st.booleans()), min_size=1, max_size=300))
def test_publishes_at_most_one_change_per_stable_move_and_never_per_sample(
    samples: list[tuple[int, bool]],
) -> None:
    """However noisy the stream, messages <= stable moves + heartbeats, and every
    published change differs from the previous one by more than the deadband."""
    f = ReadingFilter(0.1, 2, heartbeat_s=5)
    last_change: float | None = None
    changes = 0
    for i, (div, is_stable) in enumerate(samples):
        w = round(100 + div * 0.1, 1)
        d = f.offer(ScaleFrame(w, "kg", "gross", is_stable), i * 0.1)
        if d is not None and d.reason == "change":
            assert d.frame.stable
            if last_change is not None:
                assert abs(w - last_change) > 0.2 - 1e-9
            last_change = w
            changes += 1
    assert changes <= sum(1 for _, s in samples if s)

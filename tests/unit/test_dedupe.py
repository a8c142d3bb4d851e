"""Duplicate suppression and the confirmations it feeds (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gudang.collector.dedupe import SeqWindow


def test_seen_only_after_mark() -> None:
    w = SeqWindow()
    assert not w.seen("d", "b", 0)
    w.mark("d", "b", 0)
    assert w.seen("d", "b", 0) and w.duplicates == 1
    assert not w.seen("d", "other-boot", 0)


def test_ranges_of_a_stream_with_gaps() -> None:
    w = SeqWindow()
    for seq in [0, 1, 2, 5, 6, 9]:
        w.mark("d", "b", seq)
    assert w.ranges("d", "b") == [(0, 2), (5, 6), (9, 9)]
    assert w.ranges("d", "b", limit=2) == [(5, 6), (9, 9)]  # the newest ones
    assert w.ranges("d", "nope") == []


def test_a_stream_joined_late_is_one_range() -> None:
    w = SeqWindow()
    for seq in range(5000, 5100):
        w.mark("d", "b", seq)
    assert w.ranges("d", "b") == [(5000, 5099)]


@given(st.sets(st.integers(0, 300), max_size=200))
def test_ranges_cover_exactly_what_was_marked(marked: set[int]) -> None:
    w = SeqWindow()
    for seq in marked:
        w.mark("d", "b", seq)
    covered = {s for lo, hi in w.ranges("d", "b", limit=10_000) for s in range(lo, hi + 1)}
    assert covered == marked

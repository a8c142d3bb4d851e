"""The edge's reading filter: settled plateaus, faults and heartbeats, nothing else."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gudang.edge.plateau import NoiseEstimate, Plateau
from gudang.edge.protocols.base import ScaleFrame
from gudang.edge.readings import Decision, ReadingFilter

RATE = 10.0  # samples a second, as an A&D indicator streams


def stable(w: float) -> ScaleFrame:
    return ScaleFrame(w, "kg", "gross", True)


def moving(w: float) -> ScaleFrame:
    return ScaleFrame(w, "kg", "gross", False)


class Feed:
    """Samples into a filter at RATE a second; keeps what it decided."""

    def __init__(self, f: ReadingFilter, t: float = 0.0) -> None:
        self.f = f
        self.t = t
        self.out: list[Decision] = []

    def __call__(self, frame: ScaleFrame, force: bool = False) -> Decision | None:
        d = self.f.offer(frame, self.t, force=force)
        self.t += 1 / RATE
        if d is not None:
            self.out.append(d)
        return d

    def changes(self) -> list[Decision]:
        return [d for d in self.out if d.reason == "change"]

    def heartbeats(self) -> list[Decision]:
        return [d for d in self.out if d.reason == "heartbeat"]


def noisy(level: float, sigma: float, division: float, rng: random.Random) -> float:
    return round(round((level + rng.gauss(0, sigma)) / division) * division, 6)


def test_a_settled_plateau_is_published_once_as_the_mean_of_its_samples() -> None:
    feed = Feed(ReadingFilter(0.01, 1, heartbeat_s=30, settle_s=1.0))
    values = [172.80, 172.81, 172.79, 172.80, 172.82, 172.80, 172.79, 172.80, 172.81, 172.80, 172.8]
    for w in values:
        feed(stable(w))
    [d] = feed.changes()
    assert d.frame.stable and d.samples == len(values)
    assert d.frame.weight == pytest.approx(sum(values) / len(values), abs=1e-4)
    assert d.spread is not None and 0 < d.spread < 0.02
    assert d.noise is not None and d.noise > 0
    for _ in range(200):  # 20 s more of the same: nothing new
        feed(stable(172.80))
    assert len(feed.changes()) == 1


def test_nothing_is_published_before_the_plateau_settles() -> None:
    feed = Feed(ReadingFilter(0.1, 1, heartbeat_s=30, settle_s=1.0))
    for _ in range(10):  # 0.0 .. 0.9 s
        assert feed(stable(50.0)) is None
    assert feed(stable(50.0)) is not None  # the eleventh, 1.0 s after the first


def test_a_display_flickering_by_one_division_publishes_only_heartbeats() -> None:
    """12.33 / 12.34 / 12.35, all flagged stable, for ten minutes."""
    rng = random.Random(7)
    feed = Feed(ReadingFilter(0.01, 1, heartbeat_s=30))
    for _ in range(int(600 * RATE)):
        feed(stable(rng.choice([12.33, 12.34, 12.35])))
    assert len(feed.changes()) == 1  # the first plateau
    assert 19 <= len(feed.heartbeats()) <= 20  # one a 30 s
    assert all(d.frame.stable and d.samples > 100 for d in feed.heartbeats())
    assert all(abs(d.frame.weight - 12.34) < 0.01 for d in feed.heartbeats())  # type: ignore[operator]


def test_heartbeats_repeat_the_plateau_and_never_move_the_reference() -> None:
    """A slow creep carried by heartbeats is still measured from the published
    plateau: a touch that settles within the band of it publishes nothing."""
    feed = Feed(ReadingFilter(0.1, 1, heartbeat_s=5))
    for _ in range(20):
        feed(stable(100.0))
    assert len(feed.changes()) == 1
    for _ in range(200):  # heartbeats every 5 s
        feed(stable(100.0))
    for _ in range(10):  # someone leans on the rack
        feed(moving(103.0))
    for _ in range(30):
        feed(stable(100.1))
    assert len(feed.changes()) == 1
    assert len(feed.heartbeats()) >= 4


def test_motion_is_not_published_but_the_settled_mean_is() -> None:
    feed = Feed(ReadingFilter(0.1, 1, heartbeat_s=30))
    for _ in range(20):
        feed(stable(100.0))
    for i in range(10):
        assert feed(moving(100.0 - i * 3)) is None
    for w in [77.6, 77.7, 77.6, 77.5, 77.6, 77.6, 77.7, 77.6, 77.5, 77.6, 77.6]:
        feed(stable(w))
    d = feed.changes()[-1]
    assert len(feed.changes()) == 2 and d.frame.weight == pytest.approx(77.6, abs=0.01)


def test_a_step_the_indicator_did_not_flag_is_a_new_plateau() -> None:
    feed = Feed(ReadingFilter(0.1, 1, heartbeat_s=30))
    for _ in range(20):
        feed(stable(100.0))
    for _ in range(20):
        feed(stable(92.6))
    assert [d.frame.weight for d in feed.changes()] == [100.0, 92.6]


def test_a_spike_is_dropped() -> None:
    feed = Feed(ReadingFilter(0.1, 1, heartbeat_s=30))
    for _ in range(20):
        feed(stable(100.0))
    feed(stable(140.0))
    feed(stable(140.0))
    for _ in range(20):
        feed(stable(100.0))
    assert len(feed.changes()) == 1 and feed.f.spikes == 2


def test_fault_published_once_then_recovery_once_settled() -> None:
    feed = Feed(ReadingFilter(0.1, 1, heartbeat_s=30))
    for _ in range(20):
        feed(stable(100.0))
    over = ScaleFrame(None, "kg", "gross", False, "overload")
    d = feed(over)
    assert d is not None and d.reason == "change" and d.frame.state == "overload"
    assert feed(over) is None
    for _ in range(20):
        feed(stable(100.0))
    assert [d.frame.state for d in feed.changes()] == ["ok", "overload", "ok"]


def test_heartbeat_while_settling_or_moving_is_not_a_level() -> None:
    feed = Feed(ReadingFilter(0.1, 1, heartbeat_s=1))
    for _ in range(30):
        feed(moving(50.0))
    assert feed.heartbeats() and not any(d.frame.stable for d in feed.heartbeats())


def test_a_noisy_scale_averages_until_one_piece_stands_out() -> None:
    """sigma 2 kg, a piece of 7.4 kg counted within 0.3: the mean needs
    4 * 2 * sqrt(2 / n) <= 2.22, n >= 26 samples, not the 1 s default."""
    rng = random.Random(3)
    feed = Feed(ReadingFilter(0.1, 1, heartbeat_s=30, resolution_kg=7.4 * 0.3, settle_max_s=8))
    for _ in range(300):  # learn the noise
        feed(stable(noisy(1000.0, 2.0, 0.1, rng)))
    for _ in range(10):
        feed(moving(990.0))
    start = feed.t
    while len(feed.changes()) < 2 and feed.t - start < 10:
        feed(stable(noisy(992.6, 2.0, 0.1, rng)))
    d = feed.changes()[-1]
    assert 26 <= d.samples <= 60
    assert d.frame.weight == pytest.approx(992.6, abs=1.0)


def test_settle_max_bounds_the_wait() -> None:
    rng = random.Random(4)
    feed = Feed(ReadingFilter(0.1, 1, heartbeat_s=30, resolution_kg=0.1, settle_max_s=3))
    while not feed.changes() and feed.t < 10:
        feed(stable(noisy(1000.0, 2.0, 0.1, rng)))
    assert feed.changes() and feed.changes()[0].samples == pytest.approx(30, abs=1)


def test_force_publishes_the_settled_plateau() -> None:
    feed = Feed(ReadingFilter(0.1, 1, heartbeat_s=30))
    for _ in range(20):
        feed(stable(100.0))
    d = feed(stable(100.0), force=True)
    assert d is not None and d.reason == "change" and d.frame.weight == 100.0


def test_a_new_unit_starts_afresh() -> None:
    feed = Feed(ReadingFilter(0.1, 1, heartbeat_s=30))
    for _ in range(20):
        feed(stable(100.0))
    for _ in range(20):
        feed(ScaleFrame(220.5, "lb", "gross", True))
    assert [(d.frame.weight, d.frame.unit) for d in feed.changes()] == [
        (100.0, "kg"), (220.5, "lb"),
    ]  # fmt: skip


def test_tare_display_is_ignored() -> None:
    f = ReadingFilter(0.1, 1, heartbeat_s=30)
    assert f.offer(ScaleFrame(5.0, "kg", "tare", True), 0.0) is None


def test_invalid_settings_refused() -> None:
    with pytest.raises(ValueError):
        ReadingFilter(0, 1, 30)
    with pytest.raises(ValueError):
        ReadingFilter(0.1, 1, 0)
    with pytest.raises(ValueError):
        ReadingFilter(0.1, 1, 30, settle_s=5, settle_max_s=2)


@pytest.mark.parametrize("sigma", [0.05, 0.5, 2.0])
def test_noise_is_learned_from_stable_samples(sigma: float) -> None:
    rng = random.Random(11)
    feed = Feed(ReadingFilter(0.01, 1, heartbeat_s=30))
    for i in range(3000):
        if i % 500 == 499:  # a pick now and then
            for _ in range(10):
                feed(moving(0.0))
        feed(stable(noisy(500.0 - (i // 500) * 10, sigma, 0.01, rng)))
    assert feed.f.sigma == pytest.approx(sigma, rel=0.2)


def test_noise_estimate_floor_and_validation() -> None:
    n = NoiseEstimate(0.03)
    for _ in range(50):
        n.sample(10.0)
    assert n.sigma == 0.03
    with pytest.raises(ValueError):
        NoiseEstimate(0)


def test_plateau_window_follows_drift_and_keeps_its_sums_exact() -> None:
    p = Plateau(100.0, 0.0, window=50)
    for i in range(1, 2000):
        p.add(100.0 + i * 0.001)
    assert p.n == 50 and p.total == 2000
    assert p.mean == pytest.approx(100.0 + 1974.5 * 0.001, abs=1e-9)
    assert p.spread == pytest.approx(0.001 * (50 * 51 / 12) ** 0.5, rel=1e-6)


def _warm(f: ReadingFilter, level: float, sigma: float, rng: random.Random, t: float) -> float:
    for _ in range(400):
        f.offer(stable(noisy(level, sigma, 0.1, rng)), t)
        t += 1 / RATE
    return t


@settings(max_examples=150, deadline=None)
@given(
    sigma=st.sampled_from([0.1, 0.3, 1.0, 2.0]),
    offsets=st.lists(st.floats(-2.0, 2.0), min_size=1, max_size=400),
    seed=st.integers(0, 2**16),
)
def test_noise_within_the_measured_spread_never_publishes_a_change(
    sigma: float, offsets: list[float], seed: int
) -> None:
    """Once the noise is learned, any stable samples within two noise widths
    of the level (in any order, for any time) never make a change."""
    rng = random.Random(seed)
    f = ReadingFilter(0.1, 1, heartbeat_s=30)
    t = _warm(f, 500.0, sigma, rng, 0.0)
    learned = f.sigma
    for x in offsets:
        w = round(round((500.0 + x * learned) / 0.1) * 0.1, 6)
        d = f.offer(stable(w), t)
        t += 1 / RATE
        assert d is None or d.reason == "heartbeat"


@settings(max_examples=150, deadline=None)
@given(
    sigma=st.sampled_from([0.1, 0.3, 1.0, 2.0]),
    k=st.floats(8.0, 200.0),
    down=st.booleans(),
    motion=st.integers(0, 30),
    seed=st.integers(0, 2**16),
)
def test_a_step_of_k_noise_widths_publishes_exactly_one_change(
    sigma: float, k: float, down: bool, motion: int, seed: int
) -> None:
    """With or without motion between, a step to a new level is published
    once, as the mean of the new plateau."""
    rng = random.Random(seed)
    f = ReadingFilter(0.1, 1, heartbeat_s=3600)
    t = _warm(f, 1000.0, sigma, rng, 0.0)
    step = k * f.sigma * (-1 if down else 1)
    for _ in range(motion):
        f.offer(moving(1000.0 + step / 2), t)
        t += 1 / RATE
    changes = []
    for _ in range(300):
        d = f.offer(stable(noisy(1000.0 + step, sigma, 0.1, rng)), t)
        t += 1 / RATE
        if d is not None:
            changes.append(d)
    assert len(changes) == 1
    se = f.sigma / changes[0].samples ** 0.5
    assert changes[0].frame.weight == pytest.approx(1000.0 + step, abs=5 * se + 0.1)


def test_a_burst_of_samples_read_at_once_still_settles_by_their_count() -> None:
    """A starved edge reads two seconds of samples in one go (one `now` for
    all): the plateau between two picks still settles, by its samples at the
    indicator's rate, and each pick is published."""
    f = ReadingFilter(0.1, 1, heartbeat_s=30)
    t = 0.0
    out = []
    for _ in range(30):  # a normal start: the rate is learned (10 a second)
        d = f.offer(stable(100.0), t)
        out += [d] if d else []
        t += 0.1
    for level in (92.6, 85.2):  # two picks; the edge stalls 2.5 s, then reads it all at once
        t += 2.5
        for _ in range(5):
            f.offer(moving(level + 3), t)
        for _ in range(20):
            d = f.offer(stable(level), t)  # the same `now` for the whole burst
            out += [d] if d else []
    assert [d.frame.weight for d in out if d.reason == "change"] == [100.0, 92.6, 85.2]

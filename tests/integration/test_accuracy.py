"""Counting accuracy on a seeded day: the simulator's indicators through the
edge's decoders and plateau filter into the collector's engine and alerts, in
virtual time (gudang/accuracy.py; bench/accuracy.py prints the same at
several noise levels)."""

from __future__ import annotations

from pathlib import Path

from gudang.accuracy import run_day


def test_a_noisy_day_is_counted_exactly(tmp_path: Path) -> None:
    """Noise up to 0.1 % of capacity (twice the field trial's base), drift,
    motion after every pick, half bars cut on one bin, quiet bins whose display
    flickers by a division: every movement exact (at least 99.5 %), none
    invented, one anomaly alert for the faulty bin only, no scale fault from
    motion, and a quiet bin publishes its heartbeats and nothing else."""
    r = run_day(noise=0.001, minutes=40, per_class=4, seed=20261130, workdir=tmp_path)
    assert r.refused == 0
    assert r.true_movements > 900
    assert r.exact_pct >= 99.5, (r.wrong, r.missed)
    assert r.spurious == []
    assert set(r.anomaly_alerts) <= set(r.faulty_bins)
    assert all(n <= 1 for n in r.anomaly_alerts.values()), r.anomaly_alerts
    assert r.fault_readings > 0  # big picks did swing the displays out of range...
    assert r.fault_alerts == 0  # ...and that is not a fault
    # One plateau at start, then a heartbeat every 30 s: 2 a minute.
    assert r.quiet_readings_per_min <= r.heartbeats_per_min + 1 / r.minutes
    assert r.warnings == []  # the site's SKUs are countable at this noise

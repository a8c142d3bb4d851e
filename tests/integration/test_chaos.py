"""The chaos run (gudang/chaos.py) in CI: a minute of seeded picks and puts
with the collector, the broker, the edge and InfluxDB killed at random.
A longer run: .venv/bin/python bench/chaos.py --steps 300."""

from __future__ import annotations

from pathlib import Path

from gudang.chaos import run_chaos


def test_nothing_lost_nothing_doubled_through_random_kills(tmp_path: Path) -> None:
    result = run_chaos(steps=36, seed=20261130, fault_rate=0.35, workdir=tmp_path, say=print)
    assert sum(result.faults.values()) >= 6, result.faults  # the seed does hit every kind
    assert set(result.faults) == {"collector", "broker", "edge", "influxdb", "simulator"}, (
        result.faults
    )
    assert result.seq_gaps == []
    assert result.found == result.expected
    assert result.stock_ok, (result.stored, result.final)  # within STOCK_PRECISION

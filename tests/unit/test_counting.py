"""What a scale can count (gudang.site.counting) and the collector's warnings."""

from __future__ import annotations

import math

import pytest

from gudang.collector.counting import CountingWatch
from gudang.contract import DeviceStatus
from gudang.site import parse_site
from gudang.site.counting import Z, resolution, smallest_unit

SITE = parse_site("""\
site: {id: s1, name: Test}
devices:
  - {id: s1, protocol: toledo-continuous, port: /dev/ttyUSB0, division_kg: 0.1}
  - {id: s2, protocol: ad-continuous, port: /dev/ttyUSB1, division_kg: 0.05}
skus:
  - {id: RB-D10, name: Rebar, unit: pcs, unit_weight_kg: 7.4, minimum: 1, reorder_point: 2, reorder_quantity: 5}
  - {id: PL, name: Plate, unit: pcs, unit_weight_kg: 46.66, minimum: 1, reorder_point: 2, reorder_quantity: 5}
bins:
  - {id: C1, rack: C, device: s1, sku: RB-D10}
  - {id: A1, rack: A, device: s2, sku: PL}
""")  # fmt: skip


def test_resolution_is_z_standard_errors_of_a_difference_and_at_least_a_division() -> None:
    assert resolution(0.1) == 0.1
    assert resolution(0.1, 2.0, 32) == pytest.approx(Z * 2.0 * math.sqrt(2 / 32))
    assert resolution(0.5, 0.01, 100) == 0.5
    assert smallest_unit(0.1, 2.0, 32, 0.3) == pytest.approx(Z * 2.0 / 4 / 0.3)


def status(device: str, noise: float | None, samples: int | None) -> DeviceStatus:
    return DeviceStatus(subject="device", id=device, state="online", noise_kg=noise,
                        max_plateau_samples=samples)  # fmt: skip


def test_the_collector_warns_once_per_change_for_the_scale_that_reported() -> None:
    watch = CountingWatch(SITE)
    assert watch.at_start() == []
    assert watch.status(status("s1", None, None)) == []  # nothing measured yet
    [warning] = watch.status(status("s1", 4.0, 81))  # 4 x 4 x sqrt(2/81) = 2.51 > 2.22
    assert warning.startswith("RB-D10: one piece is 7.4 kg, the scale's noise is 4 kg")
    assert watch.status(status("s1", 4.1, 81)) == []  # the same warning: said already
    assert watch.status(status("s2", 4.0, 81)) == []  # plate: 46.66 kg counts fine
    assert watch.status(status("s1", 1.0, 81)) == []  # quieter: no warning now
    assert len(watch.status(status("s1", 4.0, 81))) == 1  # noisy again: said again

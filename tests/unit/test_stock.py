"""Stock math of the collector (pure, no services)."""

from __future__ import annotations

import pytest

from gudang.collector.points import bin_stock_point, reading_point
from gudang.collector.stock import bin_levels, to_kg
from gudang.contract import WeightReading
from gudang.influx import encode
from gudang.site import parse_site

SITE = parse_site("""\
site: {id: s1, name: Test}
devices:
  - {id: scale-1, protocol: ad-continuous, port: /dev/ttyUSB0}
  - {id: scale-2, protocol: ad-continuous, port: /dev/ttyUSB1}
  - {id: scale-3, protocol: ad-continuous, port: /dev/ttyUSB2}
skus:
  - {id: RB-D10, name: Rebar, unit: pcs, unit_weight_kg: 7.4, minimum: 5, reorder_point: 10, reorder_quantity: 50}
  - {id: EXH-150, name: Pipe, unit: m, unit_weight_kg: 1.354, minimum: 60, reorder_point: 120, reorder_quantity: 300}
  - {id: OFF, name: Offcut, unit: kg, minimum: 50, reorder_point: 50, reorder_quantity: 200}
bins:
  - {id: C1, rack: C, device: scale-1, sku: RB-D10, tare_kg: 60}
  - {id: B1, rack: B, device: scale-2, sku: EXH-150, tare_kg: 32.5}
  - {id: C4, rack: C, device: scale-3, sku: OFF, tare_kg: 120}
""")  # fmt: skip


def reading(device: str = "scale-1", **kw: object) -> WeightReading:
    base: dict[str, object] = {
        "device_id": device, "boot_id": "b", "seq": 1, "ts": 1_764_000_000_000,
        "weight": 60 + 7.4 * 25, "unit": "kg", "stable": True, "reason": "change",
    }  # fmt: skip
    return WeightReading.model_validate({**base, **kw})


def test_pieces_metres_and_kilograms() -> None:
    (lv,) = bin_levels(SITE, reading())
    assert lv.net_kg == pytest.approx(185.0)
    assert lv.quantity == pytest.approx(25)
    (lv,) = bin_levels(SITE, reading("scale-2", weight=32.5 + 1.354 * 140))
    assert lv.quantity == pytest.approx(140)
    (lv,) = bin_levels(SITE, reading("scale-3", weight=245.5))
    assert lv.quantity == pytest.approx(125.5)


def test_units_of_the_indicator_are_converted() -> None:
    (lv,) = bin_levels(SITE, reading(weight=245_000, unit="g"))
    assert lv.net_kg == pytest.approx(185.0)
    assert to_kg(1, "lb") == pytest.approx(0.45359237)
    assert to_kg(0.5, "t") == 500


def test_net_mode_uses_the_indicators_tare() -> None:
    (lv,) = bin_levels(SITE, reading(weight=74.0, mode="net"))
    assert lv.gross_kg is None
    assert lv.quantity == pytest.approx(10)


@pytest.mark.parametrize(
    "kw",
    [
        {"stable": False},
        {"state": "overload", "weight": None},
        {"state": "underload", "weight": None},
    ],
)
def test_motion_and_faults_change_no_stock(kw: dict[str, object]) -> None:
    assert bin_levels(SITE, reading(**kw)) == []


def test_points_use_device_time_and_low_cardinality_tags() -> None:
    r = reading()
    rp = reading_point("s1", r)
    assert rp.time_ms == r.ts
    assert set(rp.tags) == {"site", "device", "channel"}
    assert "seq" in rp.fields and "boot_id" in rp.fields  # per-message ids are fields
    (lv,) = bin_levels(SITE, r)
    sp = bin_stock_point("s1", lv)
    assert set(sp.tags) == {"site", "bin", "rack", "sku"}
    assert encode(sp).endswith(" 1764000000000")

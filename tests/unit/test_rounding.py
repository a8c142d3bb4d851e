"""Quantities as people read them: whole pieces within the count tolerance,
kilograms and metres to the scale's resolution."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gudang.site import Rounding, parse_site
from gudang.site.rounding import decimals_for


@pytest.mark.parametrize(
    ("step", "decimals"),
    [(0.05, 2), (0.02, 2), (0.1, 1), (0.5, 1), (1.0, 0), (2.0, 0), (0.0508, 2), (1e-9, 3)],
)
def test_decimals_for_a_step(step: float, decimals: int) -> None:
    assert decimals_for(step) == decimals


def test_pieces_whole_within_the_tolerance() -> None:
    r = Rounding.of("pcs", 0.1, 46.66, 0.3)
    assert r.qty(19.00128589798543) == 19.0
    assert r.qty(101.99999999999999) == 102.0
    assert r.qty(18.72) == 19.0
    assert r.qty(18.6) == 18.6  # off by 0.4 piece: shown, not hidden
    assert r.qty(-0.1) == 0.0 and math.copysign(1, r.qty(-0.1)) == 1.0  # never "-0"
    assert r.text(19.00128) == "19"
    assert r.text(18.6) == "18.6"


def test_kilograms_and_metres_to_the_division() -> None:
    offcut = Rounding.of("kg", 0.5, None, 0.3)
    assert offcut.qty(35.50200000000001) == 35.5
    assert offcut.kg(-93.40000000000009) == -93.4
    pipe = Rounding.of("m", 0.02, 0.394, 0.3)  # 0.05 m a division
    assert pipe.qty(250.1234) == 250.12
    assert pipe.kg(98.5400000001) == 98.54
    assert pipe.text(250.1) == "250.1"
    assert pipe.text(250.0) == "250"


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
       st.sampled_from([0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]))  # fmt: skip
def test_rounding_moves_a_value_by_less_than_its_resolution(value: float, division: float) -> None:
    r = Rounding.of("kg", division, None, 0.3)
    assert abs(r.qty(value) - value) <= 0.5 * 10**-r.qty_decimals + 1e-9
    assert round(r.qty(value), r.qty_decimals) == r.qty(value)  # nothing finer left


def test_a_site_rounds_each_sku_by_its_finest_scale() -> None:
    site = parse_site("""\
site: {id: s1, name: Test}
devices:
  - {id: a, protocol: ad-continuous, port: /dev/ttyUSB0, division_kg: 0.5}
  - {id: b, protocol: ad-continuous, port: /dev/ttyUSB1, division_kg: 0.05}
skus:
  - {id: OFF, name: Offcuts, unit: kg, minimum: 5, reorder_point: 10, reorder_quantity: 50}
  - {id: PL, name: Plate, unit: pcs, unit_weight_kg: 46.66, minimum: 5, reorder_point: 10,
     reorder_quantity: 50, unit_name: {id: lembar, en: sheets}}
bins:
  - {id: C1, rack: C, device: a, sku: OFF}
  - {id: C2, rack: C, device: b, channel: 0, sku: OFF}
  - {id: A1, rack: A, device: a, channel: 1, sku: PL}
""")
    off, plate = site.sku("OFF"), site.sku("PL")
    assert site.rounding(off).qty(12.3456) == 12.35  # the 0.05 kg scale
    assert site.rounding(plate).kg(93.35000000000014) == 93.4  # the 0.5 kg scale
    assert (plate.display_unit.id, plate.display_unit.en) == ("lembar", "sheets")
    assert (off.display_unit.id, off.display_unit.en) == ("kg", "kg")

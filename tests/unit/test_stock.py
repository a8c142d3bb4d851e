"""Stock math and intake checks of the collector (pure, no services)."""

from __future__ import annotations

import json

import pytest
from gudang.collector.intake import MAX_PAYLOAD, Accepted, classify
from gudang.collector.points import bin_stock_point, reading_point
from gudang.collector.stock import bin_levels, to_kg
from hypothesis import given
from hypothesis import strategies as st

from gudang.contract import DeadLetter, WeightReading
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


def _topic(device: str = "scale-1", site: str = "s1") -> str:
    return f"gudang/v1/{site}/device/{device}/reading"


def test_intake_accepts_a_valid_reading() -> None:
    result = classify(SITE, _topic(), reading().model_dump_json().encode())
    assert isinstance(result, Accepted)


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (_topic(), b"not json", "invalid payload"),
        (_topic(), b"\xff\xfe", "invalid payload"),
        (_topic(), b'{"device_id": "scale-1"}', "invalid payload"),
        (_topic(), b"x" * (MAX_PAYLOAD + 1), "exceeds"),
        (_topic(site="other"), None, "not this collector's site"),
        (_topic(device="scale-2"), None, "differs from the topic"),
        (_topic(device="scale-9"), "scale-9", "unknown device"),
        ("gudang/v1/s1/device/scale-1/tag", None, "invalid payload"),
        ("gudang/v1/s1/device/scale-1/status", None, "not a reading or tag topic"),
        (_topic(), "absurd", "absurd weight"),
    ],
)
def test_intake_dead_letters_with_reason(
    topic: str, payload: bytes | str | None, reason: str
) -> None:
    if payload is None:
        payload = reading().model_dump_json().encode()
    elif payload == "scale-9":
        payload = reading("scale-9").model_dump_json().encode()
    elif payload == "absurd":
        payload = reading(weight=5e9).model_dump_json().encode()
    result = classify(SITE, topic, payload)  # type: ignore[arg-type]
    assert isinstance(result, DeadLetter)
    assert reason in result.reason
    assert result.payload_size == len(payload)  # type: ignore[arg-type]
    json.loads(result.model_dump_json())


@given(st.binary(max_size=600))
def test_intake_never_raises(payload: bytes) -> None:
    assert isinstance(classify(SITE, _topic(), payload), Accepted | DeadLetter)

"""The collector's intake: what it accepts, what it refuses and with which code (pure)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gudang.collector.calibration import Calibration
from gudang.collector.engine import StockEngine
from gudang.collector.intake import MAX_PAYLOAD, Accepted, Control, Intake, Refused
from gudang.contract import DeadLetter, TagEvent
from gudang.site import parse_site

SITE = parse_site("""\
site: {id: s1, name: Test}
devices:
  - {id: scale-1, protocol: ad-continuous, port: /dev/ttyUSB0, edge: edge-1}
  - {id: scale-2, protocol: ad-continuous, port: /dev/ttyUSB1, edge: edge-2}
  - {id: rfid-1, protocol: rdm6300, port: /dev/ttyUSB2, edge: edge-1, bay: C}
skus:
  - {id: RB-D10, name: Rebar, unit: pcs, unit_weight_kg: 7.4, minimum: 5, reorder_point: 10, reorder_quantity: 50}
  - {id: OFF, name: Offcut, unit: kg, minimum: 50, reorder_point: 50, reorder_quantity: 200}
bins:
  - {id: C1, rack: C, device: scale-1, sku: RB-D10, tare_kg: 60}
  - {id: C4, rack: C, device: scale-2, sku: OFF, tare_kg: 120}
ingest: {max_clock_ahead_s: 120}
""")  # fmt: skip

NOW = 1_764_000_000_000
INTAKE = Intake(SITE, 120_000)
READING: dict[str, Any] = {
    "device_id": "scale-1", "boot_id": "b", "seq": 1, "ts": NOW - 1000,
    "weight": 245.0, "unit": "kg", "stable": True, "reason": "change",
}  # fmt: skip
TAG: dict[str, Any] = {
    "device_id": "rfid-1", "boot_id": "b", "seq": 1, "ts": NOW - 1000,
    "tag": "0A1B2C3D4E", "event": "arrived", "rssi": -51.5,
}  # fmt: skip


def t(kind: str, subject: str = "scale-1", site: str = "s1") -> str:
    return {
        "reading": f"gudang/v1/{site}/device/{subject}/reading",
        "tag": f"gudang/v1/{site}/device/{subject}/tag",
        "status": f"gudang/v1/{site}/device/{subject}/status",
        "edge": f"gudang/v1/{site}/edge/{subject}/status",
        "ack": f"gudang/v1/{site}/alert/low_stock/{subject}/ack",
        "calibrate": f"gudang/v1/{site}/calibration/{subject}",
        "update": f"gudang/v1/{site}/sku/{subject}/update",
    }[kind]


def body(base: dict[str, Any], **changes: Any) -> bytes:
    return json.dumps({**base, **changes}).encode()  # allow_nan: writes Infinity and NaN


def refused(topic: str, payload: bytes, now: int = NOW) -> Refused:
    result = INTAKE.classify(topic, payload, now)
    assert isinstance(result, Refused), result
    json.loads(result.letter.model_dump_json())  # the dead letter itself is valid JSON
    assert result.letter.payload_size == len(payload)
    return result


def test_accepts_readings_tags_and_control_messages() -> None:
    assert isinstance(INTAKE.classify(t("reading"), body(READING), NOW), Accepted)
    assert isinstance(INTAKE.classify(t("tag", "rfid-1"), body(TAG), NOW), Accepted)
    status = {"subject": "device", "id": "scale-1", "edge": "edge-1", "state": "online"}
    for topic, payload in [
        (t("status"), body(status)),
        (t("status"), b""),  # an empty retained payload clears a status
        (t("edge", "edge-2"), body({"subject": "edge", "id": "edge-2", "state": "offline"})),
        (t("ack", "RB-D10"), body({"by": "Budi", "ts": NOW})),
        (t("calibrate", "C1"), body({"id": "r1", "op": "tare", "by": "Budi", "ts": NOW})),
        (t("update", "RB-D10"), body({"id": "r2", "minimum": 4, "by": "Budi", "ts": NOW})),
    ]:
        assert isinstance(INTAKE.classify(topic, payload, NOW), Control), topic


def test_old_messages_count_normally() -> None:
    """A replay after a week-long outage is data, not a clock fault."""
    week = 7 * 86_400_000
    assert isinstance(INTAKE.classify(t("reading"), body(READING, ts=NOW - week), NOW), Accepted)


@pytest.mark.parametrize(
    ("topic", "payload", "code"),
    [
        (t("reading"), b"x" * (MAX_PAYLOAD + 1), "too_large"),
        ("gudang/v1/s1/alert/low_stock/RB-D10", body(READING), "unknown_topic"),
        ("gudang/v2/s1/device/scale-1/reading", body(READING), "unknown_topic"),
        (t("reading", site="other"), body(READING), "wrong_site"),
        (t("reading"), b"not json", "invalid"),
        (t("reading"), b"\xff\xfe", "invalid"),
        (t("reading"), b'{"device_id": "scale-1"}', "invalid"),
        (t("reading"), body(READING, extra=1), "invalid"),
        (t("reading"), body(READING, ts=NOW / 1), "invalid"),  # a fraction of a millisecond
        (t("reading"), body(READING, ts=915_148_800_000), "invalid"),  # 1999: a dead RTC
        (t("reading", "scale-2"), body(READING), "identity_mismatch"),
        (t("reading", "scale-9"), body(READING, device_id="scale-9"), "unknown_device"),
        (t("tag", "scale-1"), body(TAG, device_id="scale-1"), "wrong_device_kind"),
        (t("reading", "rfid-1"), body(READING, device_id="rfid-1"), "wrong_device_kind"),
        (t("reading"), body(READING, weight=5e9), "implausible"),
        (t("reading"), body(READING, weight=1e12, unit="t"), "implausible"),
        (t("reading"), body(READING, ts=NOW + 120_001), "clock_ahead"),
        (t("reading"), body(READING, ts=NOW + 365 * 86_400_000), "clock_ahead"),
        (t("tag", "rfid-1"), body(TAG, ts=NOW + 3_600_000), "clock_ahead"),
        (t("ack", "RB-D10"), body({"by": "Budi", "ts": NOW + 3_600_000}), "clock_ahead"),
        ("gudang/v1/s1/alert/no_such_kind/RB-D10/ack", body({"by": "B", "ts": NOW}), "invalid"),
    ],
)
def test_refusals_carry_their_code(topic: str, payload: bytes, code: str) -> None:
    assert refused(topic, payload).code == code


# Every number the contract admits must be storable: non-finite floats,
# integers past int64 and strings past their limits are refused up front.
@pytest.mark.parametrize(
    ("base", "field", "value"),
    [
        *[(READING, "weight", v) for v in (float("inf"), float("-inf"), float("nan"))],
        (READING, "weight", "12.5"),
        (READING, "weight", True),
        (READING, "seq", 2**63),
        (READING, "seq", -1),
        (READING, "seq", 1.5),
        (READING, "seq", True),
        (READING, "channel", 64),
        (READING, "boot_id", "b" * 65),
        *[(TAG, "rssi", v) for v in (float("inf"), float("nan"), 1e16)],
        (TAG, "seq", 2**64),
        (TAG, "antenna", -1),
        (TAG, "tag", "A" * 65),
    ],
)
def test_unstorable_values_are_refused(base: dict[str, Any], field: str, value: Any) -> None:
    kind = "reading" if base is READING else "tag"
    topic = t(kind, base["device_id"])
    assert refused(topic, body(base, **{field: value})).code == "invalid"


def test_1e999_is_refused_like_infinity() -> None:
    payload = body(READING).replace(b'"weight": 245.0', b'"weight": 1e999')
    assert b"1e999" in payload
    assert refused(t("reading"), payload).code == "invalid"


def test_clock_ahead_names_the_device_and_how_far() -> None:
    r = refused(t("reading"), body(READING, ts=NOW + 3_600_000))
    assert (r.device, r.ahead_ms) == ("scale-1", 3_600_000)
    assert "NTP" in r.letter.reason
    assert isinstance(INTAKE.classify(t("reading"), body(READING, ts=NOW + 119_000), NOW), Accepted)


@pytest.mark.parametrize(
    ("topic", "status", "code"),
    [
        # edge-1 may publish on its own topics; what it says there must be about itself.
        (t("edge", "edge-1"), {"subject": "edge", "id": "edge-2"}, "identity_mismatch"),
        (t("status", "scale-1"), {"subject": "device", "id": "scale-2"}, "identity_mismatch"),
        (t("status", "scale-1"), {"subject": "edge", "id": "scale-1"}, "identity_mismatch"),
        (t("edge", "edge-1"), {"subject": "device", "id": "edge-1"}, "identity_mismatch"),
        (
            t("status", "scale-2"),
            {"subject": "device", "id": "scale-2", "edge": "edge-1"},
            "not_owner",
        ),
        (t("status", "scale-9"), {"subject": "device", "id": "scale-9"}, "unknown_device"),
        (t("edge", "edge-9"), {"subject": "edge", "id": "edge-9"}, "unknown_device"),
    ],
)
def test_status_must_speak_for_its_topic(topic: str, status: dict[str, Any], code: str) -> None:
    assert refused(topic, body({**status, "state": "offline"})).code == code


def test_status_counters_are_bounded() -> None:
    status = {"subject": "device", "id": "scale-1", "state": "online"}
    many = {f"c{i}": 1 for i in range(65)}
    assert refused(t("status"), body(status, counters=many)).code == "invalid"
    assert refused(t("status"), body(status, counters={"x": 2**63})).code == "invalid"
    assert refused(t("status"), body(status, firmware="f" * 129)).code == "invalid"


TOPICS = [t("reading"), t("tag", "rfid-1"), t("status"), t("edge", "edge-1"),
          t("ack", "RB-D10"), t("calibrate", "C1"), t("update", "RB-D10")]  # fmt: skip


@given(st.sampled_from(TOPICS), st.binary(max_size=600))
def test_never_raises(topic: str, payload: bytes) -> None:
    assert isinstance(INTAKE.classify(topic, payload, NOW), Accepted | Control | Refused)


_NUMBERS = st.one_of(
    st.floats(),  # inf, nan, subnormals, huge
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -0.0, 2**63 - 1, 2**63, -(2**63), 1e15, 1e15 + 1, 5e-324]),
)


@st.composite
def hostile_readings(draw: st.DrawFn) -> tuple[str, bytes]:
    """Valid readings and tag events with any of their numbers replaced by anything."""
    tag = draw(st.booleans())
    base = dict(TAG if tag else READING)
    numeric = ["seq", "ts", "antenna", "rssi"] if tag else ["seq", "ts", "channel", "weight"]
    for name in draw(st.sets(st.sampled_from(numeric))):
        base[name] = draw(_NUMBERS)
    if not tag:
        base["unit"] = draw(st.sampled_from(["kg", "g", "t", "lb"]))
    return t("tag", "rfid-1") if tag else t("reading"), json.dumps(base).encode()


_STATE = Path(tempfile.mkdtemp()) / "state.db"
ENGINE = StockEngine(SITE, Calibration(SITE, _STATE))


@settings(max_examples=300)
@given(hostile_readings())
def test_what_is_admitted_encodes(case: tuple[str, bytes]) -> None:
    """Nothing the intake admits can fail on its way to line protocol, or be
    refused by InfluxDB for its value (int64 fields, finite floats)."""
    topic, payload = case
    result = INTAKE.classify(topic, payload, NOW)
    if not isinstance(result, Accepted):
        assert isinstance(result, Refused)
        return
    m = result.message
    lines = ENGINE.tag(m) if isinstance(m, TagEvent) else ENGINE.reading(m).lines
    assert lines
    for line in lines:
        assert "inf" not in line and "nan" not in line
        for part in line.split(" ")[1].split(","):
            if part.endswith("i") and "=" in part:
                assert -(2**63) <= int(part.split("=")[1][:-1]) < 2**63


def test_dead_letter_model_bounds_its_text() -> None:
    letter = refused(t("reading"), b"\xff" * 5000).letter
    assert isinstance(letter, DeadLetter)
    assert len(letter.payload) <= 2048 and letter.payload_size == 5000
    assert letter.topic == t("reading") and letter.component == "collector"

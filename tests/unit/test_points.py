"""The collector's hot-path encoders give the same bytes as the general
line-protocol encoder, for any series (escapes included) and any value the
contract admits."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gudang.collector.movements import Movement
from gudang.collector.points import (
    bin_stock_line,
    bin_stock_point,
    movement_fields,
    movement_line,
    reading_line,
    reading_point,
)
from gudang.collector.stock import BinLevel
from gudang.contract import WeightReading
from gudang.contract.ids import INT64_MAX, MAX_MAGNITUDE
from gudang.influx import line, series_key
from gudang.site import parse_site

SITE = parse_site("""\
site: {id: s1, name: Test}
devices: [{id: scale-1, protocol: ad-continuous, port: /dev/ttyUSB0}]
skus:
  - {id: RB-D10, name: Rebar, unit: pcs, unit_weight_kg: 7.4, minimum: 5, reorder_point: 10, reorder_quantity: 50}
  - {id: EXH, name: Pipe, unit: m, unit_weight_kg: 1.354, minimum: 60, reorder_point: 120, reorder_quantity: 300}
  - {id: OFF, name: Offcut, unit: kg, minimum: 50, reorder_point: 50, reorder_quantity: 200}
bins: [{id: C1, rack: C, device: scale-1, sku: RB-D10, tare_kg: 60}]
""")  # fmt: skip

# Anything line protocol can carry in a name: escapes (comma, space, equals,
# quotes, backslashes inside) included; only line breaks and a trailing
# backslash are refused by the encoder itself.
_NAME = st.text(min_size=1, max_size=20).filter(
    lambda s: "\n" not in s and "\r" not in s and not s.endswith("\\")
)
SERIES = st.builds(series_key, _NAME, st.dictionaries(_NAME, _NAME, max_size=4))
REAL = st.floats(min_value=-MAX_MAGNITUDE, max_value=MAX_MAGNITUDE, allow_nan=False)
TS = st.integers(min_value=946_684_800_000, max_value=4_102_444_799_999)


@st.composite
def readings(draw: st.DrawFn) -> WeightReading:
    return WeightReading.model_validate({
        "device_id": "scale-1",
        "boot_id": draw(st.from_regex(r"^[A-Za-z0-9_-]{1,64}$", fullmatch=True)),
        "seq": draw(st.integers(min_value=0, max_value=INT64_MAX)),
        "ts": draw(TS),
        "channel": draw(st.integers(min_value=0, max_value=63)),
        "weight": draw(st.none() | REAL),
        "unit": draw(st.sampled_from(["kg", "g", "t", "lb"])),
        "mode": draw(st.sampled_from(["gross", "net"])),
        "stable": draw(st.booleans()),
        "state": draw(st.sampled_from(["ok", "overload", "underload"])),
        "reason": draw(st.sampled_from(["change", "heartbeat"])),
    })  # fmt: skip


@given(SERIES, readings())
def test_reading_line(series: str, r: WeightReading) -> None:
    assert reading_line(series, r) == line(series, reading_point("s1", r).fields, r.ts)


@given(SERIES, st.sampled_from(SITE.skus), st.none() | REAL, REAL, REAL, TS, st.none() | REAL)
def test_bin_stock_line(
    series: str,
    sku: object,
    gross: float | None,
    net: float,
    qty: float,
    ts: int,
    se: float | None,
) -> None:
    level = BinLevel(SITE.bins[0], sku, gross, net, qty, ts, se)  # type: ignore[arg-type]
    assert bin_stock_line(series, level) == line(series, bin_stock_point("s1", level).fields, ts)


@given(
    SERIES,
    st.builds(
        Movement,
        TS,
        st.sampled_from(["pick", "put", "anomaly", "none"]),
        REAL,
        REAL,
        st.none() | REAL,
    ),
)
def test_movement_line(series: str, m: Movement) -> None:
    assert movement_line(series, m) == line(series, movement_fields(m, [], ""), m.ts)


def test_movement_with_tags_names_them() -> None:
    m = Movement(1_764_000_000_000, "pick", -22.2, -3.0, -3.0)
    fields = movement_fields(m, ["0A1B", "0C2D"], "Budi; Forklift 2")
    assert fields["tags"] == "0A1B,0C2D" and fields["labels"] == "Budi; Forklift 2"
    assert 'labels="Budi; Forklift 2"' in line("movement", fields, m.ts)


@given(st.from_regex(r"^[0-9A-F]{8,64}$", fullmatch=True), st.integers(0, 63), TS)
def test_tag_event_series_names_the_tag(tag: str, antenna: int, ts: int) -> None:
    """The tag id is part of the series (simultaneous reads stay apart), and the
    engine's appended key is the sorted one the general encoder makes."""
    import tempfile
    from pathlib import Path

    from gudang.collector.calibration import Calibration
    from gudang.collector.engine import StockEngine
    from gudang.contract import TagEvent
    from gudang.influx.schema import TAG_EVENT

    t = TagEvent(device_id="scale-1", boot_id="b", seq=1, ts=ts, tag=tag, antenna=antenna,
                 event="arrived")  # fmt: skip
    engine = StockEngine(SITE, Calibration(SITE, Path(tempfile.mkdtemp()) / "s.db"))
    (got,) = engine.tag(t)
    tags = {"site": "s1", "device": "scale-1", "antenna": str(antenna), "tag_id": tag}
    fields = {"event": "arrived", "seq": 1, "boot_id": "b", "tag": tag}
    assert got == line(series_key(TAG_EVENT, tags), fields, ts)

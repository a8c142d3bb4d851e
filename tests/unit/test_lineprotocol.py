"""Line protocol and InfluxQL quoting: escaping rules, refusals (the real-server
round trip is tests/integration/test_influx_client.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gudang.influx import Point, duration, encode, quote_ident


def test_plain_point() -> None:
    p = Point("bin_stock", {"qty": 12.5, "n": 3, "ok": True, "unit": "pcs"}, 1_764_000_000_123,
              {"site": "s1", "bin": "A1"})  # fmt: skip
    assert encode(p) == 'bin_stock,bin=A1,site=s1 qty=12.5,n=3i,ok=true,unit="pcs" 1764000000123'


def test_escaping() -> None:
    p = Point("my meas,x", {"f k=": 'say "hi" \\ bye'}, 1, {"t,a g": "v=a l,ue"})
    assert encode(p) == (
        r"my\ meas\,x,t\,a\ g=v\=a\ l\,ue f\ k\==" + '"say \\"hi\\" \\\\ bye"' + " 1"
    )


def test_empty_tag_value_is_omitted() -> None:
    assert encode(Point("m", {"f": 1.0}, 5, {"a": ""})) == "m f=1.0 5"


@pytest.mark.parametrize(
    "point",
    [
        Point("m", {}, 1),
        Point("", {"f": 1.0}, 1),
        Point("m", {"f": float("inf")}, 1),
        Point("m", {"f": float("nan")}, 1),
        Point("m\n", {"f": 1.0}, 1),
        Point("m", {"f": 1.0}, 1, {"t": "a\nb"}),
        Point("m", {"f": 1.0}, 1, {"t": "ends\\"}),
        Point("m", {"f": None}, 1),  # type: ignore[dict-item]
    ],
)
def test_refused(point: Point) -> None:
    with pytest.raises((ValueError, TypeError)):
        encode(point)


@given(
    st.text(min_size=1).filter(lambda s: "\n" not in s and "\r" not in s and not s.endswith("\\"))
)
def test_any_tag_value_is_one_line(value: str) -> None:
    line = encode(Point("m", {"f": 1.0}, 1, {"t": value}))
    assert "\n" not in line
    assert line.endswith(" f=1.0 1")


def test_quote_ident_and_duration() -> None:
    assert quote_ident('a"b\\c') == '"a\\"b\\\\c"'
    with pytest.raises(ValueError):
        quote_ident("x\ny")
    assert duration("5m") == "5m"
    for bad in ("5", "m", "0s", "1h; DROP DATABASE x", "-1h"):
        with pytest.raises(ValueError):
            duration(bad)

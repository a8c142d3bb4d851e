"""The edge's A&D continuous decoder: reference lines, variants, garbage, and
round trips against the simulator's independent encoder."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gudang.edge.protocols.ad_continuous import MAX_LINE, AdContinuousDecoder
from gudang.edge.protocols.base import ScaleFrame
from gudang.edge.registry import DRIVERS, decoder_for
from gudang.sim.ad_continuous import encode_display
from gudang.sim.scale_model import Display
from gudang.site import Device


def decode_all(
    data: bytes, chunk: int | None = None
) -> tuple[list[ScaleFrame], AdContinuousDecoder]:
    dec = AdContinuousDecoder()
    frames: list[ScaleFrame] = []
    step = chunk or len(data) or 1
    for i in range(0, len(data), step):
        dec.feed(data[i : i + step])
        while (f := dec.next_frame()) is not None:
            frames.append(f)
    return frames, dec


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # literal frames from shared/reference/serial-protocols.md
        (b"ST,GS,+0012.34kg\r\n", ScaleFrame(12.34, "kg", "gross", True)),
        (b"ST,GS,+  12.345kg\r\n", ScaleFrame(12.345, "kg", "gross", True)),
        (b"US,GS,+0012.34kg\r\n", ScaleFrame(12.34, "kg", "gross", False)),
        (b"ST,NT,-0001.50kg\r\n", ScaleFrame(-1.5, "kg", "net", True)),
        (b"ST,TR,+0002.00kg\r\n", ScaleFrame(2.0, "kg", "tare", True)),
        (b"QT,GS,+0000150pc\r\n", ScaleFrame(150.0, "pc", "gross", True)),
        (b"ST,GS, 0012.34kg\r\n", ScaleFrame(12.34, "kg", "gross", True)),  # sign as space
        (b"ST,GS,+001234.5 g\r\n", ScaleFrame(1234.5, "g", "gross", True)),
        (b"ST,GS,+0012.34lb\n", ScaleFrame(12.34, "lb", "gross", True)),  # LF only
        (b"OL,GS,+999999.9kg\r\n", ScaleFrame(None, "kg", "gross", False, "overload")),
        (b"OL,GS,+       kg\r\n", ScaleFrame(None, "kg", "gross", False, "overload")),
        (b"OL,GS,-999999.9kg\r\n", ScaleFrame(None, "kg", "gross", False, "underload")),
    ],
)
def test_reference_lines(line: bytes, expected: ScaleFrame) -> None:
    frames, dec = decode_all(line)
    assert frames == [expected]
    assert dec.stats.frames_ok == 1
    assert dec.stats.frames_bad == 0


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"XX,GS,+0012.34kg\r\n", "malformed"),
        (b"ST,ZZ,+0012.34kg\r\n", "malformed"),
        (b"ST,GS,+0012.34\r\n", "no unit"),
        (b"ST,GS,+00.12.34kg\r\n", "bad number"),
        (b"ST,GS,+   .  kg\r\n", "bad number"),
        (b"ST,GS,*0012.34kg\r\n", "malformed"),
        (b"ST,G\x7f,+0012.34kg\r\n", "malformed"),
    ],
)
def test_bad_lines_are_counted_and_skipped(line: bytes, reason: str) -> None:
    frames, dec = decode_all(line + b"ST,GS,+0001.00kg\r\n")
    assert frames == [ScaleFrame(1.0, "kg", "gross", True)]
    assert dec.stats.frames_bad == 1
    assert dec.stats.bad_reasons == {reason: 1}


def test_partial_line_after_connect_is_resynced() -> None:
    frames, dec = decode_all(b"34kg\r\nST,GS,+0012.34kg\r\n")
    assert frames == [ScaleFrame(12.34, "kg", "gross", True)]
    assert dec.stats.frames_bad == 1


def test_noise_before_header_on_same_line() -> None:
    frames, dec = decode_all(b"\x00\xff\x13ST,GS,+0012.34kg\r\n")
    assert frames == [ScaleFrame(12.34, "kg", "gross", True)]
    assert dec.stats.resyncs == 1


def test_endless_noise_is_bounded() -> None:
    dec = AdContinuousDecoder()
    for _ in range(1000):
        dec.feed(b"\xaa" * 50)
        assert dec.next_frame() is None
    assert len(dec._buf) <= MAX_LINE + 50
    dec.feed(b"\r\nST,GS,+0012.34kg\r\n")
    frames = []
    while (f := dec.next_frame()) is not None:
        frames.append(f)
    assert frames == [ScaleFrame(12.34, "kg", "gross", True)]


def test_byte_at_a_time_equals_all_at_once() -> None:
    data = b"ST,GS,+0012.34kg\r\nUS,GS,+0013.00kg\r\nOL,GS,+999999.9kg\r\n" * 3
    assert decode_all(data, chunk=1)[0] == decode_all(data)[0]


def test_registry_names_its_protocols() -> None:
    from gudang.site.model import PROTOCOLS

    device = Device(id="s", protocol="ad-continuous", port="/dev/null")
    assert isinstance(decoder_for(device), AdContinuousDecoder)
    assert set(DRIVERS) == set(PROTOCOLS)
    assert all(DRIVERS[p].kind == kind for p, kind in PROTOCOLS.items())
    with pytest.raises(KeyError, match="no edge driver"):
        decoder_for(Device.model_construct(id="s", protocol="telepathy", port="/dev/null"))


@given(st.binary(max_size=400), st.integers(min_value=1, max_value=64))
@settings(max_examples=400)
def test_random_bytes_never_raise(data: bytes, chunk: int) -> None:
    frames, _ = decode_all(data, chunk)
    for f in frames:
        assert f.state in ("ok", "overload", "underload")
        assert (f.weight is None) == (f.state != "ok")


displays = st.one_of(
    st.builds(
        Display,
        weight=st.integers(min_value=-9999, max_value=999_999).map(lambda n: n / 100),
        stable=st.booleans(),
        state=st.just("ok"),
    ),
    st.builds(
        Display,
        weight=st.none(),
        stable=st.just(False),
        state=st.sampled_from(["overload", "underload"]),
    ),
)


@given(st.lists(displays, min_size=1, max_size=20), st.integers(min_value=1, max_value=40))
@settings(max_examples=300)
def test_simulator_lines_decode_to_what_was_displayed(ds: list[Display], chunk: int) -> None:
    """Two independent readings of one manual agree: sim encoder -> edge decoder."""
    wire = b"".join(encode_display(d, 0.01) for d in ds)
    frames, dec = decode_all(wire, chunk)
    assert dec.stats.frames_bad == 0
    assert len(frames) == len(ds)
    for d, f in zip(ds, frames, strict=True):
        assert f.state == d.state
        if d.state == "ok":
            assert f.weight == pytest.approx(d.weight, abs=1e-9)
            assert f.stable == d.stable
            assert f.unit == "kg"
        else:
            assert f.weight is None


@given(st.integers(min_value=0, max_value=17), st.binary(min_size=1, max_size=1))
def test_corrupted_byte_never_raises_and_stays_in_range(pos: int, byte: bytes) -> None:
    """A&D lines carry no checksum, so a damaged digit can still parse (the edge's
    stabilizer and deadband are the defence); the decoder must never raise and
    never produce more than one frame per line."""
    line = bytearray(b"ST,GS,+0012.34kg\r\n")
    line[pos] = byte[0]
    frames, dec = decode_all(bytes(line))
    assert dec.stats.frames_ok + dec.stats.frames_bad <= 2
    for f in frames:
        if f.weight is not None:
            assert abs(f.weight) < 10_000_000

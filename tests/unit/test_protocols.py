"""Toledo continuous, MT-SICS, RDM6300 and UHF M100 decoders: reference frames,
every status and error variant, garbage, and damaged checksums."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gudang.edge.protocols import Event, Reply, ScaleFrame, TagRead
from gudang.edge.protocols.mt_sics import MtSicsDecoder, encode_command
from gudang.edge.protocols.rdm6300 import Rdm6300Decoder
from gudang.edge.protocols.toledo import ToledoDecoder
from gudang.edge.protocols.uhf_m100 import (
    UhfM100Decoder,
    crc16_genibus,
    multi_poll,
    single_poll,
    stop,
)
from gudang.errors import LocalProtocolError

TOLEDO_REF = bytes.fromhex("023531203031323334353030313530300D16")
RDM_REF = b"\x02010D0F2B3E16\x03"
UHF_TAG_REF = bytes.fromhex("BB02220011C9340030751FEB705C5904E3D50D703A76EF7E")
UHF_NO_TAG = bytes.fromhex("BB01FF000115167E")
UHF_STOPPED = bytes.fromhex("BB01280001002A7E")


def decode(decoder, data: bytes, chunk: int | None = None) -> list[Event]:
    out: list[Event] = []
    step = chunk or len(data) or 1
    for i in range(0, len(data), step):
        decoder.feed(data[i : i + step])
        while (e := decoder.next_frame()) is not None:
            out.append(e)
    return out


def toledo(swa: int, swb: int, weight: str, tare: str = "000000", check: bool = True) -> bytes:
    body = bytes([0x02, swa, swb, 0x20]) + weight.encode() + tare.encode() + b"\r"
    return body + (bytes([(-sum(body)) % 128]) if check else b"")


# ---- Toledo continuous -------------------------------------------------------


def test_toledo_reference_frame() -> None:
    assert decode(ToledoDecoder(), TOLEDO_REF) == [ScaleFrame(12.345, "kg", "net", True, tare=1.5)]


def test_toledo_7e1_read_as_8n1_is_masked() -> None:
    def even(b: int) -> int:
        return b | 0x80 if bin(b).count("1") % 2 else b

    assert decode(ToledoDecoder(), bytes(even(b) for b in TOLEDO_REF)) == decode(
        ToledoDecoder(), TOLEDO_REF
    )


@pytest.mark.parametrize(
    ("code", "digits", "value"),
    [(0, "000123", 12300), (1, "000123", 1230), (2, "000123", 123), (3, "000123", 12.3),
     (4, "000123", 1.23), (5, "012345", 12.345), (6, "012345", 1.2345), (7, "012345", 0.12345)],
)  # fmt: skip
def test_toledo_decimal_positions(code: int, digits: str, value: float) -> None:
    (f,) = decode(ToledoDecoder(), toledo(0x20 | code, 0x30, digits))
    assert f.weight == pytest.approx(value)


@pytest.mark.parametrize(
    ("swb", "expected"),
    [
        (0x30, ScaleFrame(12.345, "kg", "gross", True, tare=0.0)),
        (0x31, ScaleFrame(12.345, "kg", "net", True, tare=0.0)),
        (0x32 | 0x01, ScaleFrame(-12.345, "kg", "net", True, tare=0.0)),
        (0x38, ScaleFrame(12.345, "kg", "gross", False, tare=0.0)),
        (0x20, ScaleFrame(12.345, "lb", "gross", True, tare=0.0)),
        (0x34, ScaleFrame(None, "kg", "gross", False, "overload", tare=0.0)),
        (0x36, ScaleFrame(None, "kg", "gross", False, "underload", tare=0.0)),
        (0x70, ScaleFrame(12.345, "kg", "gross", True, tare=0.0)),  # power-up not zeroed
    ],
)
def test_toledo_status_word_b(swb: int, expected: ScaleFrame) -> None:
    assert decode(ToledoDecoder(), toledo(0x25, swb, "012345")) == [expected]


def test_toledo_without_checksum_option() -> None:
    frame = toledo(0x25, 0x30, "012345", check=False)
    assert decode(ToledoDecoder(checksum=False), frame * 2)[0].weight == 12.345


def test_toledo_garbage_and_bad_checksum_are_skipped() -> None:
    bad = bytearray(TOLEDO_REF)
    bad[-1] ^= 0x01
    dec = ToledoDecoder()
    frames = decode(dec, b"\x02\x02junk" + bytes(bad) + TOLEDO_REF, chunk=5)
    assert frames == decode(ToledoDecoder(), TOLEDO_REF)
    assert dec.stats.bad_reasons.get("checksum") == 1


# ---- MT-SICS -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "event"),
    [
        (b"S S     100.00 g\r\n", ScaleFrame(100.0, "g", "gross", True)),
        (b"S D     100.02 g\r\n", ScaleFrame(100.02, "g", "gross", False)),
        (b"S S      -1.23 kg\r\n", ScaleFrame(-1.23, "kg", "gross", True)),
        (b"S I\r\n", Reply("S", "I")),
        (b"S +\r\n", ScaleFrame(None, "", "gross", False, "overload")),
        (b"S -\r\n", ScaleFrame(None, "", "gross", False, "underload")),
        (b"Z A\r\n", Reply("Z", "A")),
        (b"Z I\r\n", Reply("Z", "I")),
        (b"Z +\r\n", Reply("Z", "+")),
        (b"Z -\r\n", Reply("Z", "-")),
        (b"T S      12.30 kg\r\n", Reply("T", "S", 12.3, "kg")),
        (b"T I\r\n", Reply("T", "I")),
        (b"T +\r\n", Reply("T", "+")),
        (b"T -\r\n", Reply("T", "-")),
        (b'I4 A "B123456789"\r\n', Reply("I4", "A", text="B123456789")),
        (b"ES\r\n", Reply("", "ES")),
        (b"ET\r\n", Reply("", "ET")),
        (b"EL\r\n", Reply("", "EL")),
    ],
)
def test_mt_sics_answers(line: bytes, event: Event) -> None:
    dec = MtSicsDecoder()
    assert decode(dec, line) == [event]
    assert dec.stats.frames_bad == 0


@pytest.mark.parametrize(
    "line",
    [
        b"S S abc g\r\n",
        b"S Q\r\n",
        b"X\r\n",
        b'I4 A "open\r\n',
        b"S S \xff g\r\n",
        b"S S nan g\r\n",
    ],
)
def test_mt_sics_malformed(line: bytes) -> None:
    dec = MtSicsDecoder()
    assert decode(dec, line + b"S S 1.00 kg\r\n") == [ScaleFrame(1.0, "kg", "gross", True)]
    assert dec.stats.frames_bad == 1


def test_mt_sics_commands() -> None:
    assert [encode_command(c) for c in ("S", "SI", "Z", "T", "@")] == [
        b"S\r\n", b"SI\r\n", b"Z\r\n", b"T\r\n", b"@\r\n"
    ]  # fmt: skip
    with pytest.raises(LocalProtocolError):
        encode_command("TAC")


# ---- RDM6300 -----------------------------------------------------------------


def rdm(tag: str) -> bytes:
    x = 0
    for b in bytes.fromhex(tag):
        x ^= b
    return b"\x02" + tag.encode() + f"{x:02X}".encode() + b"\x03"


def test_rdm6300_reference_frame() -> None:
    assert decode(Rdm6300Decoder(), RDM_REF) == [TagRead("010D0F2B3E")]
    assert rdm("010D0F2B3E") == RDM_REF


def test_rdm6300_repeats_and_noise() -> None:
    dec = Rdm6300Decoder()
    frames = decode(dec, b"\xff\x00" + RDM_REF * 3 + b"\x02garbage!!!!!\x03" + RDM_REF, chunk=3)
    assert frames == [TagRead("010D0F2B3E")] * 4
    assert dec.stats.frames_bad >= 1


# ---- UHF M100 ----------------------------------------------------------------


def test_uhf_reference_frames() -> None:
    assert decode(UhfM100Decoder(), UHF_TAG_REF) == [
        TagRead("30751FEB705C5904E3D50D70", rssi=-55.0)
    ]
    assert decode(UhfM100Decoder(), UHF_NO_TAG) == [Reply("FF", "no_tag")]
    assert decode(UhfM100Decoder(), UHF_STOPPED) == [Reply("28", "00")]
    assert crc16_genibus(bytes.fromhex("340030751FEB705C5904E3D50D70")) == 0x3A76


def test_uhf_commands_match_the_manual() -> None:
    assert single_poll() == bytes.fromhex("BB00220000227E")
    assert stop() == bytes.fromhex("BB00280000287E")
    assert multi_poll(10000) == bytes.fromhex("BB00270003222710837E")
    with pytest.raises(LocalProtocolError):
        multi_poll(0)


def test_uhf_tag_crc_is_checked() -> None:
    bad = bytearray(UHF_TAG_REF)
    bad[10] ^= 0x01  # an EPC bit
    bad[-2] = sum(bad[1:-2]) & 0xFF  # with the frame checksum made to fit
    dec = UhfM100Decoder()
    assert decode(dec, bytes(bad)) == []
    assert dec.stats.bad_reasons == {"tag crc": 1}


# ---- properties for every decoder -------------------------------------------

DECODERS = [ToledoDecoder, MtSicsDecoder, Rdm6300Decoder, UhfM100Decoder]
VALID = {
    ToledoDecoder: TOLEDO_REF,
    MtSicsDecoder: b"S S     100.00 g\r\n",
    Rdm6300Decoder: RDM_REF,
    UhfM100Decoder: UHF_TAG_REF,
}


@pytest.mark.parametrize("cls", DECODERS)
@given(data=st.binary(max_size=300), chunk=st.integers(1, 40))
@settings(max_examples=150)
def test_random_bytes_never_raise(cls, data: bytes, chunk: int) -> None:
    decode(cls(), data, chunk)


@pytest.mark.parametrize("cls", [ToledoDecoder, Rdm6300Decoder, UhfM100Decoder])
@given(data=st.data())
@settings(max_examples=300)
def test_damaged_frame_never_decodes_to_a_different_event(cls, data: st.DataObject) -> None:
    """Checksummed formats: one changed byte yields no event or exactly the original
    (a change only in a masked parity bit), never a different reading or tag."""
    valid = VALID[cls]
    original = decode(cls(), valid)
    pos = data.draw(st.integers(0, len(valid) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != valid[pos]))
    damaged = bytearray(valid)
    damaged[pos] = byte
    got = decode(cls(), bytes(damaged))
    assert got in ([], original)


@pytest.mark.parametrize("cls", DECODERS)
@given(prefix=st.binary(max_size=40), chunk=st.integers(1, 20))
@settings(max_examples=150)
def test_valid_frame_after_noise_is_found(cls, prefix: bytes, chunk: int) -> None:
    valid = VALID[cls]
    sep = b"\r\n" if cls is MtSicsDecoder else b""
    events = decode(cls(), prefix + sep + valid, chunk)
    assert events[-1:] == decode(cls(), valid)

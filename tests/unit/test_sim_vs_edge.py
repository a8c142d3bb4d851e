"""Two independent readings of each manual agree: simulator encoders -> edge decoders."""

from __future__ import annotations

import asyncio
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gudang.edge.protocols import Reply, ScaleFrame, TagRead
from gudang.edge.protocols.mt_sics import MtSicsDecoder
from gudang.edge.protocols.rdm6300 import Rdm6300Decoder
from gudang.edge.protocols.toledo import ToledoDecoder
from gudang.edge.protocols.uhf_m100 import UhfM100Decoder, single_poll, stop
from gudang.sim.mt_sics import MtSicsResponder
from gudang.sim.rfid import FieldTag, UhfResponder, rdm6300_frame
from gudang.sim.scale_model import Display, LoadModel
from gudang.sim.toledo import encode_frame, with_even_parity


def drain(decoder, data: bytes) -> list:
    decoder.feed(data)
    out = []
    while (e := decoder.next_frame()) is not None:
        out.append(e)
    return out


@given(
    weight=st.integers(0, 999_999),
    places=st.sampled_from([0, 1, 2, 3]),
    stable=st.booleans(),
    parity=st.booleans(),
)
def test_toledo(weight: int, places: int, stable: bool, parity: bool) -> None:
    division = 10.0**-places
    value = round(weight * division, places)
    frame = encode_frame(Display(value, stable, "ok"), division)
    if parity:
        frame = with_even_parity(frame)
    (f,) = drain(ToledoDecoder(), frame)
    assert f.weight == pytest.approx(value)
    assert f.stable == stable
    assert f.state == "ok"


@pytest.mark.parametrize("state", ["overload", "underload"])
def test_toledo_out_of_range(state: str) -> None:
    (f,) = drain(ToledoDecoder(), encode_frame(Display(None, False, state), 0.01))  # type: ignore[arg-type]
    assert f.state == state


@given(st.binary(min_size=5, max_size=5))
def test_rdm6300(data: bytes) -> None:
    tag = data.hex().upper()
    assert drain(Rdm6300Decoder(), rdm6300_frame(tag)) == [TagRead(tag)]
    assert drain(Rdm6300Decoder(), rdm6300_frame(tag, corrupt=True)) == []


@given(
    epc=st.binary(min_size=2, max_size=31).filter(lambda b: len(b) % 2 == 0),
    rssi=st.integers(-90, -20),
)
@settings(max_examples=100)
def test_uhf_inventory(epc: bytes, rssi: int) -> None:
    sent: list[bytes] = []
    reader = UhfResponder(sent.append, miss_rate=0.0, seed=1)
    reader.field["X"] = FieldTag(epc.hex().upper(), 0, rssi)
    reader.receive(single_poll())
    assert drain(UhfM100Decoder(), b"".join(sent)) == [TagRead(epc.hex().upper(), 0, float(rssi))]


def test_uhf_no_tag_and_stop() -> None:
    sent: list[bytes] = []
    reader = UhfResponder(sent.append, miss_rate=0.0, seed=1)
    reader.receive(single_poll() + stop())
    assert drain(UhfM100Decoder(), b"".join(sent)) == [Reply("FF", "no_tag"), Reply("28", "00")]


async def test_mt_sics_conversation() -> None:
    sent: list[bytes] = []
    model = LoadModel(100.0, division=0.01, capacity_kg=600.0, settle_s=0.2, seed=3)
    sim = MtSicsResponder(model, sent.append)

    async def ask(cmd: bytes) -> object:
        sent.clear()
        sent.append(await sim.answer(cmd))
        (event,) = drain(MtSicsDecoder(), b"".join(sent))
        return event

    first = await ask(b"SI")
    assert isinstance(first, ScaleFrame)
    assert first.stable
    assert first.weight == pytest.approx(100.0, abs=0.02)
    assert await ask(b"Z") == Reply("Z", "+")  # 100 kg is outside a 2 % zero range
    tare = await ask(b"T")
    assert isinstance(tare, Reply)
    assert tare.command == "T"
    assert tare.status == "S"
    assert tare.value == pytest.approx(100.0, abs=0.02)
    net = await ask(b"S")
    assert isinstance(net, ScaleFrame)
    assert net.weight == pytest.approx(0.0, abs=0.02)
    model.set_load(130.0, time.monotonic())
    assert await ask(b"T") == Reply("T", "I")  # in motion
    moving = await ask(b"SI")
    assert isinstance(moving, ScaleFrame)
    assert moving.stable is False
    await asyncio.sleep(0.25)
    settled = await ask(b"S")
    assert isinstance(settled, ScaleFrame)
    assert settled.weight == pytest.approx(30.0, abs=0.02)
    assert await ask(b"@") == Reply("I4", "A", text="B123456789")
    assert await ask(b"XYZ") == Reply("", "ES")
    assert await ask(b"S\xff") == Reply("", "ET")
    sim.refuse_next = 1
    assert await ask(b"Z") == Reply("", "EL")
    model.set_load(0.5, time.monotonic())
    await asyncio.sleep(0.25)
    assert await ask(b"Z") == Reply("Z", "A")
    model.set_load(700.0, time.monotonic())
    await asyncio.sleep(0.25)
    assert await ask(b"SI") == ScaleFrame(None, "", "gross", False, "overload")
    assert await ask(b"T") == Reply("T", "+")

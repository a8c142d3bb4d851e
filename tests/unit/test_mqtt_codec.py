"""The collector's MQTT 5 codec: packets in and out, split anywhere, and refusals."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gudang.collector.mqtt.codec import (
    Connack,
    Decoder,
    Disconnect,
    Pingresp,
    ProtocolViolation,
    Puback,
    Publish,
    Suback,
    _varint,
    encode_connect,
    encode_puback,
    encode_pubacks,
    encode_publish,
    encode_subscribe,
)


def decode(data: bytes, chunk: int | None = None) -> list[object]:
    dec = Decoder()
    out: list[object] = []
    step = chunk or len(data) or 1
    for i in range(0, len(data), step):
        dec.feed(data[i : i + step])
        out.extend(dec.packets())
    return out


def test_connect_is_mqtt5_with_session_and_flow_control() -> None:
    pkt = encode_connect("gudang-collector-s1", keepalive=30, username="u", password="p")
    assert pkt[0] == 0x10
    assert pkt[2:9] == b"\x00\x04MQTT\x05"
    flags = pkt[9]
    assert flags & 0x02 == 0  # clean start off: keep the session
    assert flags & 0xC0 == 0xC0  # user name and password present
    assert b"\x11\xff\xff\xff\xff" in pkt  # session never expires
    assert b"\x21\xff\xff" in pkt  # receive maximum 65535


def test_subscribe_and_publish_encoding() -> None:
    assert encode_subscribe(7, [("gudang/v1/s/device/+/reading", 1)]) == (
        b"\x82\x22\x00\x07\x00\x00\x1cgudang/v1/s/device/+/reading\x01"
    )
    pkt = encode_publish("a/b", b"hi", qos=1, packet_id=258, retain=True)
    assert pkt == b"\x33\x0a\x00\x03a/b\x01\x02\x00hi"
    assert decode(pkt) == [Publish("a/b", b"hi", 1, 258, True, False)]


def test_broker_packets() -> None:
    data = (
        b"\x20\x03\x01\x00\x00"  # CONNACK, session present, success, no properties
        + b"\x90\x04\x00\x01\x00\x01"  # SUBACK id 1, granted QoS 1
        + b"\x40\x02\x00\x05"  # PUBACK id 5 (reason omitted: success)
        + b"\x40\x04\x00\x06\x87\x00"  # PUBACK id 6, not authorised
        + b"\xd0\x00"  # PINGRESP
        + b"\xe0\x01\x8e"  # DISCONNECT, session taken over
    )
    assert decode(data, chunk=1) == [
        Connack(True, 0),
        Suback(1, [1]),
        Puback(5, 0),
        Puback(6, 0x87),
        Pingresp(),
        Disconnect(0x8E),
    ]


def test_publish_with_properties_and_large_payload() -> None:
    payload = b"x" * 20_000
    # QoS 1 PUBLISH with a 3-byte property block (payload format indicator, 1)
    body = b"\x00\x01t" + b"\x00\x09" + b"\x02\x01\x01" + payload
    pkt = b"\x32" + _varint(len(body)) + body
    (p,) = decode(pkt, chunk=333)
    assert p == Publish("t", payload, 1, 9)


def test_pubacks_in_one_write() -> None:
    assert encode_pubacks([1, 65535]) == encode_puback(1) + encode_puback(65535)


@pytest.mark.parametrize(
    "bad",
    [
        b"\x36\x05\x00\x01t\x00\x00",  # QoS 3
        b"\x30\xff\xff\xff\xff\x01",  # remaining length of 5 bytes
        b"\xf0\x00",  # AUTH: not expected by this client
        b"\x30\x03\x00\x05t",  # topic longer than the packet
    ],
)
def test_violations_raise(bad: bytes) -> None:
    with pytest.raises(ProtocolViolation):
        decode(bad)


@given(
    st.lists(
        st.tuples(st.text(min_size=1, max_size=30).filter(lambda t: "\x00" not in t),
                  st.binary(max_size=300), st.integers(1, 65535)),
        min_size=1, max_size=30,
    ),
    st.integers(1, 50),
)  # fmt: skip
def test_stream_of_publishes_split_anywhere(msgs: list[tuple[str, bytes, int]], chunk: int) -> None:
    wire = b"".join(encode_publish(t, p, qos=1, packet_id=i) for t, p, i in msgs)
    assert decode(wire, chunk) == [Publish(t, p, 1, i) for t, p, i in msgs]


@given(st.binary(max_size=200))
def test_garbage_never_hangs_or_raises_anything_else(data: bytes) -> None:
    with contextlib.suppress(ProtocolViolation):
        decode(data, 7)

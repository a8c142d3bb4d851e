"""MQTT 5 packets, sans-I/O: just what a high-rate QoS 1 subscriber needs.

Why not aiomqtt or paho: the collector must acknowledge a message only once it
is durably handled (written to InfluxDB or spooled to disk), and must take
tens of thousands of messages a second. aiomqtt cannot delay a PUBACK, and
paho's per-message callback path tops out near 25,000 msg/s on this class of
machine. This codec parses every PUBLISH in a socket read at once and lets the
caller send the PUBACKs of a whole batch in one write.

``Decoder.feed(bytes)`` buffers; ``Decoder.packets()`` yields complete packets;
``encode_*`` return bytes. Packets the collector never receives as a client
(CONNECT, SUBSCRIBE...) are only encoded. A malformed packet from the broker
raises ``ProtocolViolation``: the connection is then dropped and re-made.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from gudang.errors import RemoteProtocolError

__all__ = [
    "Connack",
    "Decoder",
    "Disconnect",
    "Packet",
    "Pingresp",
    "ProtocolViolation",
    "Puback",
    "Publish",
    "Suback",
    "Unsuback",
    "encode_connect",
    "encode_disconnect",
    "encode_pingreq",
    "encode_puback",
    "encode_pubacks",
    "encode_publish",
    "encode_subscribe",
    "encode_unsubscribe",
]

CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 10, 11, 12, 13, 14
MAX_PACKET = 1 << 20  # we advertise this Maximum Packet Size to the broker


class ProtocolViolation(RemoteProtocolError):
    """The broker sent bytes that are not a valid MQTT 5 packet."""


@dataclass(slots=True)  # not frozen: a frozen init costs 1 µs a message
class Publish:
    topic: str
    payload: bytes
    qos: int
    packet_id: int  # 0 for QoS 0
    retain: bool = False
    dup: bool = False


@dataclass(frozen=True, slots=True)
class Connack:
    session_present: bool
    reason: int
    properties: dict[int, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Suback:
    packet_id: int
    reasons: list[int]


@dataclass(frozen=True, slots=True)
class Unsuback:
    packet_id: int
    reasons: list[int]  # 0x00 removed, 0x11 there was none; others: refused


@dataclass(frozen=True, slots=True)
class Puback:
    packet_id: int
    reason: int


@dataclass(frozen=True, slots=True)
class Pingresp:
    pass


@dataclass(frozen=True, slots=True)
class Disconnect:
    reason: int


Packet = Publish | Connack | Suback | Unsuback | Puback | Pingresp | Disconnect


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str(s: str) -> bytes:
    raw = s.encode("utf-8")
    return len(raw).to_bytes(2, "big") + raw


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + _varint(len(body)) + body


def encode_connect(
    client_id: str,
    *,
    keepalive: int = 30,
    clean_start: bool = False,
    session_expiry_s: int = 0xFFFFFFFF,
    receive_maximum: int = 65535,
    username: str | None = None,
    password: str | None = None,
    will: tuple[str, bytes] | None = None,
) -> bytes:
    """`will`: (topic, payload) the broker publishes, QoS 1 and retained, if we vanish."""
    flags = (0x02 if clean_start else 0) | (0x80 if username is not None else 0)
    flags |= 0x40 if password is not None else 0
    if will is not None:
        flags |= 0x04 | 0x08 | 0x20  # will, will QoS 1, will retain
    props = (
        b"\x11" + session_expiry_s.to_bytes(4, "big")  # session expiry: keep it
        + b"\x21" + receive_maximum.to_bytes(2, "big")  # in flight to us, unacknowledged
        + b"\x27" + MAX_PACKET.to_bytes(4, "big")  # maximum packet size we accept
    )  # fmt: skip
    body = _str("MQTT") + bytes([5, flags]) + keepalive.to_bytes(2, "big")
    body += _varint(len(props)) + props + _str(client_id)
    if will is not None:
        topic, payload = will
        body += b"\x00" + _str(topic) + len(payload).to_bytes(2, "big") + payload
    if username is not None:
        body += _str(username)
    if password is not None:
        body += _str(password)
    return _packet(CONNECT << 4, body)


def encode_subscribe(packet_id: int, filters: list[tuple[str, int]]) -> bytes:
    body = packet_id.to_bytes(2, "big") + b"\x00"
    for name, qos in filters:
        body += _str(name) + bytes([qos & 0x03])
    return _packet((SUBSCRIBE << 4) | 0x02, body)


def encode_unsubscribe(packet_id: int, filters: list[str]) -> bytes:
    body = packet_id.to_bytes(2, "big") + b"\x00"
    for name in filters:
        body += _str(name)
    return _packet((UNSUBSCRIBE << 4) | 0x02, body)


def encode_publish(
    topic: str, payload: bytes, *, qos: int = 1, packet_id: int = 0, retain: bool = False
) -> bytes:
    first = (PUBLISH << 4) | (qos << 1) | (1 if retain else 0)
    body = _str(topic) + (packet_id.to_bytes(2, "big") if qos else b"") + b"\x00" + payload
    return _packet(first, body)


def encode_puback(packet_id: int) -> bytes:
    return bytes([PUBACK << 4, 2]) + packet_id.to_bytes(2, "big")


def encode_pubacks(packet_ids: list[int]) -> bytes:
    """PUBACKs for a whole batch, to be sent in one write."""
    return b"".join(b"\x40\x02" + pid.to_bytes(2, "big") for pid in packet_ids)


def encode_pingreq() -> bytes:
    return b"\xc0\x00"


def encode_disconnect(reason: int = 0) -> bytes:
    return bytes([DISCONNECT << 4, 1, reason])


class Decoder:
    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    def packets(self) -> Iterator[Packet]:
        buf = self._buf
        pos = 0
        end = len(buf)
        try:
            while end - pos >= 2:
                first = buf[pos]
                # remaining length: variable byte integer, at most 4 bytes
                length, shift, i = 0, 0, pos + 1
                while True:
                    if i >= end:
                        return
                    byte = buf[i]
                    length |= (byte & 0x7F) << shift
                    i += 1
                    if not byte & 0x80:
                        break
                    shift += 7
                    if shift > 21:
                        raise ProtocolViolation("remaining length longer than 4 bytes")
                if length > MAX_PACKET:
                    raise ProtocolViolation(f"packet of {length} bytes exceeds {MAX_PACKET}")
                if end - i < length:
                    return
                body = bytes(buf[i : i + length])
                pos = i + length
                yield _parse(first, body)
        finally:
            del buf[:pos]


def _props_len(body: bytes, at: int) -> tuple[int, int]:
    length, shift = 0, 0
    while True:
        if at >= len(body):
            raise ProtocolViolation("truncated properties")
        byte = body[at]
        length |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            return length, at
        shift += 7
        if shift > 21:
            raise ProtocolViolation("property length longer than 4 bytes")


def _parse(first: int, body: bytes) -> Packet:
    kind = first >> 4
    try:
        if kind == PUBLISH:
            qos = (first >> 1) & 0x03
            if qos == 3:
                raise ProtocolViolation("QoS 3")
            tlen = int.from_bytes(body[0:2], "big")
            at = 2 + tlen
            topic = body[2:at].decode("utf-8")
            pid = 0
            if qos:
                pid = int.from_bytes(body[at : at + 2], "big")
                at += 2
            plen, at = _props_len(body, at)
            at += plen
            if at > len(body):
                raise ProtocolViolation("truncated PUBLISH")
            return Publish(topic, body[at:], qos, pid, bool(first & 1), bool(first & 0x08))
        if kind == CONNACK:
            return Connack(bool(body[0] & 1), body[1])
        if kind == SUBACK:
            plen, at = _props_len(body, 2)
            return Suback(int.from_bytes(body[0:2], "big"), list(body[at + plen :]))
        if kind == UNSUBACK:
            plen, at = _props_len(body, 2)
            return Unsuback(int.from_bytes(body[0:2], "big"), list(body[at + plen :]))
        if kind == PUBACK:
            return Puback(int.from_bytes(body[0:2], "big"), body[2] if len(body) > 2 else 0)
        if kind == PINGRESP:
            return Pingresp()
        if kind == DISCONNECT:
            return Disconnect(body[0] if body else 0)
    except (IndexError, UnicodeDecodeError) as exc:
        raise ProtocolViolation(f"malformed packet type {kind}: {exc}") from exc
    raise ProtocolViolation(f"unexpected packet type {kind}")

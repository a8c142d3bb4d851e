"""An asyncio MQTT 5 connection for a subscriber that acknowledges late.

    async with Subscriber(settings, "gudang-collector-site", [(filter, 1)]) as sub:
        async for batch in sub.batches():   # what was received so far, in order
            ...durably handle it...
            sub.ack([m.packet_id for m in batch])   # one write for all PUBACKs

The iteration raises ``ConnectionLost`` when the connection ends (as
aiomqtt's does); a failed connect raises it from ``async with``.

Until a message is acknowledged the broker keeps it (up to the Receive
Maximum in flight, the rest queued in the persistent session) and sends it
again after a reconnect, so a crash between receipt and durable handling
loses nothing. Also publishes (QoS 1, waiting for PUBACK) for dead letters and
alerts.

Liveness: a PINGREQ goes out every 0.75 x keepalive, and when nothing at all
has come from the broker for 1.5 x keepalive (the broker's own rule for its
clients, MQTT 5 section 3.1.2.10) the connection is given up with
``ConnectionLost``: behind a half-open connection the kernel would otherwise
keep it "up" for a quarter of an hour. A handshake that fails in any way
closes the socket before the error is raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from types import TracebackType
from typing import TypeVar

from gudang.collector.mqtt.codec import (
    Connack,
    Decoder,
    Disconnect,
    ProtocolViolation,
    Puback,
    Publish,
    Suback,
    Unsuback,
    encode_connect,
    encode_disconnect,
    encode_pingreq,
    encode_pubacks,
    encode_publish,
    encode_subscribe,
    encode_unsubscribe,
)
from gudang.errors import TransportError
from gudang.settings import MqttSettings

SUBSCRIBE_FILTERS = 200  # per SUBSCRIBE: ~20 KiB of topic filters at most

__all__ = ["ConnectionLost", "Subscriber"]

_P = TypeVar("_P", Connack, Suback, Unsuback)


class ConnectionLost(TransportError):
    """The connection to the broker failed or was refused; reconnect."""


class _Protocol(asyncio.Protocol):
    def __init__(self, owner: Subscriber) -> None:
        self.owner = owner

    def data_received(self, data: bytes) -> None:
        self.owner._received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner._lost(exc)


class Subscriber:
    def __init__(
        self,
        settings: MqttSettings,
        client_id: str,
        filters: list[tuple[str, int]],
        *,
        clean_start: bool = False,
        receive_maximum: int = 20_000,
        timeout_s: float = 10.0,
        will: tuple[str, bytes] | None = None,
        stale: list[str] | None = None,
        session_expiry_s: int = 0xFFFFFFFF,
    ) -> None:
        """`stale`: filters a kept session may still hold from an earlier run
        that are no longer ours (a partition member after N or the site
        changed): removed before subscribing, or their messages would keep
        coming here as well as to their new owner."""
        self.settings = settings
        self.client_id = client_id
        self.filters = filters
        self.stale = stale or []
        self.session_expiry_s = session_expiry_s  # kept while we are away (max: for ever)
        self.clean_start = clean_start
        self.receive_maximum = receive_maximum
        self.timeout_s = timeout_s
        self.will = will
        self.session_present = False
        self._decoder = Decoder()
        self._inbox: list[Publish] = []
        self._arrived = asyncio.Event()
        self._transport: asyncio.Transport | None = None
        self._control: asyncio.Queue[Connack | Suback | Unsuback] = asyncio.Queue()
        self._pending: dict[int, asyncio.Future[int]] = {}
        self._next_id = 0
        self._error: Exception | None = None
        self._pinger: asyncio.Task[None] | None = None
        self._heard = 0.0  # loop time of the last bytes from the broker

    # -- protocol callbacks -----------------------------------------------------

    def _received(self, data: bytes) -> None:
        self._heard = asyncio.get_running_loop().time()
        self._decoder.feed(data)
        try:
            for packet in self._decoder.packets():
                if isinstance(packet, Publish):
                    self._inbox.append(packet)
                elif isinstance(packet, Puback):
                    fut = self._pending.pop(packet.packet_id, None)
                    if fut is not None and not fut.done():
                        fut.set_result(packet.reason)
                elif isinstance(packet, Connack | Suback | Unsuback):
                    self._control.put_nowait(packet)
                elif isinstance(packet, Disconnect):
                    self._fail(ConnectionLost(f"broker disconnected us (reason {packet.reason})"))
                    return
        except ProtocolViolation as exc:
            self._fail(ConnectionLost(f"protocol violation: {exc}"))
            return
        if self._inbox:
            self._arrived.set()

    def _lost(self, exc: Exception | None) -> None:
        if self._error is None:
            self._error = ConnectionLost(f"connection lost: {exc or 'closed by the broker'}")
        self._transport = None
        self._arrived.set()
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(self._error)
        self._pending.clear()

    def _fail(self, exc: Exception, *, abort: bool = False) -> None:
        """Give the connection up; `abort` drops unsent bytes (a silent peer
        would never take them, and close() waits for them)."""
        if self._error is None:
            self._error = exc
        self._arrived.set()  # wake batch(): it raises the error
        if self._transport is not None:
            if abort:
                self._transport.abort()
            else:
                self._transport.close()

    # -- lifecycle -------------------------------------------------------------

    async def __aenter__(self) -> Subscriber:
        s = self.settings
        ctx = None
        if s.tls:
            ctx = ssl.create_default_context(cafile=s.ca_file)
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await asyncio.wait_for(
                loop.create_connection(lambda: _Protocol(self), s.host, s.port, ssl=ctx),
                self.timeout_s,
            )
        except (OSError, TimeoutError) as exc:
            raise ConnectionLost(f"cannot connect to {s.host}:{s.port}: {exc}") from exc
        self._transport = transport
        self._heard = loop.time()
        try:
            await self._handshake()
        except BaseException as exc:
            # Whatever went wrong (refusal, silence, nonsense, cancellation):
            # the socket is closed before the error leaves.
            self._fail(exc if isinstance(exc, ConnectionLost) else ConnectionLost(repr(exc)),
                       abort=True)  # fmt: skip
            raise
        self._pinger = asyncio.create_task(self._ping())
        return self

    async def _handshake(self) -> None:
        s = self.settings
        password = s.password.get_secret_value() if s.password else None
        self._write(
            encode_connect(
                self.client_id,
                keepalive=s.keepalive,
                clean_start=self.clean_start,
                session_expiry_s=self.session_expiry_s,
                receive_maximum=self.receive_maximum,
                username=s.username,
                password=password,
                will=self.will,
            )
        )
        connack = await self._expect(Connack)
        if connack.reason != 0:
            raise ConnectionLost(f"broker refused the connection (reason {connack.reason:#x})")
        self.session_present = connack.session_present
        if self.session_present:
            await self.unsubscribe(self.stale)
        # In pieces: a partition member of a large site has thousands of
        # filters, and one SUBSCRIBE of them all would be over the broker's
        # max_packet_size (65 KiB in the shipped Mosquitto).
        for i in range(0, len(self.filters), SUBSCRIBE_FILTERS):
            self._write(
                encode_subscribe(self._packet_id(), self.filters[i : i + SUBSCRIBE_FILTERS])
            )
            suback = await self._expect(Suback)
            if any(code > 2 for code in suback.reasons):
                raise ConnectionLost(f"subscription refused: {suback.reasons}")

    async def unsubscribe(self, filters: list[str]) -> None:
        """Remove these filters from the session (in pieces, as subscribing)."""
        for i in range(0, len(filters), SUBSCRIBE_FILTERS):
            self._write(encode_unsubscribe(self._packet_id(), filters[i : i + SUBSCRIBE_FILTERS]))
            unsuback = await self._expect(Unsuback)
            if any(code not in (0x00, 0x11) for code in unsuback.reasons):  # 0x11: had none
                raise ConnectionLost(f"unsubscribe refused: {unsuback.reasons}")

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._pinger is not None:
            self._pinger.cancel()
        if self._transport is not None:
            with contextlib.suppress(Exception):
                self._transport.write(encode_disconnect())
            self._transport.close()

    async def _expect(self, kind: type[_P]) -> _P:
        try:
            packet = await asyncio.wait_for(self._control.get(), self.timeout_s)
        except TimeoutError as exc:
            raise ConnectionLost(f"no {kind.__name__} within {self.timeout_s} s") from exc
        if not isinstance(packet, kind):
            raise ConnectionLost(f"expected {kind.__name__}, got {packet}")
        return packet

    async def _ping(self) -> None:
        loop = asyncio.get_running_loop()
        keepalive = self.settings.keepalive
        tick = max(0.25, keepalive / 8)
        sent = loop.time()
        while self._transport is not None:
            await asyncio.sleep(tick)
            now = loop.time()
            if now - self._heard > 1.5 * keepalive:
                self._fail(
                    ConnectionLost(f"nothing from the broker for {now - self._heard:.1f} s "
                                   f"(keepalive {keepalive} s): connection presumed dead"),
                    abort=True,
                )  # fmt: skip
                return
            if now - sent >= 0.75 * keepalive and self._transport is not None:
                self._transport.write(encode_pingreq())
                sent = now

    # -- use ---------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        if self._transport is None:
            raise self._error or ConnectionLost("not connected")
        self._transport.write(data)

    def _packet_id(self) -> int:
        for _ in range(65535):
            self._next_id = self._next_id % 65535 + 1
            if self._next_id not in self._pending:
                return self._next_id
        raise ConnectionLost("no free packet id: 65535 publishes unacknowledged")

    async def batch(self, max_messages: int = 50_000) -> list[Publish]:
        """Every message received so far (waiting for at least one)."""
        while not self._inbox:
            if self._error is not None:
                raise self._error
            self._arrived.clear()
            await self._arrived.wait()
        out, self._inbox = self._inbox[:max_messages], self._inbox[max_messages:]
        return out

    async def batches(self, max_messages: int = 50_000) -> AsyncIterator[list[Publish]]:
        """`batch()` after `batch()`, until the connection ends (ConnectionLost)."""
        while True:
            yield await self.batch(max_messages)

    def ack(self, packet_ids: list[int]) -> None:
        """PUBACK these (QoS 1) messages in one write; after a reconnect the
        broker resends what was not acknowledged, so a lost ack is harmless."""
        ids = [p for p in packet_ids if p]
        if ids and self._transport is not None:
            self._transport.write(encode_pubacks(ids))

    async def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """QoS 1; returns after the broker's PUBACK."""
        pid = self._packet_id()
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending[pid] = fut
        self._write(encode_publish(topic, payload, qos=1, packet_id=pid, retain=retain))
        try:
            reason = await asyncio.wait_for(fut, self.timeout_s)
        except TimeoutError as exc:
            self._pending.pop(pid, None)
            raise ConnectionLost("no PUBACK for a publish") from exc
        if reason >= 0x80:
            raise ConnectionLost(f"publish refused (reason {reason:#x})")

"""The collector's MQTT 5 subscriber against a real Mosquitto: late acknowledgement
means redelivery of exactly what was not acknowledged."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from gudang.collector.mqtt import ConnectionLost, Subscriber
from gudang.services import MosquittoServer
from gudang.settings import MqttSettings
from gudang.testing import MqttRecorder, wait_for_async


async def _collect(sub: Subscriber, n: int, within_s: float = 10.0) -> list:
    got: list = []
    async with asyncio.timeout(within_s):
        while len(got) < n:
            got += await sub.batch()
    return got


async def test_unacknowledged_messages_come_back(private_mosquitto: MosquittoServer) -> None:
    settings = MqttSettings(host=private_mosquitto.host, port=private_mosquitto.port)
    filters = [("t/late-ack/#", 1)]
    async with Subscriber(settings, "late-acker", filters, clean_start=True):
        pass  # creates the persistent session and subscription
    with MqttRecorder(settings, []) as pub:
        for i in range(100):
            pub.publish(f"t/late-ack/{i}", str(i).encode())

    sub = Subscriber(settings, "late-acker", filters)
    await sub.__aenter__()
    assert sub.session_present
    first = await _collect(sub, 100)
    assert [m.payload for m in first] == [str(i).encode() for i in range(100)]
    sub.ack([m.packet_id for m in first[:60]])
    # A broker handles a connection's packets in order: once it acknowledges
    # this publish, it has taken the 60 PUBACKs sent before it.
    await sub.publish("t/sync", b"")
    sub._transport.abort()  # a crash: no DISCONNECT, the rest never acknowledged

    async with Subscriber(settings, "late-acker", filters) as again:
        redelivered = await _collect(again, 40)
        assert sorted(int(m.payload) for m in redelivered) == list(range(60, 100))
        assert all(m.dup for m in redelivered)
        again.ack([m.packet_id for m in redelivered])
        await again.publish("t/sync", b"")  # the PUBACKs are taken (in order, as above)
    async with Subscriber(settings, "late-acker", filters) as third:
        try:
            async with asyncio.timeout(1.0):
                leftover = await third.batch()
        except TimeoutError:
            leftover = []
        assert leftover == []


async def test_publish_waits_for_puback_and_refusal_is_an_error(
    private_mosquitto: MosquittoServer,
) -> None:
    settings = MqttSettings(host=private_mosquitto.host, port=private_mosquitto.port)
    with MqttRecorder(settings, ["t/out/#"]) as rec:
        async with Subscriber(settings, "publisher", []) as sub:
            await sub.publish("t/out/x", b"dead letter", retain=False)
        await wait_for_async(lambda: rec.messages, 10, what="the message at a subscriber")
        assert rec.messages[0][:2] == ("t/out/x", b"dead letter")
    private_mosquitto.stop()
    with pytest.raises(ConnectionLost, match="cannot connect"):
        async with Subscriber(settings, "nobody-home", []):
            pass


class Relay:
    """A TCP relay on loopback between a client and the broker that can go
    silent, as a half-open connection does (a cable pulled behind a switch):
    both sockets stay open, nothing passes either way."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.silent = False
        self.closed_by_client = asyncio.Event()
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, client: bool) -> None:
            while data := await src.read(65536):
                if not self.silent:
                    dst.write(data)
            if client:
                self.closed_by_client.set()

        await asyncio.gather(pipe(reader, up_w, True), pipe(up_r, writer, False),
                             return_exceptions=True)  # fmt: skip

    def close(self) -> None:
        if self._server is not None:
            self._server.close()


async def test_a_silent_network_is_noticed_within_one_and_a_half_keepalives(
    mosquitto: MosquittoServer,
) -> None:
    relay = Relay(mosquitto.port)
    port = await relay.start()
    settings = MqttSettings(host="127.0.0.1", port=port, keepalive=5)
    try:
        async with Subscriber(
            settings, "half-open", [("t/half-open/#", 1)], clean_start=True
        ) as sub:
            relay.silent = True
            started = asyncio.get_running_loop().time()
            with pytest.raises(ConnectionLost, match="keepalive"):
                async with asyncio.timeout(30):
                    await sub.batch()
            assert asyncio.get_running_loop().time() - started <= 1.5 * 5 + 2.5
    finally:
        relay.close()


async def test_a_failed_handshake_closes_the_connection() -> None:
    """A peer that answers CONNECT with nonsense (a SUBACK): the subscriber
    gives up, and closes its side instead of leaving the socket open."""
    closed = asyncio.Event()

    async def confused(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)  # CONNECT
        writer.write(b"\x90\x04\x00\x01\x00\x00")  # SUBACK, packet 1, granted QoS 0
        await writer.drain()
        while await reader.read(1024):
            pass
        closed.set()

    server = await asyncio.start_server(confused, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        settings = MqttSettings(host="127.0.0.1", port=port)
        with pytest.raises(ConnectionLost, match="expected Connack"):
            async with Subscriber(settings, "confused", [], timeout_s=2):
                pass
        async with asyncio.timeout(5):
            await closed.wait()
    finally:
        server.close()


async def test_batches_iterate_in_order_and_end_with_the_connection(
    private_mosquitto: MosquittoServer,
) -> None:
    """`async for batch in sub.batches()`: every message in order, then
    ConnectionLost when the broker goes (the collector reconnects on it)."""
    settings = MqttSettings(host=private_mosquitto.host, port=private_mosquitto.port)
    got: list[bytes] = []
    async with Subscriber(settings, "iterating", [("t/iter/#", 1)], clean_start=True) as sub:
        with MqttRecorder(settings, []) as pub:
            for i in range(50):
                pub.publish("t/iter/x", str(i).encode())

        async def consume() -> None:
            async for batch in sub.batches(max_messages=7):
                assert 0 < len(batch) <= 7
                got.extend(m.payload for m in batch)
                sub.ack([m.packet_id for m in batch])
                if len(got) == 50:
                    private_mosquitto.stop()

        with pytest.raises(ConnectionLost):
            await asyncio.wait_for(consume(), 30)
    assert got == [str(i).encode() for i in range(50)]
    private_mosquitto.start()


async def test_thousands_of_filters_fit_the_shipped_brokers_packet_limit(
    tmp_path: Path, shipped_broker: Callable[..., MosquittoServer]
) -> None:
    """A partition member of a large site subscribes to a few topics per
    device: sent as one SUBSCRIBE, 3,000 filters (~150 KiB) are over the
    shipped Mosquitto's max_packet_size (65 KiB) and the broker hangs up."""
    broker = shipped_broker(tmp_path, "user collector\ntopic read gudang/#\n",
                            {"collector": "secret-pw"})  # fmt: skip
    settings = MqttSettings(host=broker.host, port=broker.port, username="collector",
                            password="secret-pw")  # fmt: skip
    filters = [(f"gudang/v1/big/device/scale-{i:05d}/reading", 1) for i in range(3000)]
    async with Subscriber(settings, "big-member", filters, clean_start=True) as sub:
        assert sub.session_present is False

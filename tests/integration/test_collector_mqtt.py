"""The collector's MQTT 5 subscriber against a real Mosquitto: late acknowledgement
means redelivery of exactly what was not acknowledged."""

from __future__ import annotations

import asyncio

import pytest
from gudang.collector.mqtt import ConnectionLost, Subscriber

from gudang.services import MosquittoServer
from gudang.settings import MqttSettings
from gudang.testing import MqttRecorder


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
    await asyncio.sleep(0.3)
    sub._transport.abort()  # a crash: no DISCONNECT, the rest never acknowledged
    await asyncio.sleep(0.2)

    async with Subscriber(settings, "late-acker", filters) as again:
        redelivered = await _collect(again, 40)
        assert sorted(int(m.payload) for m in redelivered) == list(range(60, 100))
        assert all(m.dup for m in redelivered)
        again.ack([m.packet_id for m in redelivered])
        await asyncio.sleep(0.3)
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
        await asyncio.sleep(0.3)
        assert rec.messages[0][:2] == ("t/out/x", b"dead letter")
    private_mosquitto.stop()
    with pytest.raises(ConnectionLost, match="cannot connect"):
        async with Subscriber(settings, "nobody-home", []):
            pass

"""The edge's MQTT side: one connection, birth and last will, in-order publishing.

Messages wait in a bounded in-memory queue and leave it only once the broker
acknowledged them (aiomqtt's QoS 1 ``publish`` returns after PUBACK); while
the broker is away they wait and are sent in order after reconnecting.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

import aiomqtt

from gudang import logs
from gudang.contract import DeviceStatus, TopicKind, now_ms, topic
from gudang.mqtt import make_client
from gudang.runtime import sleep_or_stop
from gudang.settings import MqttSettings

__all__ = ["Outgoing", "Publisher"]

log = logs.get("edge.mqtt")


@dataclass(frozen=True)
class Outgoing:
    topic: str
    payload: bytes
    retain: bool = False


class Publisher:
    def __init__(
        self,
        settings: MqttSettings,
        site_id: str,
        edge_id: str,
        boot_id: str,
        firmware: str,
        *,
        max_queued: int = 100_000,
    ) -> None:
        self.settings = settings
        self.site_id = site_id
        self.edge_id = edge_id
        self.boot_id = boot_id
        self.firmware = firmware
        self.max_queued = max_queued
        self._queue: deque[Outgoing] = deque()
        self._ready = asyncio.Event()
        self.published = 0
        self.dropped = 0
        self.reconnects = 0
        self.connected = False

    @property
    def depth(self) -> int:
        return len(self._queue)

    def put(self, msg: Outgoing) -> None:
        if len(self._queue) >= self.max_queued:
            # Oldest first: a newer absolute reading supersedes an older one.
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(msg)
        self._ready.set()

    def _status(self, state: str) -> Outgoing:
        status = DeviceStatus(
            subject="edge",
            id=self.edge_id,
            state=state,  # type: ignore[arg-type]
            boot_id=self.boot_id,
            ts=now_ms(),
            firmware=self.firmware,
            counters={"published": self.published, "outbox_depth": self.depth},
        )
        return Outgoing(self._status_topic, status.model_dump_json().encode(), retain=True)

    @property
    def _status_topic(self) -> str:
        return topic(TopicKind.EDGE_STATUS, self.site_id, edge_id=self.edge_id)

    def _client(self) -> aiomqtt.Client:
        will = self._status("offline")
        return make_client(
            self.settings,
            f"gudang-edge-{self.site_id}-{self.edge_id}",
            will=aiomqtt.Will(will.topic, will.payload, qos=1, retain=True),
        )

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.5
        while not stop.is_set():
            try:
                async with self._client() as client:
                    self.connected = True
                    backoff = 0.5
                    log.info("mqtt_connected", host=self.settings.host, port=self.settings.port)
                    birth = self._status("online")
                    await client.publish(birth.topic, birth.payload, qos=1, retain=True)
                    await self._drain(client, stop)
                    # Clean stop: say so ourselves, the will is only for crashes.
                    bye = self._status("offline")
                    await client.publish(bye.topic, bye.payload, qos=1, retain=True)
                    return
            except aiomqtt.MqttError as exc:
                self.connected = False
                self.reconnects += 1
                log.warning("mqtt_disconnected", error=str(exc), retry_in_s=backoff)
                await sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 30.0)
        self.connected = False

    async def _drain(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        while True:
            while self._queue:
                msg = self._queue[0]
                await client.publish(msg.topic, msg.payload, qos=1, retain=msg.retain)
                # Only now, after PUBACK, does the message leave the queue.
                self._queue.popleft()
                self.published += 1
            if stop.is_set():
                return
            self._ready.clear()
            stop_wait = asyncio.ensure_future(stop.wait())
            ready_wait = asyncio.ensure_future(self._ready.wait())
            try:
                await asyncio.wait({stop_wait, ready_wait}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop_wait.cancel()
                ready_wait.cancel()

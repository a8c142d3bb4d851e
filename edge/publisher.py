"""The edge's MQTT side: one connection, birth and last will, the outbox, commands.

Messages are taken from the SQLite outbox in order and deleted only after the
broker's PUBACK (aiomqtt's QoS 1 ``publish`` returns after it), so a broker
outage or an edge crash loses nothing; after reconnecting, the backlog is
replayed in order at no more than ``replay_rate`` messages per second so that
a long outage does not flood the broker and the collector.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import aiomqtt
from gudang.edge.outbox import POLICY, Outbox
from gudang.edge.outgoing import Outgoing

from gudang import logs
from gudang.contract import DeviceStatus, TopicKind, now_ms, topic
from gudang.contract.topics import subscription
from gudang.mqtt import make_client
from gudang.runtime import sleep_or_stop
from gudang.settings import MqttSettings

__all__ = ["Publisher", "TokenBucket"]

log = logs.get("edge.mqtt")

CommandHandler = Callable[[str, bytes], Awaitable[None]]


class TokenBucket:
    """At most `rate` per second on average, bursts up to `rate`."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._tokens = rate
        self._at = time.monotonic()

    async def take(self) -> None:
        while True:
            now = time.monotonic()
            self._tokens = min(self.rate, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return
            await asyncio.sleep((1 - self._tokens) / self.rate)


class Publisher:
    def __init__(
        self,
        settings: MqttSettings,
        site_id: str,
        edge_id: str,
        boot_id: str,
        firmware: str,
        outbox: Outbox,
        *,
        replay_rate: float = 200.0,
        status_interval_s: float = 30.0,
        on_command: CommandHandler | None = None,
    ) -> None:
        self.settings = settings
        self.site_id = site_id
        self.edge_id = edge_id
        self.boot_id = boot_id
        self.firmware = firmware
        self.outbox = outbox
        self.replay_rate = replay_rate
        self.status_interval_s = status_interval_s
        self.on_command = on_command
        self._ready = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.published = 0
        self.reconnects = 0
        self.connected = False

    def put(self, msg: Outgoing) -> None:
        self.outbox.put(
            msg.topic, msg.payload, retain=msg.retain, kind=msg.kind, subject=msg.subject
        )
        self._ready.set()

    def counters(self) -> dict[str, int]:
        return {
            "published": self.published,
            "reconnects": self.reconnects,
            "outbox_depth": self.outbox.depth,
            "outbox_max": self.outbox.max_messages,
            "outbox_merged": self.outbox.merged,
            "outbox_dropped": self.outbox.dropped,
        }

    def _status(self, state: str) -> tuple[str, bytes]:
        status = DeviceStatus(
            subject="edge",
            id=self.edge_id,
            state=state,  # type: ignore[arg-type]
            boot_id=self.boot_id,
            ts=now_ms(),
            protocol=f"outbox policy {POLICY}",
            firmware=self.firmware,
            counters=self.counters(),
        )
        name = topic(TopicKind.EDGE_STATUS, self.site_id, edge_id=self.edge_id)
        return name, status.model_dump_json().encode()

    def _client(self) -> aiomqtt.Client:
        will_topic, will_payload = self._status("offline")
        return make_client(
            self.settings,
            f"gudang-edge-{self.site_id}-{self.edge_id}",
            will=aiomqtt.Will(will_topic, will_payload, qos=1, retain=True),
        )

    async def run(self, stop: asyncio.Event, flush_s: float = 5.0) -> None:
        """Publish until `stop`; then flush for up to `flush_s` and say offline."""
        backoff = 0.5
        while True:
            try:
                async with self._client() as client:
                    self.connected = True
                    backoff = 0.5
                    log.info("mqtt_connected", host=self.settings.host, port=self.settings.port,
                             backlog=self.outbox.depth)  # fmt: skip
                    await client.publish(*self._status("online"), qos=1, retain=True)
                    if self.on_command is not None:
                        await client.subscribe(subscription(TopicKind.COMMAND, self.site_id), qos=1)
                    await self._serve(client, stop)
                    await self._drain(client, deadline=time.monotonic() + flush_s)
                    await client.publish(*self._status("offline"), qos=1, retain=True)
                    self.connected = False
                    return
            except aiomqtt.MqttError as exc:
                self.connected = False
                if stop.is_set():
                    log.warning("mqtt_unflushed", queued=self.outbox.depth, error=str(exc))
                    return
                self.reconnects += 1
                log.warning("mqtt_disconnected", error=str(exc), retry_in_s=backoff,
                            queued=self.outbox.depth)  # fmt: skip
                await sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 10.0)  # a LAN broker: retry at least every 10 s

    async def _serve(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        async def until_stop() -> None:
            await stop.wait()
            raise _Stop

        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(until_stop())
                tg.create_task(self._drain(client))
                tg.create_task(self._commands(client))
                tg.create_task(self._heartbeat(client))
        except* _Stop:
            pass
        except* aiomqtt.MqttError as group:
            # The connection broke under one of the tasks: reconnect as usual.
            raise group.exceptions[0] from None

    async def _drain(self, client: aiomqtt.Client, deadline: float | None = None) -> None:
        bucket = TokenBucket(self.replay_rate)
        while True:
            rows = self.outbox.peek(200)
            if not rows:
                if deadline is not None:
                    return
                self._ready.clear()
                if not self.outbox.depth:
                    await self._ready.wait()
                continue
            for row in rows:
                if deadline is not None and time.monotonic() > deadline:
                    log.warning("flush_incomplete", queued=self.outbox.depth)
                    return
                await bucket.take()
                await client.publish(row.topic, row.payload, qos=1, retain=row.retain)
                self.outbox.ack(row.id)  # only now, after PUBACK
                self.published += 1

    async def _commands(self, client: aiomqtt.Client) -> None:
        if self.on_command is None:
            return
        async for message in client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else b""
            # A command may take seconds at the device: never block the reader.
            task = asyncio.create_task(self.on_command(str(message.topic), payload))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _heartbeat(self, client: aiomqtt.Client) -> None:
        while True:
            await asyncio.sleep(self.status_interval_s)
            await client.publish(*self._status("online"), qos=1, retain=True)


class _Stop(Exception):
    """Ends the connection's task group on a requested stop."""

"""The edge's MQTT side: one connection, birth and last will, the outbox, commands.

Messages are taken from the SQLite outbox in order and sent at QoS 1
(aiomqtt's ``publish`` returns after the PUBACK). Readings and tag events stay
in the outbox until the collector confirms it has them durably
(``device/<id>/confirmed``), everything else until the PUBACK; after every
reconnection the unconfirmed ones are sent again (the broker that acknowledged
them may have crashed since), and so is one whose confirmation is overdue. So a
broker outage, a broker crash or an edge crash loses nothing; the backlog is
replayed in order at no more than ``replay_rate`` messages per second so that a
long outage does not flood the broker and the collector.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import aiomqtt
from pydantic import ValidationError

from gudang import logs
from gudang.contract import Confirmation, DeviceStatus, TopicKind, now_ms, parse, topic
from gudang.contract.messages import MAX_MESSAGE_BYTES
from gudang.contract.topics import subscription
from gudang.edge.outbox import POLICY, Outbox
from gudang.edge.outgoing import Outgoing
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
        self.resent = 0  # rows sent again: unconfirmed after a reconnection or a timeout
        self.too_large = 0  # messages over MAX_MESSAGE_BYTES, refused (a bug if ever)
        self.reconnects = 0
        self.connected = False

    def put(self, msg: Outgoing) -> None:
        if len(msg.payload) > MAX_MESSAGE_BYTES:
            # A bug, never data: the broker would refuse it, and it would block
            # the outbox's order behind it forever.
            self.too_large += 1
            log.error("message_too_large", topic=msg.topic, size=len(msg.payload),
                      limit=MAX_MESSAGE_BYTES)  # fmt: skip
            return
        boot = self.boot_id if msg.seq is not None else None
        self.outbox.put(msg.topic, msg.payload, retain=msg.retain, kind=msg.kind,
                        subject=msg.subject, boot=boot, seq=msg.seq)  # fmt: skip
        self._ready.set()

    def counters(self) -> dict[str, int]:
        return {
            "published": self.published,
            "reconnects": self.reconnects,
            "outbox_depth": self.outbox.depth,
            "outbox_max": self.outbox.max_messages,
            "outbox_merged": self.outbox.merged,
            "outbox_dropped": self.outbox.dropped,
            "outbox_unconfirmed": self.outbox.unconfirmed,
            "resent": self.resent,
            "too_large": self.too_large,
        }

    def _status(self, state: str, reason: str | None = None) -> tuple[str, bytes]:
        status = DeviceStatus(
            subject="edge",
            id=self.edge_id,
            state=state,
            reason=reason,
            boot_id=self.boot_id,
            ts=now_ms(),
            protocol=f"outbox policy {POLICY}",
            firmware=self.firmware,
            counters=self.counters(),
        )
        name = topic(TopicKind.EDGE_STATUS, self.site_id, edge_id=self.edge_id)
        return name, status.model_dump_json().encode()

    def _client(self) -> aiomqtt.Client:
        will_topic, will_payload = self._status("offline", "connection_lost")
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
                    if self.outbox.confirm:
                        for kind in (TopicKind.CONFIRMED, TopicKind.COLLECTOR_STATUS):
                            await client.subscribe(subscription(kind, self.site_id), qos=1)
                        again = self.outbox.unsend_all()
                        if again:
                            self.resent += again
                            log.info("resending_unconfirmed", rows=again, reason="reconnected")
                    await self._serve(client, stop)
                    await self._drain(client, deadline=time.monotonic() + flush_s)
                    await client.publish(*self._status("offline", "stopped"), qos=1, retain=True)
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
                if self.outbox.confirm:
                    tg.create_task(self._expire())
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
                if not self.outbox.peek(1):  # rows waiting for confirmation are not work
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
        async for message in client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else b""
            name = str(message.topic)
            parsed = parse(name)
            if parsed is not None and parsed.kind is TopicKind.CONFIRMED:
                self._confirmed(parsed.levels["device_id"], payload)
            elif parsed is not None and parsed.kind is TopicKind.COLLECTOR_STATUS:
                self._collector_status(parsed.levels["member"], payload)
            elif self.on_command is not None:
                # A command may take seconds at the device: never block the reader.
                task = asyncio.ensure_future(self.on_command(name, payload))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def _confirmed(self, device_id: str, payload: bytes) -> None:
        try:
            c = Confirmation.model_validate_json(payload)
        except ValidationError as exc:
            log.warning("confirmation_invalid", device=device_id, error=str(exc.errors()[0]["msg"]))
            return
        if c.device_id == device_id:  # the topic's device, nobody else's
            self.outbox.confirmed(device_id, c.boot_id, c.ranges)

    def _collector_status(self, member: str, payload: bytes) -> None:
        """A collector (re)started or reconnected: its broker session may be
        new, and whatever it has not confirmed may be lost with the old one."""
        try:
            status = DeviceStatus.model_validate_json(payload)
        except ValidationError:
            return  # an empty retained payload, or not ours to judge
        if status.subject != "collector" or status.id != member or status.state != "online":
            return
        again = self.outbox.unsend_all()
        if again:
            self.resent += again
            log.info("resending_unconfirmed", rows=again, reason="collector_online",
                     member=member)  # fmt: skip
            self._ready.set()

    async def _expire(self) -> None:
        """Send again what stays unconfirmed too long (a confirmation lost, or
        a broker that lost messages without dropping the connection)."""
        while True:
            await asyncio.sleep(min(10.0, self.outbox.resend_after_s / 4))
            again = self.outbox.expire()
            if again:
                self.resent += again
                log.info("resending_unconfirmed", rows=again, reason="overdue")
                self._ready.set()

    async def _heartbeat(self, client: aiomqtt.Client) -> None:
        while True:
            await asyncio.sleep(self.status_interval_s)
            await client.publish(*self._status("online"), qos=1, retain=True)


class _Stop(Exception):
    """Ends the connection's task group on a requested stop."""

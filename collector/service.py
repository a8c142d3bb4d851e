"""The collector process: MQTT readings in, stock levels out to InfluxDB."""

from __future__ import annotations

import asyncio

import aiomqtt
from gudang.collector.intake import Accepted, classify
from gudang.collector.points import bin_stock_point, reading_point
from gudang.collector.stock import bin_levels
from gudang.collector.writer import BatchWriter

from gudang import logs
from gudang.contract import DeadLetter, TopicKind, topic
from gudang.contract.topics import subscription
from gudang.errors import StorageError
from gudang.influx import InfluxClient
from gudang.mqtt import make_client
from gudang.runtime import sleep_or_stop
from gudang.settings import InfluxSettings, MqttSettings
from gudang.site import Site

__all__ = ["Collector"]

log = logs.get("collector")


class Collector:
    def __init__(self, site: Site, mqtt: MqttSettings, influx: InfluxSettings) -> None:
        self.site = site
        self.mqtt = mqtt
        self.influx = influx
        self.site_id = site.site.id
        self.received = 0
        self.dead_letters = 0

    def handle(self, writer: BatchWriter, topic_name: str, payload: bytes) -> DeadLetter | None:
        self.received += 1
        result = classify(self.site, topic_name, payload)
        if not isinstance(result, Accepted):
            self.dead_letters += 1
            log.warning("dead_letter", topic=topic_name, reason=result.reason)
            return result
        reading = result.reading
        points = [reading_point(self.site_id, reading)]
        points += [bin_stock_point(self.site_id, lv) for lv in bin_levels(self.site, reading)]
        writer.add(points)
        return None

    async def _connect_db(self, db: InfluxClient, stop: asyncio.Event) -> bool:
        backoff = 0.5
        while not stop.is_set():
            try:
                version = await db.ping()
                await db.ensure_database()
                log.info("influx_ready", url=self.influx.url, version=version)
                return True
            except StorageError as exc:
                log.warning("influx_unavailable", error=str(exc), retry_in_s=backoff)
                await sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 30.0)
        return False

    async def run(self, stop: asyncio.Event) -> None:
        async with InfluxClient(self.influx) as db:
            if not await self._connect_db(db, stop):
                return
            writer = BatchWriter(db)
            writer_stop = asyncio.Event()
            writer_task = asyncio.create_task(writer.run(writer_stop))
            mqtt_task = asyncio.create_task(self._mqtt_loop(writer))
            await stop.wait()
            mqtt_task.cancel()
            await asyncio.gather(mqtt_task, return_exceptions=True)
            writer_stop.set()
            await writer_task
            log.info("collector_stop", received=self.received, written=writer.points_written)

    def _client(self) -> aiomqtt.Client:
        # Fixed id + persistent session: the broker keeps our QoS 1 messages
        # while we are away (up to its max_queued_messages).
        return make_client(self.mqtt, f"gudang-collector-{self.site_id}", clean_session=False)

    async def _mqtt_loop(self, writer: BatchWriter) -> None:
        backoff = 0.5
        dead_topic = topic(TopicKind.DEAD_LETTER, self.site_id, component="collector")
        while True:
            try:
                async with self._client() as client:
                    await client.subscribe(subscription(TopicKind.READING, self.site_id), qos=1)
                    log.info("mqtt_subscribed", host=self.mqtt.host, port=self.mqtt.port)
                    backoff = 0.5
                    async for message in client.messages:
                        payload = message.payload
                        if not isinstance(payload, bytes | bytearray):
                            payload = str(payload).encode()
                        dead = self.handle(writer, str(message.topic), bytes(payload))
                        if dead is not None:
                            await client.publish(dead_topic, dead.model_dump_json(), qos=1)
            except aiomqtt.MqttError as exc:
                log.warning("mqtt_disconnected", error=str(exc), retry_in_s=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

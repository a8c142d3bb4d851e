"""The collector process: MQTT in (late acknowledgement), stock engine, InfluxDB out.

One loop: take every message received so far, classify it (dead letter, or
accepted), drop certain duplicates, let the stock engine make points, and hand
points and acknowledgements to the durable writer, which acknowledges only once
the points are in InfluxDB or in the disk spool. Dead letters are acknowledged
once the broker has taken the dead letter itself.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from gudang.collector.dedupe import SeqWindow
from gudang.collector.engine import StockEngine
from gudang.collector.intake import Accepted, classify
from gudang.collector.metrics import CollectorMetrics, serve_metrics
from gudang.collector.mqtt import ConnectionLost, Publish, Subscriber
from gudang.collector.spool import Spool
from gudang.collector.writer import Acks, DurableWriter

from gudang import logs
from gudang.contract import DeadLetter, TagEvent, TopicKind, topic
from gudang.contract.topics import subscription
from gudang.errors import StorageError
from gudang.influx import InfluxClient, quote_ident
from gudang.influx.schema import BIN_STOCK
from gudang.runtime import sleep_or_stop
from gudang.settings import InfluxSettings, MqttSettings
from gudang.site import Site

__all__ = ["Collector"]

log = logs.get("collector")


class Collector:
    def __init__(
        self,
        site: Site,
        mqtt: MqttSettings,
        influx: InfluxSettings,
        *,
        spool_path: Path,
        spool_max_bytes: int = 512 * 1024 * 1024,
        share_group: str | None = None,
        receive_maximum: int = 20_000,
        metrics_port: int | None = None,
        metrics_host: str = "127.0.0.1",
    ) -> None:
        self.site = site
        self.mqtt = mqtt
        self.influx = influx
        self.site_id = site.site.id
        self.spool = Spool(spool_path, spool_max_bytes)
        self.share_group = share_group
        self.receive_maximum = receive_maximum
        self.engine = StockEngine(site)
        self.dedupe = SeqWindow()
        self.received = 0
        self.dead_letters = 0
        self.generation = 0  # which MQTT connection a packet id belongs to
        self._sub: Subscriber | None = None
        self.metrics = CollectorMetrics(self)
        if metrics_port is not None:
            serve_metrics(self.metrics, metrics_host, metrics_port)
        self.dead_topic = topic(TopicKind.DEAD_LETTER, self.site_id, component="collector")

    # -- message handling ---------------------------------------------------------

    def handle(self, batch: list[Publish], writer: DurableWriter) -> list[tuple[int, DeadLetter]]:
        """Process one received batch; returns the dead letters to publish."""
        points: list[str] = []
        acks: Acks = []
        dead: list[tuple[int, DeadLetter]] = []
        gen = self.generation
        for msg in batch:
            self.received += 1
            result = classify(self.site, msg.topic, msg.payload)
            if not isinstance(result, Accepted):
                self.dead_letters += 1
                dead.append((msg.packet_id, result))
                continue
            m = result.message
            if not self.dedupe.seen(m.device_id, m.boot_id, m.seq):
                if isinstance(m, TagEvent):
                    points += self.engine.tag(m)
                else:
                    points += self.engine.reading(m)
            acks.append((gen, msg.packet_id))
        writer.add(points, acks)
        return dead

    @property
    def connected(self) -> bool:
        return self._sub is not None

    def release(self, acks: Acks) -> None:
        """Durable: acknowledge what belongs to the current connection. Older
        ones are resent by the broker after a reconnect and handled again, which
        changes nothing (idempotent writes, dedupe)."""
        if self._sub is not None:
            self._sub.ack([pid for gen, pid in acks if gen == self.generation])

    # -- start-up -------------------------------------------------------------

    async def _connect_db(self, db: InfluxClient, stop: asyncio.Event) -> bool:
        backoff = 0.5
        while not stop.is_set():
            try:
                version = await db.ping()
                await db.ensure_database()
                await self._seed(db)
                log.info("influx_ready", url=self.influx.url, version=version,
                         spooled_points=self.spool.points)  # fmt: skip
                return True
            except StorageError as exc:
                log.warning("influx_unavailable", error=str(exc), retry_in_s=backoff)
                await sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 30.0)
        return False

    async def _seed(self, db: InfluxClient) -> None:
        """Each bin's last stable level, so the first movement after a restart is right."""
        q = (
            f'SELECT last("net_kg") AS "net_kg" FROM {quote_ident(BIN_STOCK)} '
            'WHERE "site" = $site GROUP BY "bin"'
        )
        try:
            series = await db.query(q, {"site": self.site_id})
        except StorageError as exc:
            if "database not found" in str(exc):
                return
            raise
        for s in series:
            for row in s.rows():
                self.engine.seed(s.tags.get("bin", ""), int(row["time"]), float(row["net_kg"]))

    # -- the loops --------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        async with InfluxClient(self.influx) as db:
            if not await self._connect_db(db, stop):
                return
            writer = DurableWriter(db, self.spool, self.release)
            self.metrics.writer = writer
            writer_stop = asyncio.Event()
            writer_task = asyncio.create_task(writer.run(writer_stop))
            mqtt_task = asyncio.create_task(self._mqtt_loop(writer, stop))
            await stop.wait()
            await asyncio.gather(mqtt_task, return_exceptions=True)
            writer_stop.set()
            await writer_task  # flushes the last batch, then releases its acks
            if self._sub is not None:
                await self._sub.__aexit__(None, None, None)
            self.spool.close()
            log.info("collector_stop", received=self.received, written=writer.points_written,
                     spooled=self.spool.points)  # fmt: skip

    def _filters(self) -> list[tuple[str, int]]:
        names = [
            subscription(TopicKind.READING, self.site_id),
            subscription(TopicKind.TAG, self.site_id),
        ]
        if self.share_group:
            names = [f"$share/{self.share_group}/{n}" for n in names]
        return [(n, 1) for n in names]

    async def _mqtt_loop(self, writer: DurableWriter, stop: asyncio.Event) -> None:
        backoff = 0.5
        # Fixed id + persistent session: the broker keeps our messages while we
        # are away (up to its max_queued_messages). Shared members need own ids.
        client_id = f"gudang-collector-{self.site_id}"
        if self.share_group:
            client_id += f"-{self.share_group}-{id(self) % 100000}"
        while not stop.is_set():
            sub = Subscriber(
                self.mqtt, client_id, self._filters(), receive_maximum=self.receive_maximum
            )
            try:
                await sub.__aenter__()
            except ConnectionLost as exc:
                log.warning("mqtt_unavailable", error=str(exc), retry_in_s=backoff)
                await sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            self.generation += 1
            self._sub = sub
            backoff = 0.5
            log.info("mqtt_subscribed", host=self.mqtt.host, port=self.mqtt.port,
                     session_present=sub.session_present)  # fmt: skip
            try:
                while not stop.is_set():
                    batch = await _batch_or_stop(sub, stop)
                    if batch is None:
                        return
                    dead = self.handle(batch, writer)
                    if dead:
                        await self._publish_dead(sub, dead)
            except ConnectionLost as exc:
                log.warning("mqtt_disconnected", error=str(exc))
                self._sub = None
                await sub.__aexit__(None, None, None)

    async def _publish_dead(self, sub: Subscriber, dead: list[tuple[int, DeadLetter]]) -> None:
        for _, letter in dead[:20]:
            log.warning("dead_letter", topic=letter.topic, reason=letter.reason)
        if len(dead) > 20:
            log.warning("dead_letters_more", count=len(dead) - 20)
        await asyncio.gather(
            *(sub.publish(self.dead_topic, d.model_dump_json().encode()) for _, d in dead)
        )
        sub.ack([pid for pid, _ in dead])


async def _batch_or_stop(sub: Subscriber, stop: asyncio.Event) -> list[Publish] | None:
    getter = asyncio.ensure_future(sub.batch())
    stopper = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
    if getter in done:
        stopper.cancel()
        return getter.result()
    getter.cancel()
    return None

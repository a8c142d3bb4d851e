"""The collector process: MQTT in (late acknowledgement), stock engine, InfluxDB out.

One loop: take every message received so far, classify it (dead letter, or
accepted), drop certain duplicates, let the stock engine make points, and hand
points and acknowledgements to the durable writer, which acknowledges only once
the points are in InfluxDB or in the disk spool. Dead letters are published
from their own task (ingestion never waits for their PUBACKs) and a refused
message is acknowledged once the broker has taken its dead letter.

Each message is handled on its own: whatever goes wrong with one (a refusal,
or a bug while handling it) makes that message a dead letter and touches no
other message of its batch. A message is remembered as seen (duplicate
suppression) only once its points are durable.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO

from gudang import __version__, logs
from gudang.collector.alerts.monitor import AlertMonitor
from gudang.collector.alerts.notify import Notifier
from gudang.collector.calibration import Calibration
from gudang.collector.counting import CountingWatch
from gudang.collector.dedupe import SeqWindow
from gudang.collector.engine import StockEngine
from gudang.collector.intake import Control, Intake, Refused, refuse
from gudang.collector.metrics import CollectorMetrics
from gudang.collector.mqtt import ConnectionLost, Publish, Subscriber
from gudang.collector.mqtt.filters import SubscribedFilters
from gudang.collector.requests import Outcome, Requests
from gudang.collector.seed import spooled_levels
from gudang.collector.spool import MIN_SPOOL_BYTES, Spool
from gudang.collector.writer import Acks, DurableWriter, Seen
from gudang.consumption import ConsumptionView
from gudang.contract import (
    Alert,
    AlertAck,
    Calibrate,
    Confirmation,
    DeadLetter,
    DeviceStatus,
    Partitioning,
    SkuUpdate,
    TagEvent,
    TopicKind,
    WeightReading,
    now_ms,
    topic,
)
from gudang.contract.messages import is_alert_kind
from gudang.contract.topics import ROOT, subscription
from gudang.errors import ConfigError, ConfigProblem, DatabaseNotFound, StorageError
from gudang.influx import FieldValue, InfluxClient, line, quote_ident, series_key
from gudang.influx.schema import ALERT, BIN_STOCK
from gudang.partitions import Partition, assign, revision
from gudang.replenishment import forecast
from gudang.runtime import sleep_or_stop
from gudang.settings import InfluxSettings, MqttSettings
from gudang.site import Site
from gudang.sqlite import hold_exclusive
from gudang.webtargets import TargetPolicy, redact

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
        state_path: Path | None = None,
        receive_maximum: int = 65_535,
        confirm_every_s: float = 1.0,
        forecast_every_s: float = 300.0,
        partition: tuple[int, int] | None = None,
        batch_messages: int = 2_000,
        webhook_policy: TargetPolicy | None = None,
    ) -> None:
        self.site = site
        self.mqtt = mqtt
        self.influx = influx
        self.site_id = site.site.id
        if spool_max_bytes < MIN_SPOOL_BYTES:
            raise ConfigError("collector", [ConfigProblem(
                "spool_max_bytes",
                f"{spool_max_bytes} is below {MIN_SPOOL_BYTES} (16 MiB), the room one batch needs",
            )])  # fmt: skip
        state = state_path or spool_path.with_name("state.db")
        # One process per spool and state file: a second collector (a member
        # started twice, two members on one default path) refuses to start.
        self._locks: list[IO[str]] = []
        for what, path in (("spool", spool_path), ("state", state)):
            held = hold_exclusive(path)
            if held is None:
                raise ConfigError("collector", [ConfigProblem(what, (
                    f"{path} is in use by another collector (its pid is in {path}.lock): "
                    "give each collector, and each partition member, its own --spool and "
                    "--state"))])  # fmt: skip
            self._locks.append(held)
        self.spool = Spool(spool_path, spool_max_bytes)
        # A static partition (gudang/partitions.py): this member subscribes to
        # its groups' devices, bins and SKUs only; its name says which of how many.
        self.partition: Partition | None = None
        self.partitioning: Partitioning | None = None
        if partition is not None:
            index, members = partition
            if not 0 <= index < members:
                raise ConfigError("collector", [ConfigProblem(
                    "partition", f"member {index} of {members}: needs 0 <= member < members",
                )])  # fmt: skip
            self.partition = assign(site, members)[index]
            self.partitioning = Partitioning(member=index, members=members,
                                             revision=revision(site))  # fmt: skip
        # The status and session name: "1" alone, "p<I>of<N>" as a member.
        self.member = "1" if partition is None else f"p{partition[0]}of{partition[1]}"
        self.receive_maximum = receive_maximum
        # Messages per engine round: small enough that the writer starts on
        # the first points while the rest of a backlog is still being read.
        self.batch_messages = batch_messages
        self.calibration = Calibration(site, state)
        self.subscribed = SubscribedFilters(state)
        self.loop_seen = time.monotonic()
        self.foreign = 0  # messages of other members' devices, skipped
        self._foreign_seen: set[str] = set()
        self.engine = StockEngine(site, self.calibration)
        owned = self.partition.devices if self.partition is not None else None
        self.alerts = AlertMonitor(site, self.calibration, state, devices=owned)
        self.requests = Requests(site, self.calibration, self.engine, self.alerts)
        self._results_out: list[tuple[str, bytes, bool]] = []  # results, settings (retained?)
        self.notifier = Notifier(site, webhook_policy or TargetPolicy())
        self._alerts_out: list[Alert] = []  # transitions not yet published (retained)
        self._dead_out: list[tuple[int, int, DeadLetter]] = []  # (generation, packet id, letter)
        self._outgoing = asyncio.Event()  # alerts or results wait to be published
        self._alert_lines: list[str] = []
        self.dedupe = SeqWindow()
        self._inflight: set[tuple[str, str, int]] = set()  # with the writer, not yet durable
        self.messages_durable = 0  # data messages stored (InfluxDB or spool) and acknowledged
        self._to_confirm: set[tuple[str, str]] = set()  # (device, boot) with news for its edge
        self.confirm_every_s = confirm_every_s  # 0: edges get no confirmations
        self.forecast_every_s = forecast_every_s
        self.intake = Intake(site, int(site.ingest.max_clock_ahead_s * 1000))
        self.counting = CountingWatch(site)
        for warning in self.counting.at_start():
            log.warning("counting_unreliable", warning=warning)
        self.received = 0
        self.dead_letters = 0
        self.dead_letter_codes: dict[str, int] = {}
        self.generation = 0  # which MQTT connection a packet id belongs to
        self._sub: Subscriber | None = None
        self.metrics = CollectorMetrics(self)
        self.dead_topic = topic(TopicKind.DEAD_LETTER, self.site_id, component="collector")
        self._status_topic = topic(TopicKind.COLLECTOR_STATUS, self.site_id, member=self.member)
        self.boot_id = uuid.uuid4().hex
        # One handler per kind of control topic (readings and tag events go
        # to the engine); the intake has checked topic and payload already.
        self._handlers: dict[TopicKind, Callable[[Control], None]] = {
            TopicKind.DEVICE_STATUS: self._on_status,
            TopicKind.EDGE_STATUS: self._on_status,
            TopicKind.ALERT_ACK: self._on_alert_ack,
            TopicKind.CALIBRATE: self._on_calibrate,
            TopicKind.SKU_UPDATE: self._on_sku_update,
        }

    # -- message handling ---------------------------------------------------------

    def _alerted(self, alerts: list[Alert]) -> None:
        for a in alerts:
            log.info("alert", kind=a.kind, subject=a.subject, state=a.state, value=a.value)
            self._alerts_out.append(a)
            self.notifier.submit(a)
            fields: dict[str, FieldValue] = {
                "state": a.state, "text_id": a.text.id, "text_en": a.text.en,
                "raised_at": a.raised_at, "by": a.acknowledged_by or "", "note": a.note or "",
            }  # fmt: skip
            if a.value is not None:
                fields["value"] = float(a.value)
            series = series_key(ALERT, {"site": self.site_id, "kind": a.kind, "subject": a.subject})
            self._alert_lines.append(line(series, fields, a.updated_at))

    def _handled(self, out: Outcome) -> None:
        """Publish and write what a request produced."""
        self._results_out += out.messages
        self._alert_lines += out.lines
        self._alerted(out.alerts)

    def _control(self, c: Control) -> None:
        """Status, alert acknowledgements, calibration, settings: state, not data."""
        if c.message is not None:  # None: an empty retained status, which only clears it
            self._handlers[c.kind](c)

    def _on_sku_update(self, c: Control) -> None:
        assert isinstance(c.message, SkuUpdate)
        self._handled(self.requests.update_sku(c.levels["sku_id"], c.message))

    def _on_calibrate(self, c: Control) -> None:
        assert isinstance(c.message, Calibrate)
        self._handled(self.requests.calibrate(c.levels["bin_id"], c.message))

    def _on_alert_ack(self, c: Control) -> None:
        assert isinstance(c.message, AlertAck)
        kind = c.levels["kind"]
        assert is_alert_kind(kind)  # the intake refuses any other
        self._alerted(self.alerts.acknowledge(kind, c.levels["subject"], c.message))

    def _foreign(self, device: str) -> bool:
        """A device of another partition member: its message was queued in
        this member's session before N or the site's groups changed. Counted,
        not processed and not confirmed: its edge sends it again (unconfirmed
        messages go again after a while), then to the member that owns it."""
        if self.partition is None or device in self.partition.devices:
            return False
        self.foreign += 1
        if device not in self._foreign_seen:
            self._foreign_seen.add(device)
            log.warning("foreign_device_skipped", device=device, member=self.member)
        return True

    def _on_status(self, c: Control) -> None:
        m = c.message
        assert isinstance(m, DeviceStatus)
        if m.subject == "device" and self._foreign(m.id):
            return
        self._alerted(self.alerts.status(m))
        for warning in self.counting.status(m):
            log.warning("counting_unreliable", device=m.id, noise_kg=m.noise_kg,
                        plateau_samples=m.plateau_samples, warning=warning)  # fmt: skip

    def _data(self, m: WeightReading | TagEvent, now: int) -> tuple[list[str], bool]:
        """The points of one accepted reading or tag event (and whether one
        rewrites a point written before), and its alerts."""
        self._alerted(self.alerts.clock_ok(m.device_id, now))
        if isinstance(m, TagEvent):
            return self.engine.tag(m), False
        result = self.engine.reading(m)
        self._alerted(self.alerts.reading(m, result))
        return result.lines, result.rewrites

    def _refused(self, r: Refused, now: int) -> DeadLetter:
        self.dead_letters += 1
        self.dead_letter_codes[r.code] = self.dead_letter_codes.get(r.code, 0) + 1
        if r.code == "clock_ahead" and r.device is not None and r.ahead_ms is not None:
            self._alerted(self.alerts.clock_ahead(r.device, r.ahead_ms, now))
        return r.letter

    def handle(self, batch: list[Publish], writer: DurableWriter) -> list[tuple[int, DeadLetter]]:
        """Process one received batch; returns the dead letters to publish."""
        points: list[str] = []
        acks: Acks = []
        seen: Seen = []
        in_batch: set[tuple[str, str, int]] = set()
        dead: list[tuple[int, DeadLetter]] = []
        ordered = False  # some point rewrites one written before
        gen = self.generation
        now = now_ms()
        for msg in batch:
            self.received += 1
            try:
                result = self.intake.classify(msg.topic, msg.payload, now)
                if isinstance(result, Refused):
                    dead.append((msg.packet_id, self._refused(result, now)))
                    continue
                if isinstance(result, Control):
                    self._control(result)
                else:
                    m = result.message
                    key = (m.device_id, m.boot_id, m.seq)
                    if self._foreign(m.device_id):
                        pass  # acknowledged, never confirmed: see _foreign
                    elif key in in_batch or key in self._inflight:
                        self.dedupe.duplicates += 1
                    elif self.dedupe.seen(*key):
                        # A re-send: its edge missed the confirmation; say it again.
                        self._to_confirm.add(key[:2])
                    else:
                        lines, rewrites = self._data(m, now)
                        points += lines
                        ordered = ordered or rewrites
                        in_batch.add(key)
                        seen.append(key)
            except Exception as exc:
                # A bug, not the message's fault alone: it costs this message,
                # never the others of the batch (they are written and acknowledged).
                log.exception("message_failed", topic=msg.topic[:512], error=repr(exc))
                reason = f"the collector failed on this message: {exc!r}"
                letter = refuse(msg.topic, msg.payload, "internal_error", reason, now)
                dead.append((msg.packet_id, self._refused(letter, now)))
                continue
            acks.append((gen, msg.packet_id))
        ordered = ordered or bool(self._alert_lines)  # an alert's or a setting's new state
        points += self._alert_lines
        self._alert_lines = []
        # The alert state as of this batch is saved when its points are
        # durable, before its messages are acknowledged: after a crash the
        # broker's resends are judged from exactly that state.
        staged = self.alerts.stage()
        writer.add(points, acks, seen, ordered=ordered,
                   commit=functools.partial(self.alerts.commit, staged))  # fmt: skip
        # Handed to the writer: durable soon (or the process ends). A copy that
        # arrives meanwhile is a duplicate; its acknowledgement is released
        # after this batch's, since the writer releases in order.
        self._inflight.update(seen)
        if self._alerts_out or self._results_out:
            self._outgoing.set()
        return dead

    async def _publish_outgoing(self, sub: Subscriber) -> None:
        """Dead letters, alerts (retained, one topic per (kind, subject): the
        newest state wins) and calibration results, in order, from their own
        task: waiting for the broker's PUBACKs must not hold up ingestion. A
        refused message is acknowledged once its dead letter is with the broker."""
        while True:
            await self._outgoing.wait()
            self._outgoing.clear()
            dead, self._dead_out = self._dead_out, []
            results, self._results_out = self._results_out, []
            pending, self._alerts_out = self._alerts_out, []
            try:
                if dead:
                    await asyncio.gather(*(sub.publish(self.dead_topic,
                                                       d.model_dump_json().encode())
                                           for _, _, d in dead))  # fmt: skip
                    sub.ack([pid for gen, pid, _ in dead if gen == self.generation])
                    dead = []
                await asyncio.gather(
                    *(sub.publish(name, body, retain=r) for name, body, r in results)
                )
                results = []
                await asyncio.gather(
                    *(
                        sub.publish(
                            topic(TopicKind.ALERT, self.site_id, kind=a.kind, subject=a.subject),
                            a.model_dump_json().encode(),
                            retain=True,
                        )
                        for a in pending
                    )
                )
            except (ConnectionLost, asyncio.CancelledError) as exc:
                # Again after reconnecting (a retained repeat is harmless); the
                # ingest loop sees the lost connection itself. Dead letters not
                # yet out are dropped: their messages were never acknowledged,
                # so the broker sends them again and they are refused again.
                self._results_out = results + self._results_out
                self._alerts_out = pending + self._alerts_out
                if isinstance(exc, asyncio.CancelledError):
                    raise
                return

    def _status(self, state: str, reason: str | None = None) -> bytes:
        status = DeviceStatus(subject="collector", id=self.member, state=state,
                              reason=reason, partition=self.partitioning,
                              boot_id=self.boot_id, ts=now_ms(),
                              firmware=f"gudang {__version__}")  # fmt: skip
        return status.model_dump_json().encode()

    async def _confirm(self, sub: Subscriber) -> None:
        """Tell each edge, about once a second per (device, boot) with news,
        which of its messages are durable here: only then does it forget them
        (end-to-end, so a broker that loses its store costs a re-send, not data)."""
        while True:
            await asyncio.sleep(self.confirm_every_s)
            streams, self._to_confirm = self._to_confirm, set()
            now = now_ms()
            try:
                for device, boot in streams:
                    ranges = self.dedupe.ranges(device, boot)
                    if not ranges:
                        continue
                    msg = Confirmation(device_id=device, boot_id=boot, ranges=ranges, ts=now)
                    name = topic(TopicKind.CONFIRMED, self.site_id, device_id=device)
                    await sub.publish(name, msg.model_dump_json().encode())
            except ConnectionLost:
                self._to_confirm |= streams  # again after reconnecting
                return

    async def _tick(self, writer: DurableWriter, stop: asyncio.Event) -> None:
        while not await sleep_or_stop(stop, 5.0):
            self.loop_seen = time.monotonic()  # /healthz: the loop turns
            self._alerted(self.alerts.tick())
            self._alerts_off(writer)

    def _alerts_off(self, writer: DurableWriter) -> None:
        """Alerts raised outside a batch: written, saved once written (in
        order with the batches before), published."""
        staged = self.alerts.stage()
        if self._alert_lines or staged.alerts or staged.pending is not None:
            writer.add(self._alert_lines, [], ordered=bool(self._alert_lines),
                       commit=functools.partial(self.alerts.commit, staged))  # fmt: skip
        self._alert_lines = []
        if self._alerts_out:
            self._outgoing.set()

    async def _forecasts(
        self, db: InfluxClient, writer: DurableWriter, stop: asyncio.Event
    ) -> None:
        """Each SKU's stock-out projection from its recorded picks
        (docs/replenishment.md): a `stockout_projected` alert while it would
        run out before an order placed now could arrive."""
        view = ConsumptionView(db, self.site)
        while True:
            try:
                await view.refresh()
                now, calendar = now_ms(), self.site.calendar
                for sku_id in self._owned_skus():
                    sku = self.calibration.skus[sku_id]  # with changes made at run time
                    stock, policy = self.alerts.stock_of(sku.id), self.site.policy(sku)
                    f = forecast(view.daily.get(sku.id, []), stock, now_ms=now,
                                 first_seen_ms=view.first_seen.get(sku.id), calendar=calendar,
                                 policy=policy)  # fmt: skip
                    self._alerted(self.alerts.projection(sku, f, policy.lead_time_days))
                self._alerts_off(writer)
            except StorageError as exc:
                log.warning("forecast_failed", error=str(exc))
            except Exception as exc:  # a bug: keep the collector, try again next time
                log.exception("forecast_bug", error=repr(exc))
            if await sleep_or_stop(stop, self.forecast_every_s):
                return

    @property
    def connected(self) -> bool:
        return self._sub is not None

    def release(self, acks: Acks, seen: Seen) -> None:
        """Durable: remember the messages as seen, and acknowledge what belongs
        to the current connection. Older ones are resent by the broker after a
        reconnect and handled again, which changes nothing (idempotent writes,
        dedupe)."""
        self.messages_durable += len(seen)
        for key in seen:
            self.dedupe.mark(*key)
            self._inflight.discard(key)
            self._to_confirm.add(key[:2])
        if self._sub is not None:
            self._sub.ack([pid for gen, pid in acks if gen == self.generation])

    # -- start-up -------------------------------------------------------------

    def _seed_from_spool(self) -> None:
        """Each bin's levels still in the spool (not yet in InfluxDB): the next
        reading after a restart is measured from the newest of them."""
        levels = spooled_levels(self.spool.bodies(), self.site_id)
        for bin_id, known in levels.items():
            for ts, net_kg, se_kg in known[-64:]:
                self.engine.replay_level(bin_id, ts, net_kg, se_kg)
        if levels:
            log.info("seeded_from_spool", bins=len(levels),
                     levels=sum(len(v) for v in levels.values()))  # fmt: skip
            self.alerts.resume(self.engine.newest_levels())

    async def _prepare_db(
        self, db: InfluxClient, writer: DurableWriter, stop: asyncio.Event
    ) -> None:
        """Wait for InfluxDB (ingest goes on into the spool meanwhile), make
        sure the database exists, learn each bin's last stored level, then let
        the writer write and drain."""
        backoff = 0.5
        while not stop.is_set() and not await self._db_attempt(db, writer, backoff):
            await sleep_or_stop(stop, backoff)
            backoff = min(backoff * 2, 30.0)

    async def _db_attempt(self, db: InfluxClient, writer: DurableWriter, retry_s: float) -> bool:
        try:
            version = await db.ping()
            await db.ensure_database()
            lines = await self._seed(db)
            self.alerts.resume(self.engine.newest_levels())  # SKU totals whole at once
        except StorageError as exc:
            log.warning("influx_unavailable", url=redact(self.influx.url), error=str(exc),
                        retry_in_s=retry_s)  # fmt: skip
            return False
        if lines:
            writer.add(lines, [], ordered=True)  # movements corrected
        writer.db_ready.set()
        log.info("influx_ready", url=redact(self.influx.url), version=version,
                 spooled_points=self.spool.points, corrected_movements=len(lines))  # fmt: skip
        return True

    async def _seed(self, db: InfluxClient) -> list[str]:
        """Each bin's last stable level in InfluxDB, so the first movement after
        a restart is right; the movement lines that corrects. Points further
        ahead than the intake admits (written before it refused them) are not
        a level to start from."""
        ahead_ms = self.intake.max_clock_ahead_ms
        last = (
            'SELECT last("{field}") AS "{field}" FROM ' + quote_ident(BIN_STOCK) + " "
            f'WHERE "site" = $site AND time <= now() + {ahead_ms}ms GROUP BY "bin"'
        )
        try:
            levels = await db.query(last.format(field="net_kg"), {"site": self.site_id})
            # The level's standard error, where the newest level has one.
            errors = await db.query(last.format(field="se_kg"), {"site": self.site_id})
        except DatabaseNotFound:
            return []
        se: dict[tuple[str, int], float] = {
            (s.tags.get("bin", ""), int(row["time"])): float(row["se_kg"])
            for s in errors
            for row in s.rows()
        }
        lines: list[str] = []
        for s in levels:
            for row in s.rows():
                key = (s.tags.get("bin", ""), int(row["time"]))
                lines += self.engine.seed(*key, float(row["net_kg"]), se.get(key))
        return lines

    # -- the loops --------------------------------------------------------------

    async def check_peers(self, first_s: float = 2.0, quiet_s: float = 0.3) -> None:
        """A partition member refuses to start beside online members that split
        the site another way (another N, or another revision of its groups):
        both would handle some bins, or none would. Reads the members'
        retained statuses; an unreachable broker skips the check (the MQTT
        loop waits for it anyway)."""
        me = self.partitioning
        if me is None:
            return
        # A connection of its own, that must not harm the member's session:
        # the shipped broker names every session after its user, so this one
        # is the member's session too there. Hence no clean start, a short
        # expiry (the member's own connection sets it back), and QoS 0 for the
        # statuses: retained, they come at once, ahead of any message queued
        # in the session; those (at most `receive_maximum`) are not
        # acknowledged, so the broker sends them again to the real connection.
        status = subscription(TopicKind.COLLECTOR_STATUS, self.site_id)
        members_prefix = status.split("+", 1)[0]
        others: list[DeviceStatus] = []
        try:
            async with Subscriber(self.mqtt, f"{self._client_id()}-check", [(status, 0)],
                                  receive_maximum=16, session_expiry_s=60) as sub:  # fmt: skip
                wait = first_s
                while True:
                    try:
                        batch = await asyncio.wait_for(sub.batch(), wait)
                    except TimeoutError:
                        break  # retained statuses come at once: quiet means all seen
                    wait = quiet_s
                    for msg in batch:
                        if msg.qos == 0 and msg.topic.startswith(members_prefix):
                            with contextlib.suppress(ValueError):  # not a status: not a member's
                                others.append(DeviceStatus.model_validate_json(msg.payload))
                await sub.unsubscribe([status])
        except ConnectionLost as exc:
            log.warning("partition_check_skipped", error=str(exc))
            return
        for o in others:
            p = o.partition
            if o.state != "online" or o.id == self.member or p is None:
                continue
            if (p.members, p.revision) != (me.members, me.revision):
                raise ConfigError("collector", [ConfigProblem("partition", (
                    f"member {o.id} is online with {p.members} members, site revision "
                    f"{p.revision}; this one has {me.members} members, revision {me.revision}: "
                    "stop every member, then start them all with the same --members and site "
                    "file (docs/operations.md)"))])  # fmt: skip

    async def run(self, stop: asyncio.Event) -> None:
        await self.check_peers()
        async with InfluxClient(self.influx) as db:
            self._seed_from_spool()
            writer = DurableWriter(db, self.spool, self.release)
            self.metrics.writer = writer
            writer_stop = asyncio.Event()
            writer_task = asyncio.create_task(writer.run(writer_stop))
            # Usually InfluxDB answers: learn every bin's last level before the
            # first message (a large backlog would otherwise come first). If
            # not, ingest into the spool and keep trying.
            flushed = asyncio.Event()  # the writer's last acknowledgements are out
            loops = [self._mqtt_loop(writer, stop, flushed), self._tick(writer, stop),
                     self._forecasts(db, writer, stop)]  # fmt: skip
            if not await self._db_attempt(db, writer, 0.5):
                loops.append(self._prepare_db(db, writer, stop))
            tasks = [asyncio.create_task(loop) for loop in loops]
            notify_task = asyncio.create_task(self.notifier.run())
            await stop.wait()
            notify_task.cancel()
            writer_stop.set()
            await writer_task  # flushes the last batch, then releases its acks
            flushed.set()  # now the MQTT loop may say goodbye and disconnect
            await asyncio.gather(*tasks, return_exceptions=True)
            self.close()
            log.info("collector_stop", received=self.received, written=writer.points_written,
                     spooled=self.spool.points)  # fmt: skip

    def close(self) -> None:
        """Files closed, locks released (run() does it when it ends)."""
        self.spool.close()
        self.alerts.close()
        self.calibration.close()
        self.subscribed.close()
        for handle in self._locks:
            handle.close()
        self._locks = []

    def _owned_skus(self) -> list[str]:
        """The SKUs this collector keeps (all, unless it has a partition)."""
        if self.partition is None:
            return [k.id for k in self.site.skus]
        return sorted(self.partition.skus)

    def _partition_filters(self, p: Partition) -> list[tuple[str, int]]:
        """Only this member's devices, bins and SKUs: its readings, their
        statuses and edges, and the requests about them."""
        s = self.site_id
        names = []
        for d in sorted(p.devices):
            names += [topic(k, s, device_id=d) for k in
                      (TopicKind.READING, TopicKind.TAG, TopicKind.DEVICE_STATUS)]  # fmt: skip
        edges = {dev.edge for dev in self.site.devices if dev.id in p.devices}
        names += [topic(TopicKind.EDGE_STATUS, s, edge_id=e) for e in sorted(edges)]
        for subject in sorted(p.devices | p.bins | p.skus):
            names.append(f"{ROOT}/{s}/alert/+/{subject}/ack")
        names += [topic(TopicKind.CALIBRATE, s, bin_id=b) for b in sorted(p.bins)]
        names += [topic(TopicKind.SKU_UPDATE, s, sku_id=k) for k in sorted(p.skus)]
        return [(n, 1) for n in names]

    def _filters(self) -> list[tuple[str, int]]:
        if self.partition is not None:
            return self._partition_filters(self.partition)
        names = [
            subscription(TopicKind.READING, self.site_id),
            subscription(TopicKind.TAG, self.site_id),
        ]
        names += [
            subscription(TopicKind.DEVICE_STATUS, self.site_id),
            subscription(TopicKind.EDGE_STATUS, self.site_id),
            subscription(TopicKind.ALERT_ACK, self.site_id),
            subscription(TopicKind.CALIBRATE, self.site_id),
            subscription(TopicKind.SKU_UPDATE, self.site_id),
        ]
        return [(n, 1) for n in names]

    def _client_id(self) -> str:
        if self.partitioning is None:
            return f"gudang-collector-{self.site_id}"
        return f"gudang-collector-{self.site_id}-{self.partitioning.member}"

    def _subscriber(self) -> Subscriber:
        # Fixed id + persistent session: the broker keeps our messages while we
        # are away (up to its max_queued_messages). A partition member's id is
        # its index alone, as the shipped broker's (its MQTT user,
        # collector-<I>): it keeps its session when N changes, and sheds the
        # filters it no longer needs (`stale`). A member that has no record of
        # its filters (a new state file) starts its session afresh: whatever
        # an old one holds is unknown; edges send again what is unconfirmed.
        filters = self._filters()
        stale = self.subscribed.stale([n for n, _ in filters])
        if stale:
            log.info("mqtt_stale_filters", filters=len(stale))
        return Subscriber(
            self.mqtt, self._client_id(), filters, receive_maximum=self.receive_maximum,
            will=(self._status_topic, self._status("offline", "connection_lost")),
            stale=stale, clean_start=self.partition is not None and not self.subscribed.known,
        )  # fmt: skip

    async def _mqtt_loop(
        self, writer: DurableWriter, stop: asyncio.Event, flushed: asyncio.Event
    ) -> None:
        """Connect, ingest until the connection ends, reconnect; on a stop,
        stay connected until the writer's last acknowledgements are out."""
        backoff = 0.5
        while not stop.is_set():
            connected = False
            try:
                async with self._subscriber() as sub:
                    connected = True
                    backoff = 0.5
                    await self._session(sub, writer, stop)
                    await flushed.wait()  # (only reached on a stop)
                    with contextlib.suppress(ConnectionLost):
                        await sub.publish(self._status_topic, self._status("offline", "stopped"),
                                          retain=True)  # fmt: skip
                    return
            except ConnectionLost as exc:
                if connected:
                    log.warning("mqtt_disconnected", error=str(exc))
                    continue
                log.warning("mqtt_unavailable", host=self.mqtt.host, port=self.mqtt.port,
                            error=str(exc), retry_in_s=backoff)  # fmt: skip
                await sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 10.0)
            except Exception as exc:
                # A bug, not the broker: say so loudly and reconnect; whatever
                # was not acknowledged comes back and is handled again.
                log.exception("collector_loop_failed", error=repr(exc))
                await sleep_or_stop(stop, 1.0)
            finally:
                self._sub = None

    async def _session(self, sub: Subscriber, writer: DurableWriter, stop: asyncio.Event) -> None:
        """One connection: announce ourselves, then ingest until it ends
        (ConnectionLost) or a stop comes (returns)."""
        self.generation += 1
        self._dead_out = []  # unacknowledged: the broker sends their messages again
        self._sub = sub
        self.subscribed.save([n for n, _ in sub.filters])
        log.info("mqtt_subscribed", host=self.mqtt.host, port=self.mqtt.port,
                 session_present=sub.session_present, connection=self.generation)  # fmt: skip
        # The broker may have lost or rolled back its retained copy of our
        # state (a crash restores its last autosave): say it all again.
        for sku_id in self._owned_skus():  # a partition member: only its own
            self._results_out.append(self.requests.announce(sku_id))
        self._alerts_out = self.alerts.current()  # newest per alert: supersedes pending
        # Our birth: edges send again whatever we have not confirmed (this
        # session may be new, its queue lost with a crashed broker).
        self._results_out.append((self._status_topic, self._status("online"), True))
        log.info("alerts_republished", alerts=len(self._alerts_out),
                 skus=len(self._owned_skus()))  # fmt: skip
        self._outgoing.set()
        helpers = [asyncio.create_task(self._publish_outgoing(sub))]
        if self.confirm_every_s > 0:
            helpers.append(asyncio.create_task(self._confirm(sub)))
        ingest = asyncio.create_task(self._ingest(sub, writer))
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({ingest, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # handle() never awaits: a cancelled ingest stops between batches.
            for task in (ingest, stopping, *helpers):
                task.cancel()
        if ingest.done() and not ingest.cancelled():
            ingest.result()  # raises ConnectionLost (or a bug) for the loop to handle

    async def _ingest(self, sub: Subscriber, writer: DurableWriter) -> None:
        async for batch in sub.batches(self.batch_messages):
            dead = self.handle(batch, writer)
            if dead:
                self._queue_dead(dead)
            # batches() returns at once while a backlog is queued: let the
            # writer, the socket and the other tasks run between rounds.
            await asyncio.sleep(0)

    def _queue_dead(self, dead: list[tuple[int, DeadLetter]]) -> None:
        """Log (the first 20 of a batch) and hand to the publishing task."""
        for _, letter in dead[:20]:
            log.warning("dead_letter", code=letter.code, topic=letter.topic, reason=letter.reason)
        if len(dead) > 20:
            log.warning("dead_letters_more", count=len(dead) - 20)
        self._dead_out += [(self.generation, pid, letter) for pid, letter in dead]
        self._outgoing.set()

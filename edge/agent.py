"""The edge process: every device assigned to this edge, one outbox, one MQTT connection."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from pydantic import ValidationError

from gudang import __version__, logs
from gudang.contract import Command, DeadLetter, TopicKind, now_ms, parse, topic
from gudang.edge.devices import DeviceSession, EdgeContext
from gudang.edge.outbox import Outbox
from gudang.edge.outgoing import Outgoing
from gudang.edge.publisher import Publisher
from gudang.edge.registry import session_for
from gudang.errors import ConfigError, ConfigProblem
from gudang.runtime import sleep_or_stop
from gudang.settings import MqttSettings
from gudang.site import Site

__all__ = ["EdgeAgent"]

log = logs.get("edge")


class EdgeAgent:
    def __init__(
        self,
        site: Site,
        edge_id: str,
        mqtt: MqttSettings,
        *,
        outbox_path: Path,
        outbox_max: int = 100_000,
        heartbeat_s: float = 30.0,
        deadband_divisions: float = 1.0,
        status_interval_s: float = 30.0,
        replay_rate: float = 200.0,
        confirm: bool = True,
        resend_after_s: float = 300.0,
    ) -> None:
        devices = [d for d in site.devices if d.edge == edge_id]
        if not devices:
            raise ConfigError("site", [ConfigProblem("devices", f"no device has edge {edge_id!r}")])
        self.site_id = site.site.id
        self.edge_id = edge_id
        self.boot_id = uuid.uuid4().hex
        self.status_interval_s = status_interval_s
        firmware = f"gudang {__version__}"
        self.outbox = Outbox(
            outbox_path, outbox_max, confirm=confirm, resend_after_s=resend_after_s
        )
        self.publisher = Publisher(
            mqtt, self.site_id, edge_id, self.boot_id, firmware, self.outbox,
            replay_rate=replay_rate, status_interval_s=status_interval_s,
            on_command=self.on_command,
        )  # fmt: skip
        ctx = EdgeContext(
            self.site_id,
            self.boot_id,
            firmware,
            self.publisher.put,
            heartbeat_s,
            deadband_divisions,
            site.count_resolution_kg(),
        )
        self.sessions: dict[str, DeviceSession] = {d.id: session_for(d, ctx) for d in devices}

    async def on_command(self, topic_name: str, payload: bytes) -> None:
        parsed = parse(topic_name)
        device_id = parsed.levels.get("device_id", "") if parsed else ""
        session = self.sessions.get(device_id)
        if session is None:
            return  # another edge's device
        try:
            cmd = Command.model_validate_json(payload)
        except ValidationError as exc:
            reason = "invalid command: " + "; ".join(e["msg"] for e in exc.errors()[:3])
            log.warning("command_refused", device=device_id, reason=reason)
            dead = DeadLetter(
                component="edge", code="invalid", topic=topic_name[:512], reason=reason[:2048],
                payload=payload[:2048].decode("utf-8", "replace"), payload_size=len(payload),
                received_at=now_ms(),
            )  # fmt: skip
            self.publisher.put(
                Outgoing(
                    topic(TopicKind.DEAD_LETTER, self.site_id, component="edge"),
                    dead.model_dump_json().encode(), False, "reply", device_id,
                )
            )  # fmt: skip
            return
        reply = await session.command(cmd)
        log.info("command", device=device_id, op=cmd.op, id=cmd.id, ok=reply.ok,
                 error=reply.error)  # fmt: skip
        self.publisher.put(
            Outgoing(session.topic(TopicKind.COMMAND_REPLY), reply.model_dump_json().encode(),
                     False, "reply", device_id)
        )  # fmt: skip

    async def _refresh_statuses(self, stop: asyncio.Event) -> None:
        while not await sleep_or_stop(stop, self.status_interval_s):
            for session in self.sessions.values():
                session.publish_status()

    async def run(self, stop: asyncio.Event) -> None:
        log.info("edge_start", edge=self.edge_id, devices=len(self.sessions),
                 boot_id=self.boot_id, backlog=self.outbox.depth)  # fmt: skip
        device_stop = asyncio.Event()
        tasks = [asyncio.create_task(s.run(device_stop)) for s in self.sessions.values()]
        tasks.append(asyncio.create_task(self._refresh_statuses(device_stop)))
        publisher = asyncio.create_task(self.publisher.run(stop))
        await stop.wait()
        device_stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await publisher
        self.outbox.close()
        log.info("edge_stop", edge=self.edge_id, published=self.publisher.published,
                 left_in_outbox=self.outbox.depth)  # fmt: skip

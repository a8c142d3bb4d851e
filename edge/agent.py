"""The edge process: every device assigned to this edge, one MQTT connection."""

from __future__ import annotations

import asyncio
import uuid

from gudang.edge.protocols import REGISTRY
from gudang.edge.publisher import Publisher
from gudang.edge.scale_session import ScaleSession

from gudang import __version__, logs
from gudang.errors import ConfigError, ConfigProblem
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
        heartbeat_s: float = 30.0,
        deadband_divisions: float = 1.0,
    ) -> None:
        devices = [d for d in site.devices if d.edge == edge_id]
        if not devices:
            raise ConfigError("site", [ConfigProblem("devices", f"no device has edge {edge_id!r}")])
        missing = [
            ConfigProblem(
                f"devices[{site.devices.index(d)}].protocol",
                f"no edge driver for {d.protocol!r} yet",
            )
            for d in devices
            if d.protocol not in REGISTRY
        ]
        if missing:
            raise ConfigError("site", missing)
        self.site = site
        self.edge_id = edge_id
        self.boot_id = uuid.uuid4().hex
        self.publisher = Publisher(
            mqtt, site.site.id, edge_id, self.boot_id, f"gudang {__version__}"
        )
        self.sessions = [
            ScaleSession(
                d,
                site.site.id,
                self.boot_id,
                self.publisher.put,
                heartbeat_s=heartbeat_s,
                deadband_divisions=deadband_divisions,
                firmware=f"gudang {__version__}",
            )
            for d in devices
        ]

    async def run(self, stop: asyncio.Event) -> None:
        log.info("edge_start", edge=self.edge_id, devices=len(self.sessions), boot_id=self.boot_id)
        device_stop = asyncio.Event()
        sessions = [asyncio.create_task(s.run(device_stop)) for s in self.sessions]
        publisher = asyncio.create_task(self.publisher.run(stop))
        await stop.wait()
        device_stop.set()
        await asyncio.gather(*sessions, return_exceptions=True)
        try:
            # Give the publisher a moment to flush what the devices last said.
            await asyncio.wait_for(publisher, 5.0)
        except TimeoutError:
            log.warning("edge_stop_unflushed", queued=self.publisher.depth)
        log.info("edge_stop", edge=self.edge_id, published=self.publisher.published)

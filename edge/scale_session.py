"""One scale: open its port, decode samples, publish what matters, survive unplugging."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from gudang.edge.protocols import ScaleDecoder, ScaleFrame, decoder_for
from gudang.edge.publisher import Outgoing
from gudang.edge.readings import ReadingFilter
from gudang.edge.transport import open_device

from gudang import logs
from gudang.contract import DeviceStatus, TopicKind, WeightReading, now_ms, topic
from gudang.errors import TransportError
from gudang.runtime import sleep_or_stop
from gudang.site import Device

__all__ = ["MASS_UNITS", "ScaleSession"]

log = logs.get("edge.scale")

MASS_UNITS = {"kg", "g", "t", "lb"}


class ScaleSession:
    def __init__(
        self,
        device: Device,
        site_id: str,
        boot_id: str,
        emit: Callable[[Outgoing], None],
        *,
        heartbeat_s: float = 30.0,
        deadband_divisions: float = 1.0,
        silence_s: float = 5.0,
        firmware: str = "",
    ) -> None:
        self.device = device
        self.site_id = site_id
        self.boot_id = boot_id
        self.emit = emit
        self.silence_s = silence_s
        self.firmware = firmware
        self.decoder: ScaleDecoder = decoder_for(device.protocol)
        self.filter = ReadingFilter(device.division_kg, deadband_divisions, heartbeat_s)
        self.seq = 0
        self.reconnects = 0
        self.unusable = 0  # well-formed samples that are not a mass (e.g. counting mode)
        self.state: str | None = None

    def _topic(self, kind: TopicKind) -> str:
        return topic(kind, self.site_id, device_id=self.device.id)

    def _set_state(self, state: str, reason: str = "") -> None:
        if state == self.state:
            return
        self.state = state
        stats = self.decoder.stats
        status = DeviceStatus(
            subject="device",
            id=self.device.id,
            state=state,  # type: ignore[arg-type]
            boot_id=self.boot_id,
            ts=now_ms(),
            protocol=self.device.protocol,
            firmware=self.firmware,
            counters={
                "frames_ok": stats.frames_ok,
                "frames_bad": stats.frames_bad,
                "resyncs": stats.resyncs,
                "reconnects": self.reconnects,
                "unusable": self.unusable,
                "published": self.seq,
            },
        )
        self.emit(
            Outgoing(
                self._topic(TopicKind.DEVICE_STATUS), status.model_dump_json().encode(), retain=True
            )
        )
        log.info("device_state", device=self.device.id, state=state, reason=reason or None)

    def _reading(self, frame: ScaleFrame, reason: str) -> None:
        msg = WeightReading(
            device_id=self.device.id,
            boot_id=self.boot_id,
            seq=self.seq,
            ts=now_ms(),
            weight=frame.weight if frame.state == "ok" else None,
            unit=frame.unit,  # type: ignore[arg-type]
            mode="net" if frame.mode == "net" else "gross",
            stable=bool(frame.stable),
            state=frame.state,
            reason=reason,  # type: ignore[arg-type]
        )
        self.seq += 1
        self.emit(Outgoing(self._topic(TopicKind.READING), msg.model_dump_json().encode()))

    def handle(self, frame: ScaleFrame, now: float) -> None:
        if frame.unit not in MASS_UNITS and frame.state == "ok":
            self.unusable += 1
            return
        decision = self.filter.offer(frame, now)
        if decision is not None:
            self._reading(decision.frame, decision.reason)

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.5
        while not stop.is_set():
            try:
                reader, writer = await open_device(self.device)
            except TransportError as exc:
                self._set_state("disconnected", str(exc))
                await sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            backoff = 0.5
            try:
                await self._read(reader, stop)
            finally:
                writer.close()
            if not stop.is_set():
                self.reconnects += 1
                await sleep_or_stop(stop, backoff)

    async def _read(self, reader: asyncio.StreamReader, stop: asyncio.Event) -> None:
        online = False
        while not stop.is_set():
            try:
                data = await asyncio.wait_for(reader.read(4096), self.silence_s)
            except TimeoutError:
                self._set_state("disconnected", f"silent for {self.silence_s:.0f} s")
                return
            except OSError as exc:  # serial.SerialException is an OSError
                self._set_state("disconnected", str(exc))
                return
            if not data:
                self._set_state("disconnected", "end of stream")
                return
            self.decoder.feed(data)
            now = time.monotonic()
            while (frame := self.decoder.next_frame()) is not None:
                if not online:
                    self._set_state("online")
                    online = True
                self.handle(frame, now)

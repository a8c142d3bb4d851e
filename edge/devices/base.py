"""What every device session shares: the connection loop, status, counters, commands.

A session owns one device: it opens the port (with backoff while it cannot),
lets its protocol talk, publishes the device status when it changes (and
periodically, with fresh counters), and answers commands.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from gudang.edge.outgoing import Outgoing, RowKind
from gudang.edge.protocols import Decoder
from gudang.edge.transport import open_device

from gudang import logs
from gudang.contract import Command, CommandReply, DeviceStatus, TopicKind, now_ms, topic
from gudang.errors import TransportError
from gudang.runtime import sleep_or_stop
from gudang.site import Device

__all__ = ["DeviceSession", "EdgeContext"]

log = logs.get("edge.device")


@dataclass(frozen=True)
class EdgeContext:
    site_id: str
    boot_id: str
    firmware: str
    emit: Callable[[Outgoing], None]
    heartbeat_s: float = 30.0
    deadband_divisions: float = 1.0


class DeviceSession(ABC):
    #: silence that means the device is gone; None where silence is normal
    silence_s: float | None = 5.0

    def __init__(self, device: Device, ctx: EdgeContext, decoder: Decoder) -> None:
        self.device = device
        self.ctx = ctx
        self.decoder = decoder
        self.seq = 0
        self.reconnects = 0
        self.state: str | None = None
        self._connected = asyncio.Event()

    # -- what a protocol provides ---------------------------------------------

    @abstractmethod
    async def talk(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stop: asyncio.Event
    ) -> None:
        """Exchange bytes until the link fails (return) or `stop` is set."""

    async def command(self, cmd: Command) -> CommandReply:
        return self.reply(
            cmd, ok=False, error=f"{cmd.op} is not supported by {self.device.protocol}"
        )

    def counters(self) -> dict[str, int]:
        s = self.decoder.stats
        return {
            "frames_ok": s.frames_ok,
            "frames_bad": s.frames_bad,
            "resyncs": s.resyncs,
            "reconnects": self.reconnects,
            "published": self.seq,
        }

    # -- shared machinery -----------------------------------------------------

    def reply(
        self, cmd: Command, *, ok: bool, result: str | None = None, error: str | None = None
    ) -> CommandReply:
        return CommandReply(
            id=cmd.id, device_id=self.device.id, ok=ok, result=result, error=error, ts=now_ms()
        )

    def topic(self, kind: TopicKind) -> str:
        return topic(kind, self.ctx.site_id, device_id=self.device.id)

    def emit(
        self,
        kind: TopicKind,
        row: RowKind,
        payload: bytes,
        retain: bool = False,
        seq: int | None = None,
    ) -> None:
        """Queue a message; `seq` for readings and tag events (confirmed end to end)."""
        self.ctx.emit(Outgoing(self.topic(kind), payload, retain, row, self.device.id, seq))

    def next_seq(self) -> int:
        seq = self.seq
        self.seq += 1
        return seq

    def publish_status(self, state: str | None = None, reason: str = "") -> None:
        """Publish the status: on a change of state, or (state=None) to refresh counters."""
        if state is not None:
            if state == self.state:
                return
            self.state = state
            log.info("device_state", device=self.device.id, state=state, reason=reason or None)
        if self.state is None:
            return
        status = DeviceStatus(
            subject="device",
            id=self.device.id,
            edge=self.device.edge,
            state=self.state,  # type: ignore[arg-type]
            boot_id=self.ctx.boot_id,
            ts=now_ms(),
            protocol=self.device.protocol,
            firmware=self.ctx.firmware,
            counters=self.counters(),
        )
        self.emit(TopicKind.DEVICE_STATUS, "status", status.model_dump_json().encode(), retain=True)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.5
        while not stop.is_set():
            try:
                reader, writer = await open_device(self.device)
            except Exception as exc:  # TransportError, or a bug: never end the task silently
                if not isinstance(exc, TransportError):
                    log.exception("device_open_failed", device=self.device.id, error=repr(exc))
                self.publish_status("disconnected", str(exc))
                await sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            backoff = 0.5
            self._connected.set()
            try:
                await self.talk(reader, writer, stop)
            except (OSError, ConnectionError) as exc:  # serial.SerialException is an OSError
                self.publish_status("disconnected", str(exc))
            except Exception as exc:
                # A bug, not the device: say so loudly, then start the link afresh
                # rather than leave the device silently unread.
                log.exception("device_session_failed", device=self.device.id, error=repr(exc))
                self.publish_status("disconnected", f"internal error: {exc!r}")
            finally:
                self._connected.clear()
                writer.close()
            if not stop.is_set():
                self.reconnects += 1
                await sleep_or_stop(stop, backoff)

    async def read_some(self, reader: asyncio.StreamReader) -> bytes | None:
        """Next bytes from the device; None (status set) when the link is gone."""
        try:
            data = await asyncio.wait_for(reader.read(4096), self.silence_s)
        except TimeoutError:
            self.publish_status("disconnected", f"silent for {self.silence_s:.0f} s")
            return None
        except OSError as exc:
            self.publish_status("disconnected", str(exc))
            return None
        if not data:
            self.publish_status("disconnected", "end of stream")
            return None
        return data

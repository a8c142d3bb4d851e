"""What every device session shares: the connection loop, status, counters, commands.

A session owns one device: it opens the port (with backoff while it cannot),
lets its protocol talk, publishes the device status when it changes (and
periodically, with fresh counters), and answers commands.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from gudang import logs
from gudang.contract import Command, CommandReply, DeviceStatus, TopicKind, now_ms, topic
from gudang.contract.messages import DeviceReason
from gudang.edge.outgoing import Outgoing, RowKind
from gudang.edge.protocols import Decoder
from gudang.edge.transport import open_device
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
    # device -> the change (kg) its finest SKU needs told apart: a piece x count tolerance
    resolution_kg: Mapping[str, float] = field(default_factory=dict)
    clock: Callable[[], int] = now_ms  # epoch ms for message times (a replay can set its own)


_CHECKSUM_REASONS = frozenset({"checksum", "tag crc"})


class DeviceSession(ABC):
    #: silence that means the device is gone; None where silence is normal
    silence_s: float | None = 5.0
    #: bytes arriving this long without one valid frame: the line settings are wrong
    unreadable_after_s: float = 3.0
    #: a reader that sends only when a tag is near is online once its port opens
    online_on_open: bool = False

    def __init__(self, device: Device, ctx: EdgeContext, decoder: Decoder) -> None:
        self.device = device
        self.ctx = ctx
        self.decoder = decoder
        self.seq = 0
        self.reconnects = 0
        self.state: str | None = None
        self.reason: DeviceReason | None = None
        self.detail: str | None = None
        self.bytes_in = 0
        self._valid_at = 0.0  # monotonic: the last valid frame, or the port opening
        self._garbled = 0  # bytes since then
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
        checksum = sum(n for why, n in s.bad_reasons.items() if why in _CHECKSUM_REASONS)
        return {
            "frames_ok": s.frames_ok,
            "frames_bad": s.frames_bad,
            "frames_checksum": checksum,
            "frames_malformed": s.frames_bad - checksum,
            "resyncs": s.resyncs,
            "bytes_in": self.bytes_in,
            "reconnects": self.reconnects,
            "published": self.seq,
        }

    def status_extra(self) -> dict[str, float | int | None]:
        """More status fields a kind of device adds (a scale: its noise)."""
        return {}

    # -- shared machinery -----------------------------------------------------

    def reply(
        self, cmd: Command, *, ok: bool, result: str | None = None, error: str | None = None
    ) -> CommandReply:
        return CommandReply(id=cmd.id, device_id=self.device.id, ok=ok, result=result,
                            error=error, ts=self.ctx.clock())  # fmt: skip

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

    def publish_status(
        self, state: str | None = None, reason: DeviceReason | None = None, detail: str = ""
    ) -> None:
        """Publish the status: on a change of state, or (state=None) to refresh
        counters. Every state but `online` says why (`reason`, `detail`)."""
        if state is not None:
            if state == self.state:
                return
            self.state = state
            self.reason = None if state == "online" else reason or "internal_error"
            self.detail = detail[:512] or None
            # `reconnects` makes each line its own: a flapping device is not
            # mistaken for one repeated line by the log's rate limit.
            log.info("device_state", device=self.device.id, state=state, reason=self.reason,
                     detail=self.detail, reconnects=self.reconnects)  # fmt: skip
        if self.state is None:
            return
        status = DeviceStatus(
            subject="device",
            id=self.device.id,
            edge=self.device.edge,
            state=self.state,
            reason=self.reason,
            detail=self.detail,
            boot_id=self.ctx.boot_id,
            ts=self.ctx.clock(),
            protocol=self.device.protocol,
            firmware=self.ctx.firmware,
            counters=self.counters(),
            **self.status_extra(),
        )
        self.emit(TopicKind.DEVICE_STATUS, "status", status.model_dump_json().encode(), retain=True)

    def decoded(self, nbytes: int, valid: int, now: float) -> None:
        """`nbytes` arrived and made `valid` frames: online, or, after a few
        seconds of bytes without a valid frame, unreadable (say why)."""
        self.bytes_in += nbytes
        if valid:
            self._valid_at, self._garbled = now, 0
            self.publish_status("online")
            return
        self._garbled += nbytes
        if now - self._valid_at >= self.unreadable_after_s and self.state != "unreadable":
            c = self.counters()
            line = self.device.line
            self.publish_status(
                "unreadable", "no_valid_frames",
                f"{self._garbled} bytes in {now - self._valid_at:.0f} s without a valid "
                f"{self.device.protocol} frame ({c['frames_checksum']} checksum errors, "
                f"{c['frames_malformed']} malformed, {c['resyncs']} resyncs): check the baud "
                f"rate, parity and protocol (configured {line.baudrate} {line.bytesize}"
                f"{line.parity}{line.stopbits}, {self.device.protocol})",
            )  # fmt: skip

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
                self.publish_status("disconnected", "port_unavailable", str(exc))
                await sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            backoff = 0.5
            self._connected.set()
            self._valid_at, self._garbled = time.monotonic(), 0
            # Seen from the moment the port opens, counters and all: a device
            # whose bytes never decode is not invisible.
            if self.online_on_open:
                self.publish_status("online")
            else:
                self.publish_status("connecting", "waiting_for_frames",
                                    "port open, no valid frame yet")  # fmt: skip
            try:
                await self.talk(reader, writer, stop)
            except (OSError, ConnectionError) as exc:  # serial.SerialException is an OSError
                self.publish_status("disconnected", "link_lost", str(exc))
            except Exception as exc:
                # A bug, not the device: say so loudly, then start the link afresh
                # rather than leave the device silently unread.
                log.exception("device_session_failed", device=self.device.id, error=repr(exc))
                self.publish_status("disconnected", "internal_error", repr(exc))
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
            self.publish_status("disconnected", "silent", f"no byte for {self.silence_s:.0f} s")
            return None
        except OSError as exc:
            self.publish_status("disconnected", "link_lost", str(exc))
            return None
        if not data:
            self.publish_status("disconnected", "link_lost", "end of stream")
            return None
        return data

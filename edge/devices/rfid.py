"""RFID readers: raw reads -> presence events (arrived / departed) per tag and antenna."""

from __future__ import annotations

import asyncio
import time

from gudang.contract import TagEvent, TopicKind
from gudang.edge.devices.base import DeviceSession, EdgeContext
from gudang.edge.presence import Presence, PresenceEvent
from gudang.edge.protocols import Decoder, TagRead
from gudang.edge.protocols.uhf_m100 import single_poll
from gudang.runtime import sleep_or_stop
from gudang.site import Device

__all__ = ["Rdm6300Session", "RfidSession", "UhfM100Session"]

_DEPART_DEFAULT = {"rdm6300": 0.3, "uhf-m100": 3.0}


class RfidSession(DeviceSession):
    def __init__(self, device: Device, ctx: EdgeContext, decoder: Decoder) -> None:
        super().__init__(device, ctx, decoder)
        depart = device.depart_after_s or _DEPART_DEFAULT[device.protocol]
        self.presence = Presence(device.arrive_reads, depart)

    def counters(self) -> dict[str, int]:
        return {
            **super().counters(),
            "duplicates": self.presence.duplicates,
            "present": len(self.presence.present),
        }

    def publish_tag(self, ev: PresenceEvent) -> None:
        msg = TagEvent(
            device_id=self.device.id,
            boot_id=self.ctx.boot_id,
            seq=self.next_seq(),
            ts=self.ctx.clock(),
            antenna=ev.antenna,
            tag=ev.tag,
            event=ev.event,
            rssi=ev.rssi,
        )
        self.emit(TopicKind.TAG, "tag", msg.model_dump_json().encode(), seq=msg.seq)

    def absorb(self, data: bytes, now: float) -> None:
        self.decoder.feed(data)
        valid = 0
        while (event := self.decoder.next_frame()) is not None:
            valid += 1
            if isinstance(event, TagRead):
                arrived = self.presence.read(event.tag, event.antenna, event.rssi, now)
                if arrived is not None:
                    self.publish_tag(arrived)
        self.decoded(len(data), valid, now)
        self.expire(now)

    def expire(self, now: float) -> None:
        for departed in self.presence.expire(now):
            self.publish_tag(departed)

    def depart_all(self) -> None:
        """The link is gone: tags can no longer be seen, so they have left."""
        self.expire(time.monotonic() + 3600)


class Rdm6300Session(RfidSession):
    """Transmit-only 125 kHz reader: silence only means no tag is near."""

    silence_s = None
    online_on_open = True  # a transmit-only reader proves nothing until a tag comes

    async def talk(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stop: asyncio.Event
    ) -> None:
        try:
            while not stop.is_set():
                try:
                    data = await asyncio.wait_for(reader.read(4096), 0.1)
                except TimeoutError:
                    self.expire(time.monotonic())
                    continue
                if not data:
                    self.publish_status("disconnected", "link_lost", "end of stream")
                    return
                self.absorb(data, time.monotonic())
        finally:
            self.depart_all()


class UhfM100Session(RfidSession):
    """UHF module: a single-poll inventory every poll interval; every poll is answered
    (tags, or "no tag"), so an unanswered poll means the reader is gone."""

    async def talk(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stop: asyncio.Event
    ) -> None:
        missed = 0
        try:
            while not stop.is_set():
                writer.write(single_poll())
                await writer.drain()
                heard = self.bytes_in
                answered = await self._collect(reader, max(0.5, self.device.poll_interval_s * 2))
                # Garbled answers are not silence: the status says unreadable.
                missed = 0 if answered or self.bytes_in > heard else missed + 1
                if missed >= 3:
                    self.publish_status(
                        "disconnected", "unanswered", f"{missed} inventories unanswered"
                    )
                    return
                self.expire(time.monotonic())
                await sleep_or_stop(stop, self.device.poll_interval_s)
        finally:
            self.depart_all()

    async def _collect(self, reader: asyncio.StreamReader, wait_s: float) -> bool:
        """Read the answers to one poll; True once the reader answered at all."""
        deadline = time.monotonic() + wait_s
        answered = False
        while (left := deadline - time.monotonic()) > 0:
            try:
                data = await asyncio.wait_for(
                    reader.read(4096), min(left, 0.05 if answered else left)
                )
            except TimeoutError:
                if answered:
                    return True  # a quiet moment after answers: this round is done
                break
            if not data:
                raise ConnectionError("end of stream")
            before = self.decoder.stats.frames_ok
            self.absorb(data, time.monotonic())
            answered = answered or self.decoder.stats.frames_ok > before
        return answered

"""Scales: samples -> stability -> what to publish; streaming and polled indicators."""

from __future__ import annotations

import asyncio
import time
from collections import deque

from gudang import logs
from gudang.contract import Command, CommandReply, TopicKind, WeightReading
from gudang.contract.units import KG_PER, MASS_UNITS, to_kg
from gudang.edge.devices.base import DeviceSession, EdgeContext
from gudang.edge.outgoing import RowKind
from gudang.edge.protocols import Decoder, Event, Reply, ScaleFrame
from gudang.edge.protocols.mt_sics import encode_command
from gudang.edge.readings import Decision, ReadingFilter
from gudang.edge.stabilizer import Stabilizer
from gudang.runtime import sleep_or_stop
from gudang.site import Device

__all__ = ["MASS_UNITS", "MtSicsSession", "ScaleSession", "StreamScaleSession"]

log = logs.get("edge.scale")


class ScaleSession(DeviceSession):
    """Turns samples into readings; subclasses decide how samples are obtained."""

    def __init__(self, device: Device, ctx: EdgeContext, decoder: Decoder) -> None:
        super().__init__(device, ctx, decoder)
        self.filter = ReadingFilter(
            device.division_kg, ctx.deadband_divisions, ctx.heartbeat_s,
            settle_s=device.settle_s, settle_max_s=device.settle_max_s,
            resolution_kg=ctx.resolution_kg.get(device.id),
        )  # fmt: skip
        self._plateaus: deque[int] = deque(maxlen=16)  # samples behind the latest changes
        self.stabilizer = Stabilizer(
            device.stable_window_s, device.motion_band_divisions * device.division_kg
        )
        self.unusable = 0  # well-formed samples that are not a mass (counting mode)
        self.last: ScaleFrame | None = None

    def counters(self) -> dict[str, int]:
        return {**super().counters(), "unusable": self.unusable, "spikes": self.filter.spikes}

    def noise_kg(self) -> float | None:
        unit = self.last.unit if self.last is not None else "kg"
        if self.filter.noise.samples < 2 or unit not in KG_PER:
            return None
        return float(f"{to_kg(self.filter.sigma, unit):.4g}")

    def stable(self, frame: ScaleFrame, now: float) -> ScaleFrame:
        """Apply the stabilizer where the indicator's flag is absent or not trusted."""
        if frame.state != "ok" or frame.weight is None:
            self.stabilizer.reset()
            return frame
        detected = self.stabilizer.offer(frame.weight, now)
        if frame.stable is None or self.device.stability == "detect":
            # An indicator that says "in motion" is believed even in detect mode.
            stable = detected and frame.stable is not False
            return ScaleFrame(frame.weight, frame.unit, frame.mode, stable, frame.state, frame.tare)
        return frame

    def handle(self, frame: ScaleFrame, now: float, *, force: bool = False) -> None:
        if frame.state == "ok" and frame.unit not in MASS_UNITS:
            self.unusable += 1
            return
        frame = self.stable(frame, now)
        self.last = frame
        decision = self.filter.offer(frame, now, force=force)
        if decision is not None:
            self.publish_reading(decision)

    def publish_reading(self, decision: Decision) -> None:
        frame, reason = decision.frame, decision.reason
        if reason == "change" and decision.samples > 1:
            if not self._plateaus:
                log.info("first_level", device=self.device.id, weight=frame.weight,
                         unit=frame.unit, samples=decision.samples)  # fmt: skip
            self._plateaus.append(decision.samples)
        msg = WeightReading(
            device_id=self.device.id,
            boot_id=self.ctx.boot_id,
            seq=self.next_seq(),
            ts=self.ctx.clock(),
            weight=frame.weight if frame.state == "ok" else None,
            unit=frame.unit if frame.unit in MASS_UNITS else "kg",
            mode="net" if frame.mode == "net" else "gross",
            stable=bool(frame.stable),
            state=frame.state,
            reason=reason,
            samples=decision.samples,
            spread=decision.spread,
            noise=decision.noise,
        )
        row: RowKind = "heartbeat" if reason == "heartbeat" else "change"
        self.emit(TopicKind.READING, row, msg.model_dump_json().encode(), seq=msg.seq)

    def status_extra(self) -> dict[str, float | int | None]:
        return {
            "noise_kg": self.noise_kg(),
            "plateau_samples": max(self._plateaus) if self._plateaus else None,
            "max_plateau_samples": self.filter.max_samples,
        }

    def feed(self, data: bytes) -> list[Event]:
        self.decoder.feed(data)
        events = []
        while (event := self.decoder.next_frame()) is not None:
            events.append(event)
        self.decoded(len(data), len(events), time.monotonic())
        return events


class StreamScaleSession(ScaleSession):
    """Indicators that stream samples unasked (A&D-style, Toledo continuous).

    Their continuous output carries no commands, so tare and zero are done at
    the indicator or, better, as bin calibration in gudang; ``reread``
    publishes the next stable sample whatever the deadband says.
    """

    def __init__(self, device: Device, ctx: EdgeContext, decoder: Decoder) -> None:
        super().__init__(device, ctx, decoder)
        self._force = False

    async def talk(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stop: asyncio.Event
    ) -> None:
        while not stop.is_set():
            data = await self.read_some(reader)
            if data is None:
                return
            now = time.monotonic()
            for event in self.feed(data):
                if isinstance(event, ScaleFrame):
                    force = self._force and bool(event.stable)
                    self.handle(event, now, force=force)
                    if force:
                        self._force = False

    async def command(self, cmd: Command) -> CommandReply:
        if cmd.op != "reread":
            return self.reply(
                cmd,
                ok=False,
                error=f"{cmd.op} cannot be sent over {self.device.protocol} continuous output; "
                "use the indicator's key, or calibrate the bin's tare in gudang",
            )
        if not self.connected:
            return self.reply(cmd, ok=False, error="device is disconnected")
        self._force = True
        return self.reply(cmd, ok=True, result="the next stable reading will be published")


_TARE_ERRORS = {
    "I": "not executed (scale busy or in motion)",
    "+": "above the tare range",
    "-": "below the tare range",
}
_ZERO_ERRORS = {
    "I": "not executed (scale busy or in motion)",
    "+": "above the zero range",
    "-": "below the zero range",
}
_DEVICE_ERRORS = {
    "ES": "syntax error",
    "ET": "transmission error",
    "EL": "logical error: cannot execute",
}


def _answers(command: str, event: Event) -> bool:
    """Whether `event` can be the answer to `command` (errors answer anything)."""
    if isinstance(event, Reply) and event.command == "":
        return True
    if command in ("S", "SI"):
        return isinstance(event, ScaleFrame) or (isinstance(event, Reply) and event.command == "S")
    return isinstance(event, Reply) and event.command == {"T": "T", "Z": "Z", "@": "I4"}[command]


class MtSicsSession(ScaleSession):
    """Mettler Toledo MT-SICS: polls ``SI`` and runs commands between polls."""

    timeouts_to_disconnect = 3

    def __init__(self, device: Device, ctx: EdgeContext, decoder: Decoder) -> None:
        super().__init__(device, ctx, decoder)
        self.silence_s = max(2.0, device.poll_interval_s * 4)
        self._requests: asyncio.Queue[tuple[str, asyncio.Future[Event | None]]] = asyncio.Queue()
        self.tare: float = 0.0  # the indicator's tare, as it last confirmed it
        self.timeouts = 0
        self.stale = 0

    def counters(self) -> dict[str, int]:
        return {**super().counters(), "timeouts": self.timeouts, "stale": self.stale}

    async def _ask(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        command: str,
        wait_s: float,
    ) -> Event | None:
        writer.write(encode_command(command))
        await writer.drain()
        deadline = time.monotonic() + wait_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                data = await asyncio.wait_for(reader.read(4096), left)
            except TimeoutError:
                break
            if not data:
                raise ConnectionError("end of stream")
            for event in self.feed(data):
                if _answers(command, event):
                    return event
                self.stale += 1  # a late answer to an earlier, timed-out request
        self.timeouts += 1
        return None

    async def talk(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stop: asyncio.Event
    ) -> None:
        missed = 0
        while not stop.is_set():
            if not self._requests.empty():
                command, future = self._requests.get_nowait()
                # S waits for stability on the device: give it time.
                answer = await self._ask(reader, writer, command, 5.0 if command == "S" else 2.0)
                if not future.done():
                    future.set_result(answer)
                continue
            heard = self.bytes_in
            answer = await self._ask(
                reader, writer, "SI", max(1.0, self.device.poll_interval_s * 2)
            )
            if answer is None and self.bytes_in == heard:  # garbled answers: unreadable
                missed += 1
                if missed >= self.timeouts_to_disconnect:
                    self.publish_status("disconnected", "unanswered", f"{missed} polls unanswered")
                    return
            else:
                missed = 0
                if isinstance(answer, ScaleFrame):
                    self.handle(self._with_mode(answer), time.monotonic())
            await sleep_or_stop(stop, self.device.poll_interval_s)

    def _with_mode(self, frame: ScaleFrame) -> ScaleFrame:
        if self.tare and frame.state == "ok":
            return ScaleFrame(frame.weight, frame.unit, "net", frame.stable, frame.state)
        return frame

    async def command(self, cmd: Command) -> CommandReply:
        if not self.connected:
            return self.reply(cmd, ok=False, error="device is disconnected")
        wire = {"tare": "T", "zero": "Z", "reread": "S"}[cmd.op]
        future: asyncio.Future[Event | None] = asyncio.get_running_loop().create_future()
        await self._requests.put((wire, future))
        try:
            answer = await asyncio.wait_for(future, 10.0)
        except TimeoutError:
            return self.reply(cmd, ok=False, error="no answer from the device")
        return self._reply_for(cmd, answer)

    def _reply_for(self, cmd: Command, answer: Event | None) -> CommandReply:
        if answer is None:
            return self.reply(cmd, ok=False, error="no answer from the device")
        if isinstance(answer, Reply) and answer.status in _DEVICE_ERRORS:
            return self.reply(
                cmd, ok=False, error=f"{answer.status}: {_DEVICE_ERRORS[answer.status]}"
            )
        if cmd.op == "tare" and isinstance(answer, Reply) and answer.command == "T":
            if answer.status == "S":
                self.tare = answer.value or 0.0
                return self.reply(cmd, ok=True, result=f"tare {answer.value:g} {answer.unit}")
            return self.reply(
                cmd, ok=False, error=f"T {answer.status}: {_TARE_ERRORS[answer.status]}"
            )
        if cmd.op == "zero" and isinstance(answer, Reply) and answer.command == "Z":
            if answer.status == "A":
                return self.reply(cmd, ok=True, result="zeroed")
            return self.reply(
                cmd, ok=False, error=f"Z {answer.status}: {_ZERO_ERRORS[answer.status]}"
            )
        if cmd.op == "reread":
            if isinstance(answer, ScaleFrame) and answer.state == "ok":
                self.handle(self._with_mode(answer), time.monotonic(), force=True)
                return self.reply(cmd, ok=True, result=f"{answer.weight:g} {answer.unit}")
            if isinstance(answer, ScaleFrame):
                return self.reply(cmd, ok=False, error=f"scale reports {answer.state}")
            if isinstance(answer, Reply) and answer.status == "I":
                return self.reply(cmd, ok=False, error="S I: no stable weight in time")
        return self.reply(cmd, ok=False, error=f"unexpected answer {answer}")

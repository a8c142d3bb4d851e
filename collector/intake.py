"""Decides what one incoming MQTT message is: accepted (typed), or refused with a code.

Pure: no I/O, and the clock is an argument. Everything from outside is checked
here, for every topic the collector takes (size, topic, JSON, the contract's
bounds, the identity the payload claims against the topic and the site file,
plausible values, time), so that nothing later can fail on a value the
contract admitted. A refusal carries its ``DeadLetterCode`` (the table in
docs/collector.md) and, where the topic names one, the device it is about.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

from pydantic import BaseModel, ValidationError

from gudang.collector.stock import to_kg
from gudang.contract import (
    AlertAck,
    Calibrate,
    DeadLetter,
    DeviceStatus,
    SkuUpdate,
    TagEvent,
    TopicKind,
    WeightReading,
    parse,
)
from gudang.contract.identity import status_mismatch
from gudang.contract.messages import ALERT_KINDS, DeadLetterCode
from gudang.site import Site

__all__ = ["MAX_PAYLOAD", "Accepted", "Control", "Intake", "Refused"]

MAX_PAYLOAD = 16 * 1024  # a reading is ~250 bytes; anything near this is not one
_MAX_SHOWN = 2048
_ABSURD_KG = 1_000_000.0  # a rack holding more than 1000 t is a broken reading

ControlMessage = DeviceStatus | AlertAck | Calibrate | SkuUpdate


@dataclass(slots=True)  # (not frozen: 1 µs a message on the hot path)
class Accepted:
    """A reading or tag event, valid and about a known device of the right kind."""

    message: WeightReading | TagEvent


@dataclass(frozen=True, slots=True)
class Control:
    """State, not data: a status, an alert acknowledgement, a calibration or a
    settings request. `message` is None for an empty retained status (a clear)."""

    kind: TopicKind
    levels: Mapping[str, str]
    message: ControlMessage | None


@dataclass(frozen=True, slots=True)
class Refused:
    letter: DeadLetter
    device: str | None = None  # the device the topic names, when it names a known one
    ahead_ms: int | None = None  # with clock_ahead: how far the message was ahead

    @property
    def code(self) -> DeadLetterCode:
        return self.letter.code


_DATA: dict[TopicKind, type[WeightReading] | type[TagEvent]] = {
    TopicKind.READING: WeightReading,
    TopicKind.TAG: TagEvent,
}
_CONTROL: dict[TopicKind, type[BaseModel]] = {
    TopicKind.DEVICE_STATUS: DeviceStatus,
    TopicKind.EDGE_STATUS: DeviceStatus,
    TopicKind.ALERT_ACK: AlertAck,
    TopicKind.CALIBRATE: Calibrate,
    TopicKind.SKU_UPDATE: SkuUpdate,
}


@lru_cache(maxsize=65536)
def _route(topic: str) -> tuple[TopicKind, str, Mapping[str, str]] | None:
    """(kind, site, levels) of a topic the collector takes. Cached: topics
    repeat (the levels are shared between messages: read-only)."""
    parsed = parse(topic)
    if parsed is None or (parsed.kind not in _DATA and parsed.kind not in _CONTROL):
        return None
    return parsed.kind, parsed.site, MappingProxyType(dict(parsed.levels))


def _explain(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "<payload>"
        parts.append(f"{loc}: {err['msg']}")
    return "invalid payload: " + "; ".join(parts)


def refuse(
    topic: str,
    payload: bytes,
    code: DeadLetterCode,
    reason: str,
    now: int,
    device: str | None = None,
    ahead_ms: int | None = None,
) -> Refused:
    letter = DeadLetter(
        component="collector",
        code=code,
        topic=topic[:512],
        reason=reason[:2048],
        payload=payload[:_MAX_SHOWN].decode("utf-8", errors="replace"),
        payload_size=len(payload),
        received_at=now,
    )
    return Refused(letter, device, ahead_ms)


class Intake:
    def __init__(self, site: Site, max_clock_ahead_ms: int) -> None:
        self.site = site
        self.site_id = site.site.id
        self.max_clock_ahead_ms = max_clock_ahead_ms
        self._edges = {d.edge for d in site.devices}

    def classify(self, topic: str, payload: bytes, now: int) -> Accepted | Control | Refused:
        """`now`: the collector's clock, epoch ms (the judge of `clock_ahead`)."""
        if len(payload) > MAX_PAYLOAD:
            return refuse(
                topic, payload, "too_large",
                f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}", now,
            )  # fmt: skip
        route = _route(topic)
        if route is None:
            return refuse(topic, payload, "unknown_topic",
                          "not a topic of contract v1 that the collector takes", now)  # fmt: skip
        kind, site_id, levels = route
        if site_id != self.site_id:
            return refuse(topic, payload, "wrong_site",
                          f"site {site_id!r} is not this collector's site", now)  # fmt: skip
        if kind in _DATA:
            return self._data(kind, levels["device_id"], topic, payload, now)
        return self._control(kind, levels, topic, payload, now)

    def _ahead(self, ts: int, now: int) -> int | None:
        ahead = ts - now
        return ahead if ahead > self.max_clock_ahead_ms else None

    def _data(
        self, kind: TopicKind, device_id: str, topic: str, payload: bytes, now: int
    ) -> Accepted | Refused:
        device_kind = self.site.device_kind(device_id)
        known = device_id if device_kind is not None else None
        try:
            message = _DATA[kind].model_validate_json(payload)
        except ValidationError as exc:
            return refuse(topic, payload, "invalid", _explain(exc), now, known)
        if message.device_id != device_id:
            return refuse(
                topic, payload, "identity_mismatch",
                f"device_id {message.device_id!r} in the payload, {device_id!r} in the topic",
                now, known,
            )  # fmt: skip
        if device_kind is None:
            return refuse(topic, payload, "unknown_device",
                          f"unknown device {device_id!r}", now)  # fmt: skip
        if device_kind != ("scale" if kind is TopicKind.READING else "rfid"):
            return refuse(topic, payload, "wrong_device_kind",
                          f"device {device_id!r} is a {device_kind}", now, known)  # fmt: skip
        if (
            isinstance(message, WeightReading)
            and message.weight is not None
            and abs(to_kg(message.weight, message.unit)) > _ABSURD_KG
        ):
            return refuse(topic, payload, "implausible",
                          f"absurd weight {message.weight} {message.unit}", now, known)  # fmt: skip
        ahead = self._ahead(message.ts, now)
        if ahead is not None:
            return refuse(
                topic, payload, "clock_ahead",
                f"stamped {ahead / 1000:.1f} s ahead of the collector's clock (limit "
                f"{self.max_clock_ahead_ms / 1000:g} s): fix the edge's clock (NTP)",
                now, known, ahead,
            )  # fmt: skip
        return Accepted(message)

    def _control(
        self, kind: TopicKind, levels: Mapping[str, str], topic: str, payload: bytes, now: int
    ) -> Control | Refused:
        is_status = kind in (TopicKind.DEVICE_STATUS, TopicKind.EDGE_STATUS)
        if is_status and not payload:
            return Control(kind, levels, None)  # an empty retained payload clears a status
        try:
            message = _CONTROL[kind].model_validate_json(payload)
        except ValidationError as exc:
            return refuse(topic, payload, "invalid", _explain(exc), now)
        if isinstance(message, DeviceStatus):
            return self._status(kind, levels, message, topic, payload, now)
        if kind is TopicKind.ALERT_ACK and levels["kind"] not in ALERT_KINDS:
            return refuse(topic, payload, "invalid",
                          f"unknown alert kind {levels['kind']!r}", now)  # fmt: skip
        assert isinstance(message, AlertAck | Calibrate | SkuUpdate)
        ahead = self._ahead(message.ts, now)
        if ahead is not None:
            return refuse(
                topic, payload, "clock_ahead",
                f"stamped {ahead / 1000:.1f} s ahead of the collector's clock", now, None, ahead,
            )  # fmt: skip
        return Control(kind, levels, message)

    def _status(
        self,
        kind: TopicKind,
        levels: Mapping[str, str],
        status: DeviceStatus,
        topic: str,
        payload: bytes,
        now: int,
    ) -> Control | Refused:
        if kind is TopicKind.DEVICE_STATUS:
            topic_id = levels["device_id"]
            device = self.site.device(topic_id)
            if device is None:
                return refuse(topic, payload, "unknown_device",
                              f"unknown device {topic_id!r}", now)  # fmt: skip
            owner: str | None = device.edge
        else:
            topic_id = levels["edge_id"]
            if topic_id not in self._edges:
                return refuse(topic, payload, "unknown_device",
                              f"no device of the site file is read by edge {topic_id!r}",
                              now)  # fmt: skip
            owner = None
        problem = status_mismatch(kind, topic_id, status, owner)
        if problem is not None:
            code, reason = problem
            return refuse(topic, payload, code, reason, now)
        return Control(kind, levels, status)

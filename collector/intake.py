"""Decides what one incoming MQTT message is: an accepted reading or a dead letter.

Pure: no I/O. Everything from outside is checked here (size, topic, JSON,
schema, known device, plausible value) so that nothing later can crash on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from gudang.collector.stock import to_kg
from pydantic import ValidationError

from gudang.contract import DeadLetter, TopicKind, WeightReading, now_ms, parse
from gudang.site import Site

__all__ = ["MAX_PAYLOAD", "Accepted", "classify"]

MAX_PAYLOAD = 16 * 1024  # a reading is ~250 bytes; anything near this is not one
_MAX_SHOWN = 2048
_ABSURD_KG = 1_000_000.0  # a rack holding more than 1000 t is a broken reading


@dataclass(frozen=True)
class Accepted:
    reading: WeightReading


def _dead(topic: str, payload: bytes, reason: str) -> DeadLetter:
    return DeadLetter(
        component="collector",
        topic=topic[:512],
        reason=reason[:2048],
        payload=payload[:_MAX_SHOWN].decode("utf-8", errors="replace"),
        payload_size=len(payload),
        received_at=now_ms(),
    )


def _explain(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "<payload>"
        parts.append(f"{loc}: {err['msg']}")
    return "invalid payload: " + "; ".join(parts)


def classify(site: Site, topic: str, payload: bytes) -> Accepted | DeadLetter:
    if len(payload) > MAX_PAYLOAD:
        return _dead(topic, payload, f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    parsed = parse(topic)
    if parsed is None or parsed.kind is not TopicKind.READING:
        return _dead(topic, payload, "topic is not a reading topic of contract v1")
    if parsed.site != site.site.id:
        return _dead(topic, payload, f"site {parsed.site!r} is not this collector's site")
    try:
        reading = WeightReading.model_validate_json(payload)
    except ValidationError as exc:
        return _dead(topic, payload, _explain(exc))
    if reading.device_id != parsed.levels["device_id"]:
        return _dead(topic, payload, "device_id in payload differs from the topic")
    if not any(d.id == reading.device_id for d in site.devices):
        return _dead(topic, payload, f"unknown device {reading.device_id!r}")
    if reading.weight is not None and abs(to_kg(reading.weight, reading.unit)) > _ABSURD_KG:
        return _dead(topic, payload, f"absurd weight {reading.weight} {reading.unit}")
    return Accepted(reading)

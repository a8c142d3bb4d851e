"""Decides what one incoming MQTT message is: an accepted reading or a dead letter.

Pure: no I/O. Everything from outside is checked here (size, topic, JSON,
schema, known device, plausible value) so that nothing later can crash on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from gudang.collector.stock import to_kg
from pydantic import ValidationError

from gudang.contract import DeadLetter, TagEvent, TopicKind, WeightReading, now_ms, parse
from gudang.site import Site

__all__ = ["MAX_PAYLOAD", "Accepted", "classify"]

MAX_PAYLOAD = 16 * 1024  # a reading is ~250 bytes; anything near this is not one
_MAX_SHOWN = 2048
_ABSURD_KG = 1_000_000.0  # a rack holding more than 1000 t is a broken reading


@dataclass(frozen=True)
class Accepted:
    message: WeightReading | TagEvent

    @property
    def reading(self) -> WeightReading:
        assert isinstance(self.message, WeightReading)
        return self.message


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


_MODELS: dict[TopicKind, type[WeightReading] | type[TagEvent]] = {
    TopicKind.READING: WeightReading,
    TopicKind.TAG: TagEvent,
}


@lru_cache(maxsize=65536)
def _route(topic: str) -> tuple[TopicKind, str, str] | str:
    """(kind, site, device) of a data topic, or why it is not one. Cached: topics repeat."""
    parsed = parse(topic)
    if parsed is None or parsed.kind not in _MODELS:
        return "topic is not a reading or tag topic of contract v1"
    return parsed.kind, parsed.site, parsed.levels["device_id"]


def classify(site: Site, topic: str, payload: bytes) -> Accepted | DeadLetter:
    if len(payload) > MAX_PAYLOAD:
        return _dead(topic, payload, f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    route = _route(topic)
    if isinstance(route, str):
        return _dead(topic, payload, route)
    kind, site_id, device_id = route
    if site_id != site.site.id:
        return _dead(topic, payload, f"site {site_id!r} is not this collector's site")
    try:
        message = _MODELS[kind].model_validate_json(payload)
    except ValidationError as exc:
        return _dead(topic, payload, _explain(exc))
    if message.device_id != device_id:
        return _dead(topic, payload, "device_id in payload differs from the topic")
    device_kind = site.device_kind(device_id)
    if device_kind is None:
        return _dead(topic, payload, f"unknown device {device_id!r}")
    if device_kind != ("scale" if kind is TopicKind.READING else "rfid"):
        return _dead(topic, payload, f"device {device_id!r} is a {device_kind}")
    if (
        isinstance(message, WeightReading)
        and message.weight is not None
        and abs(to_kg(message.weight, message.unit)) > _ABSURD_KG
    ):
        return _dead(topic, payload, f"absurd weight {message.weight} {message.unit}")
    return Accepted(message)

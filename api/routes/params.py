"""Query parameters shared by several endpoints: time ranges, intervals, pages."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from gudang.api.auth import ApiError

from gudang.influx import duration

__all__ = ["interval_ms", "parse_time", "time_range"]

_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
MAX_RANGE_MS = 400 * 86_400_000


def parse_time(text: str, name: str) -> int:
    """Epoch milliseconds, or an ISO 8601 time (with offset; UTC if none)."""
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        msg = f"{name}: not epoch ms or ISO 8601: {text[:64]!r}"
        raise ApiError(422, "invalid_request", msg) from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def time_range(start: str | None, end: str | None, default_span_ms: int) -> tuple[int, int]:
    end_ms = parse_time(end, "end") if end else time.time_ns() // 1_000_000
    start_ms = parse_time(start, "start") if start else end_ms - default_span_ms
    if start_ms >= end_ms:
        raise ApiError(422, "invalid_request", "start must be before end")
    if end_ms - start_ms > MAX_RANGE_MS:
        raise ApiError(422, "invalid_request", "the range may span at most 400 days")
    return start_ms, end_ms


def interval_ms(text: str) -> int:
    try:
        duration(text)
    except ValueError as exc:
        raise ApiError(422, "invalid_request", f"interval: {exc}") from exc
    unit = text.lstrip("0123456789")
    return int(text[: len(text) - len(unit)]) * _UNIT_MS[unit]

"""Query parameters shared by several endpoints: time ranges, intervals, pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from gudang.api.auth import ApiError
from gudang.contract import now_ms
from gudang.influx import duration

__all__ = ["interval_ms", "parse_time", "time_range"]

_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
MAX_RANGE_MS = 400 * 86_400_000


# Times a warehouse can mean: 1970-01-01 .. 2200-01-01 (anything else is a typo
# or a probe, and must not reach InfluxDB as a 20-digit nanosecond literal).
MIN_TIME_MS = 0
MAX_TIME_MS = 7_258_118_400_000
_EPOCH_MS = re.compile(r"^-?[0-9]{1,15}$")  # ASCII digits only: "²" is a digit to Python


def parse_time(text: str, name: str) -> int:
    """Epoch milliseconds, or an ISO 8601 time (with offset; UTC if none),
    between 1970 and 2200; anything else is a 422 naming the parameter."""
    if _EPOCH_MS.match(text):
        ms = int(text)
    else:
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
            ms = int(dt.timestamp() * 1000)
        except (ValueError, OverflowError, OSError) as exc:
            msg = f"{name}: not epoch ms or ISO 8601: {text[:64]!r}"
            raise ApiError(422, "invalid_request", msg) from exc
    if not MIN_TIME_MS <= ms < MAX_TIME_MS:
        msg = f"{name}: {text[:64]!r} is not between 1970-01-01 and 2200-01-01"
        raise ApiError(422, "invalid_request", msg)
    return ms


def time_range(start: str | None, end: str | None, default_span_ms: int) -> tuple[int, int]:
    end_ms = parse_time(end, "end") if end else now_ms()
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

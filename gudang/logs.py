"""Structured logging: one line per meaningful event, JSON or console.

Identical lines are rate-limited: at most ``BURST`` of one line (same event and
fields, whatever the time) per ``WINDOW_S``; the first line after the window
says how many were suppressed (``repeated``). A flood of one error (a client
hammering the API, a device failing the same way ten times a second) then costs
a few lines a minute, not gigabytes, and the first lines still say what it is.
The same limit applies to the standard library loggers gudang's dependencies
use (uvicorn, asyncio).
"""

from __future__ import annotations

import logging
import sys
import time
from collections import OrderedDict
from collections.abc import MutableMapping
from typing import Any, Literal

import structlog

__all__ = ["BURST", "WINDOW_S", "RepeatLimiter", "configure", "get"]

BURST = 5
WINDOW_S = 60.0


class RepeatLimiter:
    """Per key: `burst` lines a `window_s`, then silence until the window ends."""

    def __init__(
        self, burst: int = BURST, window_s: float = WINDOW_S, max_keys: int = 1000
    ) -> None:
        self.burst = burst
        self.window_s = window_s
        self.max_keys = max_keys
        self._seen: OrderedDict[Any, list[float]] = OrderedDict()  # key -> [start, n, dropped]

    def check(self, key: Any, now: float) -> tuple[bool, int]:
        """Whether to emit this line, and how many were suppressed before it."""
        entry = self._seen.get(key)
        if entry is None or now - entry[0] >= self.window_s:
            dropped = int(entry[2]) if entry is not None else 0
            self._seen[key] = [now, 1, 0]
            self._seen.move_to_end(key)
            while len(self._seen) > self.max_keys:
                self._seen.popitem(last=False)
            return True, dropped
        entry[1] += 1
        if entry[1] <= self.burst:
            return True, 0
        entry[2] += 1
        return False, 0

    def processor(
        self, _logger: Any, _name: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        """structlog: drop a line past the burst; count them on the next one."""
        key = tuple(sorted((k, repr(v)) for k, v in event.items() if k != "timestamp"))
        emit, dropped = self.check(key, time.monotonic())
        if not emit:
            raise structlog.DropEvent
        if dropped:
            event["repeated"] = dropped
        return event


class _RepeatFilter(logging.Filter):
    def __init__(self, limiter: RepeatLimiter) -> None:
        super().__init__()
        self.limiter = limiter

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, record.getMessage())
        emit, dropped = self.limiter.check(key, time.monotonic())
        if emit and dropped:
            record.msg = f"{record.getMessage()} (and {dropped} identical lines suppressed)"
            record.args = ()
        return emit


def configure(fmt: Literal["json", "console"] = "console", level: str = "info") -> None:
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    limiter = RepeatLimiter()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            limiter.processor,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    repeat = _RepeatFilter(RepeatLimiter())
    for name in ("uvicorn", "uvicorn.error", "asyncio"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RepeatFilter) for f in logger.filters):
            logger.addFilter(repeat)


def get(component: str) -> structlog.typing.FilteringBoundLogger:
    # Initial values, not .bind(): binding at import time would freeze the
    # logger before configure() runs.
    return structlog.get_logger(component=component)  # type: ignore[no-any-return]

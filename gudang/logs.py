"""Structured logging: one line per meaningful event, JSON or console."""

from __future__ import annotations

import logging
import sys
from typing import Literal

import structlog

__all__ = ["configure", "get"]


def configure(fmt: Literal["json", "console"] = "console", level: str = "info") -> None:
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
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


def get(component: str) -> structlog.typing.FilteringBoundLogger:
    # Initial values, not .bind(): binding at import time would freeze the
    # logger before configure() runs.
    return structlog.get_logger(component=component)  # type: ignore[no-any-return]

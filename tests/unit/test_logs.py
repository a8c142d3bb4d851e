"""Identical log lines are rate-limited, and the next one says how many went."""

from __future__ import annotations

import contextlib
import logging

import pytest
import structlog

from gudang.logs import BURST, RepeatLimiter, _RepeatFilter


def test_a_flood_of_one_line_costs_a_burst_a_window_then_one_line_that_counts() -> None:
    limiter = RepeatLimiter(burst=5, window_s=60)
    emitted = [limiter.check("same", t / 100)[0] for t in range(1000)]  # 10 s of a flood
    assert sum(emitted) == 5
    assert limiter.check("other", 10.0) == (True, 0)  # another line is not held back
    assert limiter.check("same", 61.0) == (True, 995)


def test_the_structlog_processor_drops_repeats_and_reports_them() -> None:
    limiter = RepeatLimiter(burst=BURST, window_s=60)
    lines = []
    for i in range(50):
        with contextlib.suppress(structlog.DropEvent):
            lines.append(limiter.processor(None, "warning", {"event": "api_error", "n": 1,
                                                             "timestamp": i}))  # fmt: skip
    assert len(lines) == BURST
    assert limiter.processor(None, "warning", {"event": "api_error", "n": 2})  # differs: kept


def test_the_standard_library_filter_limits_uvicorns_warnings(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("uvicorn.error.test")
    logger.addFilter(_RepeatFilter(RepeatLimiter(burst=3, window_s=60)))
    with caplog.at_level(logging.WARNING, logger="uvicorn.error.test"):
        for _ in range(100):
            logger.warning("Exceeded concurrency limit.")
    assert len(caplog.records) == 3

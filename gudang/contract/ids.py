"""Identifier and time types shared by the contract and the site file.

Identifiers appear in MQTT topic levels and InfluxDB tag values, so they are
restricted to characters that need no escaping in either and cannot be MQTT
wildcards or level separators.
"""

from __future__ import annotations

import time
from typing import Annotated

from pydantic import Field, StringConstraints

__all__ = ["IDENT_PATTERN", "EpochMillis", "Ident", "now_ms"]

IDENT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"

Ident = Annotated[str, StringConstraints(pattern=IDENT_PATTERN)]
"""A site, device, bin, SKU or edge id: 1-64 of A-Z a-z 0-9 _ . - (first alphanumeric)."""

# 2000-01-01 .. 2100-01-01: anything outside is a clock fault, not a reading.
EpochMillis = Annotated[int, Field(ge=946_684_800_000, lt=4_102_444_800_000)]
"""UTC time as integer milliseconds since the Unix epoch."""


def now_ms() -> int:
    """The current UTC time in epoch milliseconds."""
    return time.time_ns() // 1_000_000

"""Identifier, time and number types shared by the contract and the site file.

Every value that comes from outside is bounded here, once, so that whatever
the contract admits can also be stored: identifiers appear in MQTT topic
levels and InfluxDB tag values, so they are restricted to characters that need
no escaping in either and cannot be MQTT wildcards or level separators;
numbers are finite and fit InfluxDB's float64 and int64 fields; times fall in
a plausible range. The bounds are exported in the JSON Schema
(``minimum``/``maximum``/``maxLength``); JSON itself has no Infinity or NaN,
and a payload that writes them anyway (``Infinity``, ``NaN``, ``1e999``) is
refused, like a string or a boolean where a number belongs.
"""

from __future__ import annotations

import time
from typing import Annotated

from pydantic import Field, StringConstraints

__all__ = [
    "IDENT_PATTERN",
    "INT64_MAX",
    "MAX_MAGNITUDE",
    "Count",
    "EpochMillis",
    "Ident",
    "Int64",
    "Label",
    "Real",
    "now_ms",
]

IDENT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"

Ident = Annotated[str, StringConstraints(pattern=IDENT_PATTERN)]
"""A site, device, bin, SKU or edge id: 1-64 of A-Z a-z 0-9 _ . - (first alphanumeric)."""

# 2000-01-01 .. 2100-01-01: anything outside is a clock fault, not a reading.
EpochMillis = Annotated[int, Field(ge=946_684_800_000, lt=4_102_444_800_000, strict=True)]
"""UTC time as integer milliseconds since the Unix epoch."""

INT64_MAX = 2**63 - 1
MAX_MAGNITUDE = 1e15

Int64 = Annotated[int, Field(ge=-(2**63), le=INT64_MAX, strict=True)]
"""A whole number that fits InfluxDB's integer field (int64); JSON booleans and
fractions are refused."""

Count = Annotated[Int64, Field(ge=0)]
"""A non-negative int64: sequence numbers, counters."""

Real = Annotated[
    float, Field(allow_inf_nan=False, ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE, strict=True)
]
"""A finite number within +-1e15 (a warehouse has no quantity near it; a float
past it has lost its units digit). Integers are accepted, strings are not."""

Label = Annotated[str, StringConstraints(min_length=1, max_length=64)]
"""A short free-text name: a counter, a protocol."""


def now_ms() -> int:
    """The current UTC time in epoch milliseconds."""
    return time.time_ns() // 1_000_000

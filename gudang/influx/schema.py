"""Measurement names shared by the collector (the only writer) and the API (a reader).

The full schema (tags, fields) is documented in docs/contract.md.
"""

from __future__ import annotations

__all__ = ["ALERT", "BIN_STOCK", "CALIBRATION", "MOVEMENT", "READING", "TAG_EVENT"]

READING = "reading"
BIN_STOCK = "bin_stock"
MOVEMENT = "movement"
TAG_EVENT = "tag_event"
ALERT = "alert"
CALIBRATION = "calibration"

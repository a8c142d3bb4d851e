"""Measurement names shared by the collector (the only writer) and the API (a reader).

The full schema (tags, fields) is documented in docs/contract.md.
"""

from __future__ import annotations

__all__ = ["BIN_STOCK", "READING"]

READING = "reading"
BIN_STOCK = "bin_stock"

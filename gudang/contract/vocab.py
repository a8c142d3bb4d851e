"""The small vocabularies every part shares, each named once."""

from __future__ import annotations

from typing import Literal

__all__ = ["DeviceKind", "MovementKind", "RecordedMovementKind", "SkuUnit"]

DeviceKind = Literal["scale", "rfid"]
SkuUnit = Literal["kg", "pcs", "m"]
"""How a SKU is counted: kilograms, pieces, or metres."""
RecordedMovementKind = Literal["pick", "put", "anomaly"]
MovementKind = Literal["pick", "put", "anomaly", "none"]
"""`none`: no movement (noise); stored only where it replaces an earlier answer."""

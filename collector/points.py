"""InfluxDB points the collector writes (schema in docs/contract.md).

Tags are low-cardinality identifiers only (site, device, bin, rack, sku);
per-message ids (boot_id, seq) are fields. Every point carries the device
timestamp, so a replayed message overwrites its own point.
"""

from __future__ import annotations

from gudang.collector.stock import BinLevel, to_kg

from gudang.contract import WeightReading
from gudang.influx import FieldValue, Point
from gudang.influx.schema import BIN_STOCK, READING

__all__ = ["bin_stock_point", "reading_point"]


def reading_point(site_id: str, r: WeightReading) -> Point:
    fields: dict[str, FieldValue] = {
        "stable": r.stable,
        "state": r.state,
        "mode": r.mode,
        "reason": r.reason,
        "seq": r.seq,
        "boot_id": r.boot_id,
    }
    if r.weight is not None:
        fields["weight_kg"] = float(to_kg(r.weight, r.unit))
    tags = {"site": site_id, "device": r.device_id, "channel": str(r.channel)}
    return Point(READING, fields, r.ts, tags)


def bin_stock_point(site_id: str, level: BinLevel) -> Point:
    fields: dict[str, FieldValue] = {
        "net_kg": float(level.net_kg),
        "qty": float(level.quantity),
        "unit": level.sku.unit,
    }
    if level.gross_kg is not None:
        fields["gross_kg"] = float(level.gross_kg)
    tags = {"site": site_id, "bin": level.bin.id, "rack": level.bin.rack, "sku": level.sku.id}
    return Point(BIN_STOCK, fields, level.ts, tags)

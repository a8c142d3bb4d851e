"""InfluxDB points the collector writes (schema in docs/contract.md).

Tags are low-cardinality identifiers only (site, device, bin, rack, sku);
per-message ids (boot_id, seq) are fields. Every point carries the device
timestamp, so a replayed message overwrites its own point.
"""

from __future__ import annotations

from gudang.collector.movements import Movement
from gudang.collector.stock import BinLevel, to_kg
from gudang.contract import WeightReading
from gudang.influx import FieldValue, Point
from gudang.influx.schema import BIN_STOCK, READING

__all__ = [
    "bin_stock_line",
    "bin_stock_point",
    "movement_fields",
    "movement_line",
    "reading_line",
    "reading_point",
]


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
    if level.se_kg is not None:
        fields["se_kg"] = float(level.se_kg)
    tags = {"site": site_id, "bin": level.bin.id, "rack": level.bin.rack, "sku": level.sku.id}
    return Point(BIN_STOCK, fields, level.ts, tags)


def movement_fields(m: Movement, tags: list[str], labels: str) -> dict[str, FieldValue]:
    """A movement's fields; `tags` seen at the bay, `labels` their names
    (kind is a field, not a tag: a re-computation may change it)."""
    fields: dict[str, FieldValue] = {
        "kind": m.kind,
        "delta_kg": float(m.delta_kg),
        "delta_qty": float(m.delta_qty),
        "tags": ",".join(tags),
    }
    if tags:
        fields["labels"] = labels
    if m.pieces_exact is not None:
        fields["pieces_exact"] = float(m.pieces_exact)
    return fields


# Hot path: the same lines as line(series, <the fields above>, ts)
# (tests/unit/test_points.py holds them equal for any series and value the
# contract admits), built with the series key computed once per device or bin
# and no per-field escaping: every string here is a validated identifier or a
# contract literal, and every number is finite (the contract's bounds).


def reading_line(series: str, r: WeightReading) -> str:
    weight = f",weight_kg={float(to_kg(r.weight, r.unit))!r}" if r.weight is not None else ""
    return (
        f'{series} stable={"true" if r.stable else "false"},state="{r.state}",'
        f'mode="{r.mode}",reason="{r.reason}",seq={r.seq}i,boot_id="{r.boot_id}"{weight} {r.ts}'
    )


def bin_stock_line(series: str, level: BinLevel) -> str:
    gross = f",gross_kg={float(level.gross_kg)!r}" if level.gross_kg is not None else ""
    se = f",se_kg={float(level.se_kg)!r}" if level.se_kg is not None else ""
    return (
        f"{series} net_kg={float(level.net_kg)!r},qty={float(level.quantity)!r},"
        f'unit="{level.sku.unit}"{gross}{se} {level.ts}'
    )


def movement_line(series: str, m: Movement) -> str:
    """A movement nobody was seen at (no tags, so nothing to escape)."""
    exact = f",pieces_exact={float(m.pieces_exact)!r}" if m.pieces_exact is not None else ""
    return (
        f'{series} kind="{m.kind}",delta_kg={float(m.delta_kg)!r},'
        f'delta_qty={float(m.delta_qty)!r},tags=""{exact} {m.ts}'
    )

"""Request and response bodies of the HTTP API (they are the OpenAPI schemas)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from gudang.contract import Alert
from gudang.contract.vocab import DeviceKind, RecordedMovementKind, SkuUnit
from gudang.site import UnitName

__all__ = [
    "Accepted",
    "AckRequest",
    "AlertList",
    "BinPage",
    "BinStock",
    "CalibrationRequest",
    "CalibrationResponse",
    "DeviceList",
    "DeviceOut",
    "ErrorBody",
    "Health",
    "History",
    "HistoryPoint",
    "MovementList",
    "MovementOut",
    "ReorderItem",
    "ReorderList",
    "ReplenishmentOut",
    "SkuStock",
    "StockPage",
]

StockStatus = Literal["ok", "low", "critical", "unknown"]
Unit = SkuUnit


class ErrorBody(BaseModel):
    code: str = Field(examples=["not_found"], description="Stable, for programs.")
    message: str = Field(examples=["unknown SKU 'X'"], description="For people.")


class BinStock(BaseModel):
    bin: str = Field(examples=["C1"])
    rack: str = Field(examples=["C"])
    sku: str = Field(examples=["RB-D10"])
    unit: Unit
    unit_name: UnitName = Field(description="What a unit is called, for people.")
    quantity: float | None = Field(
        description="In the SKU's unit, rounded for people: whole pieces when within the count "
        "tolerance, kg and m to the scale's resolution; null before the first reading."
    )
    quantity_exact: float | None = Field(description="As measured (for integrators).")
    net_kg: float | None = Field(description="Net weight, to the scale's resolution.")
    capacity_kg: float | None = Field(description="Net load the bin holds when full, if known.")
    fill: float | None = Field(description="net_kg / capacity_kg (0..1), if the capacity is known.")
    updated_at: int | None = Field(description="Time of the reading, UTC epoch ms.")
    rate_per_day: float | None = Field(
        default=None, description="This bin's picks per working day (docs/replenishment.md); "
        "null without enough history.",
    )  # fmt: skip
    days_of_cover: float | None = Field(default=None, description="Its stock / that rate.")


class ReplenishmentOut(BaseModel):
    """What recorded picks say about a SKU (docs/replenishment.md)."""

    rate_per_day: float | None = Field(
        description="Consumption per working day in the SKU's unit, recent days weighing more; "
        "null with insufficient_history."
    )
    variability: float | None = Field(description="Standard deviation of daily demand.")
    observed_days: int = Field(description="Working days in the window since it was first seen.")
    insufficient_history: bool = Field(
        description="Too few working days observed, or picks on fewer than 3: no rate."
    )
    days_of_cover: float | None = Field(
        description="Stock / rate, in working days; null without a rate or consumption."
    )
    stockout_date: str | None = Field(
        description="The projected stock-out date (site time zone, working days), YYYY-MM-DD."
    )
    lead_time_days: float = Field(description="Working days from order to delivery.")
    service_level: float
    review_days: float
    suggested_reorder_point: float | None = Field(
        description="Demand over the lead time + safety stock (z x variability x "
        "sqrt(lead time)); the thresholds in use stay the SKU's own until adopted."
    )
    suggested_order: float | None = Field(
        description="Brings stock up to the demand of lead time + review period, with its "
        "safety stock; whole pieces for pcs."
    )
    urgency_days: float | None = Field(
        description="days_of_cover - lead_time_days: below 0, an order placed today arrives "
        "after the shelf is empty."
    )


class SkuStock(BaseModel):
    sku: str = Field(examples=["RB-D10"])
    name: str = Field(examples=["Besi beton ulir D10 12 m"])
    grade: str | None = None
    group: str = Field(examples=["besi-beton"])
    unit: Unit
    unit_name: UnitName = Field(description="What a unit is called, for people.")
    quantity: float | None = Field(
        description="Sum over the SKU's bins that have a reading, rounded for people (as a "
        "bin's `quantity`)."
    )
    quantity_exact: float | None = Field(
        description="The sum as measured (for integrators); `status` is judged on it."
    )
    net_kg: float | None = Field(description="Net weight, to the scale's resolution.")
    minimum: float
    reorder_point: float
    reorder_quantity: float
    status: StockStatus = Field(
        description="critical: at or below minimum; low: at or below reorder point; "
        "unknown: some bin has no reading yet."
    )
    updated_at: int | None = Field(description="Oldest bin reading time, UTC epoch ms.")
    replenishment: ReplenishmentOut | None = Field(
        description="Consumption and suggestions; null until the API has read the picks."
    )
    bins: list[BinStock]


class StockPage(BaseModel):
    site: str
    stale: bool = Field(
        description="InfluxDB is not answering: these are the last levels the API saw."
    )
    total: int = Field(description="Items matching the filters, over all pages.")
    limit: int
    offset: int
    items: list[SkuStock]


class BinPage(BaseModel):
    site: str
    total: int
    limit: int
    offset: int
    items: list[BinStock]


class HistoryPoint(BaseModel):
    time: int = Field(description="Start of the interval, UTC epoch ms.")
    quantity: float | None = Field(description="Level at the end of the interval (last).")
    min: float | None = Field(description="Lowest level seen in the interval.")
    max: float | None = Field(description="Highest level seen in the interval.")


class History(BaseModel):
    subject: str = Field(description="The SKU or bin.")
    unit: Unit
    unit_name: UnitName
    interval: str = Field(examples=["1h"])
    start: int = Field(description="UTC epoch ms, inclusive.")
    end: int = Field(description="UTC epoch ms, exclusive.")
    points: list[HistoryPoint]


class MovementOut(BaseModel):
    time: int = Field(description="Device time of the level that ends the movement, epoch ms.")
    bin: str
    rack: str
    sku: str
    kind: RecordedMovementKind
    delta_qty: float = Field(
        description="In the SKU's unit: whole pieces for pcs, m and kg to the scale's resolution."
    )
    delta_kg: float = Field(description="To the scale's resolution.")
    unit: Unit | None = Field(default=None, description="null for a SKU no longer in the site.")
    unit_name: UnitName | None = None
    tags: list[str] = Field(description="RFID tags seen at the rack around the movement.")
    labels: list[str] = Field(description="Their labels from the tag registry.")


class MovementList(BaseModel):
    start: int
    end: int
    items: list[MovementOut] = Field(description="Newest first.")


class ReorderItem(BaseModel):
    sku: str
    name: str
    group: str
    unit: Unit
    unit_name: UnitName
    quantity: float = Field(description="Rounded for people (as in /stock).")
    minimum: float
    reorder_point: float
    suggested_quantity: float = Field(
        description="reorder_quantity, or up to `target` when the SKU has one, whichever is more."
    )
    status: StockStatus
    reason: Literal["reorder_point", "projected_stockout"] = Field(
        description="At or below its reorder point, or projected to run out before an order "
        "placed today arrives (urgency_days < 0)."
    )
    replenishment: ReplenishmentOut | None


class ReorderList(BaseModel):
    site: str
    items: list[ReorderItem]


class AlertList(BaseModel):
    items: list[Alert]


class AckRequest(BaseModel):
    by: str = Field(min_length=1, max_length=128, examples=["Budi"])
    note: str | None = Field(default=None, max_length=1024, examples=["sudah dipesan"])


class Accepted(BaseModel):
    status: Literal["accepted"] = Field(
        description="The request is with the collector; the result arrives on the live stream."
    )


class CalibrationRequest(BaseModel):
    by: str = Field(min_length=1, max_length=128, examples=["Sari"])
    pieces: int | None = Field(
        default=None, ge=1, le=100_000, description="unit weight: pieces now in the bin (>= 10)."
    )


class CalibrationResponse(BaseModel):
    bin: str
    op: Literal["tare", "unit_weight"]
    value: float = Field(description="New tare kg, or kg per unit.")
    previous: float | None


class DeviceOut(BaseModel):
    id: str
    kind: DeviceKind
    protocol: str
    edge: str
    state: Literal["online", "offline", "disconnected", "connecting", "unreadable", "unknown"] = (
        Field(description="From the device's retained status (and its edge's last will).")
    )
    reason: str | None = Field(
        default=None,
        description="Why it is not online (`no_valid_frames`, `silent`, ...; docs/edge.md).",
    )
    detail: str | None = Field(default=None, description="The reason in words, with figures.")
    noise_kg: float | None = Field(
        default=None, description="Scales: the sample noise the edge has measured, kg."
    )
    since: int | None = Field(description="When the state began, epoch ms.")
    last_reading_at: int | None = Field(description="Scales: newest stable level, epoch ms.")
    reading_age_s: float | None = Field(
        description="Seconds since that reading (device time); a connected scale refreshes "
        "it every heartbeat, so a large age means a silent or stuck scale."
    )
    counters: dict[str, int]
    clock_ahead_s: float | None = Field(
        default=None,
        description="While the device's data is refused because its edge's clock is ahead "
        "(active `clock_ahead` alert): by how many seconds. Fix the edge's clock (NTP).",
    )


class DeviceList(BaseModel):
    items: list[DeviceOut]


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(default_factory=dict)

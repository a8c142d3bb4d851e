"""Response bodies of the HTTP API (they are the OpenAPI schemas)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

__all__ = ["BinStock", "ErrorBody", "Health", "SkuStock", "StockList"]

StockStatus = Literal["ok", "low", "critical", "unknown"]


class ErrorBody(BaseModel):
    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["unknown SKU 'X'"])


class BinStock(BaseModel):
    bin: str
    rack: str
    quantity: float | None = Field(description="In the SKU's unit; null before the first reading.")
    net_kg: float | None
    updated_at: int | None = Field(description="Time of the reading, UTC epoch ms.")


class SkuStock(BaseModel):
    sku: str = Field(examples=["RB-D10"])
    name: str = Field(examples=["Besi beton ulir D10 12 m"])
    grade: str | None = None
    unit: Literal["kg", "pcs", "m"]
    quantity: float | None = Field(description="Sum over the SKU's bins that have a reading.")
    net_kg: float | None
    minimum: float
    reorder_point: float
    status: StockStatus = Field(
        description="critical: at or below minimum; low: at or below reorder point; "
        "unknown: some bin has no reading yet."
    )
    updated_at: int | None = Field(description="Oldest bin reading time, UTC epoch ms.")
    bins: list[BinStock]


class StockList(BaseModel):
    site: str
    items: list[SkuStock]


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(default_factory=dict)

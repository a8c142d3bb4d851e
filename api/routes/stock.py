"""Stock, bins, reorder suggestions, history and movements: what the ordering
system reads. Answered from the live view, except history and movements
(InfluxDB)."""

from __future__ import annotations

import csv
import io
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from pydantic_core import to_json

from gudang.api.auth import ApiError, need
from gudang.api.bridge import BrokerUnavailable
from gudang.api.context import ctx
from gudang.api.models import (
    BinPage,
    ErrorBody,
    History,
    MovementList,
    ReorderList,
    SkuStock,
    StockPage,
    StockStatus,
)
from gudang.api.queries import MAX_POINTS, history, movements
from gudang.api.routes.params import interval_ms, time_range
from gudang.api.stock import bin_stock, effective, reorder, site_stock, sku_stock
from gudang.contract import SkuSettings
from gudang.site import Sku

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["stock"], dependencies=[Depends(need("read"))])

DAY_MS = 86_400_000
Limit = Query(100, ge=1, le=1000, description="Page size.")
Offset = Query(0, ge=0, description="Items to skip.")


def _skus(request: Request) -> dict[str, Sku]:
    """Every SKU as it is now (site file + run-time changes)."""
    c = ctx(request)
    key = ("skus", c.bridge.settings_version)
    return c.live.derived(key, lambda: effective(c.site, c.bridge.skus))


def _sku(request: Request, sku_id: str) -> Sku:
    sku = _skus(request).get(sku_id)
    if sku is None:
        raise ApiError(404, "not_found", f"unknown SKU {sku_id[:64]!r}")
    return sku


def _loaded(request: Request) -> None:
    """Before the first full read from InfluxDB there is nothing true to say."""
    live = ctx(request).live
    if not live.ready:
        raise ApiError(503, "storage_unavailable",
                       f"the live view has not loaded yet: {live.error or 'loading'}")  # fmt: skip


def _stock(request: Request) -> list[dict[str, Any]]:
    c = ctx(request)
    _loaded(request)
    skus = _skus(request)
    key = ("stock", c.bridge.settings_version, c.consumption.version)
    return c.live.derived(key, lambda: site_stock(c.site, skus, c.live.levels, c.consumption))


def _json(body: object) -> Response:
    """Already in the response model's shape (api/stock.py): serialised once,
    not validated again by FastAPI."""
    return Response(to_json(body), media_type="application/json")


@router.get("/stock", response_model=StockPage)
async def stock(
    request: Request,
    status: StockStatus | None = Query(None, description="Only SKUs in this state."),
    group: str | None = Query(None, max_length=64, description="Only this SKU group."),
    q: str | None = Query(None, max_length=100, description="Text in the SKU id or name."),
    limit: int = Limit,
    offset: int = Offset,
) -> Response:
    """Current stock per SKU: quantity in the SKU's unit, bins, status. Paginated."""
    c = ctx(request)
    _loaded(request)
    stale = c.live.error is not None

    def page() -> bytes:
        items = _stock(request)
        if status is not None:
            items = [i for i in items if i["status"] == status]
        if group is not None:
            items = [i for i in items if i["group"] == group]
        if q:
            n = q.casefold()
            items = [i for i in items if n in i["sku"].casefold() or n in i["name"].casefold()]
        return to_json({"site": c.site.site.id, "stale": stale, "total": len(items),
                        "limit": limit, "offset": offset,
                        "items": items[offset : offset + limit]})  # fmt: skip

    # Serialised once per change of the live view and query (an ordering
    # system polling every second costs one JSON encoding, not one per call).
    key = ("stock-page", status, group, q, limit, offset, stale, c.bridge.settings_version)
    body = c.live.derived(key, page)
    return Response(body, media_type="application/json")


@router.get("/stock/{sku_id}", response_model=SkuStock)
async def one_sku(request: Request, sku_id: str) -> Response:
    """One SKU's stock, with its bins."""
    c = ctx(request)
    _loaded(request)
    return _json(sku_stock(c.site, _sku(request, sku_id), c.live.levels, c.consumption))


@router.get("/bins", response_model=BinPage)
async def bins(
    request: Request,
    rack: str | None = Query(None, max_length=64),
    sku: str | None = Query(None, max_length=64),
    limit: int = Limit,
    offset: int = Offset,
) -> Response:
    """Every bin's level, filterable by rack and SKU. Paginated."""
    c = ctx(request)
    _loaded(request)
    chosen = [b for b in c.site.bins if (rack is None or b.rack == rack)
              and (sku is None or b.sku == sku)]  # fmt: skip
    skus = _skus(request)
    page = [
        bin_stock(c.site, b, skus[b.sku], c.live.levels, c.consumption)
        for b in chosen[offset : offset + limit]
    ]
    return _json({"site": c.site.site.id, "total": len(chosen), "limit": limit, "offset": offset,
                  "items": page})  # fmt: skip


FormatQ = Query("json", pattern="^(json|csv)$")
REORDER_CSV = (
    "sku", "name", "group", "unit", "quantity", "reorder_point", "suggested_quantity", "status",
    "reason", "rate_per_day", "days_of_cover", "stockout_date", "lead_time_days", "urgency_days",
    "suggested_reorder_point", "suggested_order",
)  # fmt: skip


@router.get(
    "/reorder", response_model=ReorderList,
    responses={200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"}},
)  # fmt: skip
async def reorder_suggestions(request: Request, format: str = FormatQ) -> ReorderList | Response:
    """SKUs at or below their reorder point, or projected to run out before an
    order placed today arrives, most urgent first; `format=csv` for a sheet."""
    c = ctx(request)
    items = reorder(_skus(request), _stock(request))
    if format != "csv":
        return ReorderList(site=c.site.site.id, items=items)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(REORDER_CSV)
    for r in items:
        plan = r.replenishment.model_dump() if r.replenishment else {}
        row = {**r.model_dump(exclude={"replenishment", "unit_name"}), **plan}
        w.writerow(["" if row.get(k) is None else row[k] for k in REORDER_CSV])
    return Response(buf.getvalue(), media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="reorder-{c.site.site.id}.csv"'})  # fmt: skip


def _csv(h: History) -> Response:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["time_ms", "quantity", "min", "max", "unit"])
    for p in h.points:
        w.writerow([p.time, p.quantity, p.min, p.max, h.unit])
    name = f"{h.subject}-{h.interval}.csv"
    return Response(buf.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


HistoryResponses: dict[int | str, dict[str, object]] = {
    200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"}
}


async def _history(
    request: Request, where: Literal["sku", "bin"], subject: str, sku: Sku,
    start: str | None, end: str | None, interval: str, fmt: str,
) -> History | Response:  # fmt: skip
    c = ctx(request)
    s, e = time_range(start, end, 7 * DAY_MS)
    if (e - s) // interval_ms(interval) > MAX_POINTS:
        raise ApiError(422, "invalid_request",
                       f"more than {MAX_POINTS} intervals: choose a longer interval")  # fmt: skip
    r = c.site.rounding(sku)
    points = await history(c.db, c.site.site.id, where, subject, s, e, interval)
    for p in points:
        p.quantity, p.min, p.max = (None if v is None else r.qty(v) for v in (p.quantity, p.min,
                                                                             p.max))  # fmt: skip
    h = History(subject=subject, unit=sku.unit, unit_name=sku.display_unit, interval=interval,
                start=s, end=e, points=points)  # fmt: skip
    return _csv(h) if fmt == "csv" else h


StartQ = Query(None, description="epoch ms or ISO 8601; default: 7 days before end")
EndQ = Query(None, description="epoch ms or ISO 8601; default: now")
IntervalQ = Query("1h", description="GROUP BY time() interval: e.g. 5m, 1h, 1d")


@router.get("/stock/{sku_id}/history", response_model=History, responses=HistoryResponses)
async def sku_history(
    request: Request, sku_id: str, start: str | None = StartQ, end: str | None = EndQ,
    interval: str = IntervalQ, format: str = FormatQ,
) -> History | Response:  # fmt: skip
    """A SKU's total over time, one point per interval (the level at its end)."""
    sku = _sku(request, sku_id)
    return await _history(request, "sku", sku.id, sku, start, end, interval, format)


@router.get("/bins/{bin_id}/history", response_model=History, responses=HistoryResponses)
async def bin_history(
    request: Request, bin_id: str, start: str | None = StartQ, end: str | None = EndQ,
    interval: str = IntervalQ, format: str = FormatQ,
) -> History | Response:  # fmt: skip
    """One bin's level over time."""
    site = ctx(request).site
    b = site.bin(bin_id)
    if b is None:
        raise ApiError(404, "not_found", f"unknown bin {bin_id[:64]!r}")
    sku = _sku(request, b.sku)
    return await _history(request, "bin", b.id, sku, start, end, interval, format)


@router.get("/movements", response_model=MovementList)
async def movement_list(
    request: Request,
    sku: str | None = Query(None, max_length=64),
    bin: str | None = Query(None, max_length=64),
    start: str | None = Query(None, description="default: 1 day before end"),
    end: str | None = EndQ,
    limit: int = Query(500, ge=1, le=5000),
) -> MovementList:
    """Picks, puts and anomalies, newest first, with the RFID tags seen."""
    c = ctx(request)
    if sku is not None:
        _sku(request, sku)
    if bin is not None and not any(b.id == bin for b in c.site.bins):
        raise ApiError(404, "not_found", f"unknown bin {bin[:64]!r}")
    s, e = time_range(start, end, DAY_MS)
    items = await movements(c.db, c.site.site.id, s, e, sku=sku, bin_id=bin, limit=limit)
    skus = _skus(request)
    for m in items:
        known = skus.get(m.sku)
        if known is not None:  # a SKU since removed from the site file: as stored
            r = c.site.rounding(known)
            # An anomaly's fraction of a piece is the point: not rounded away.
            exact = m.kind == "anomaly" and known.unit == "pcs"
            m.delta_qty = round(m.delta_qty, 3) + 0.0 if exact else r.qty(m.delta_qty)
            m.delta_kg = r.kg(m.delta_kg)
            m.unit, m.unit_name = known.unit, known.display_unit
    return MovementList(start=s, end=e, items=items)


class SkuChange(BaseModel):
    by: str = Field(min_length=1, max_length=128, examples=["Sari"])
    minimum: float | None = Field(default=None, ge=0)
    reorder_point: float | None = Field(default=None, ge=0)
    reorder_quantity: float | None = Field(default=None, gt=0)
    target: float | None = Field(default=None, ge=0)
    lead_time_days: float | None = Field(
        default=None, gt=0, le=365, description="Working days, order to delivery."
    )
    service_level: float | None = Field(default=None, ge=0.5, le=0.999)
    review_days: float | None = Field(default=None, gt=0, le=365)


class Adoption(BaseModel):
    by: str = Field(min_length=1, max_length=128, examples=["Sari"])
    what: list[Literal["reorder_point", "reorder_quantity"]] = Field(
        default=["reorder_point"], min_length=1,
        description="reorder_point: the suggested reorder point becomes the SKU's; "
        "reorder_quantity: the suggested order becomes its order quantity.",
    )  # fmt: skip


@router.patch(
    "/stock/{sku_id}",
    response_model=SkuSettings,
    dependencies=[Depends(need("admin"))],
    responses={409: {"model": ErrorBody, "description": "refused (e.g. reorder_point < minimum)"}},
)
async def change_sku(request: Request, sku_id: str, body: SkuChange) -> SkuSettings:
    """Change a SKU's minimum, reorder point, reorder quantity, target or
    replenishment terms, from now on (scope admin). The collector, which owns
    them, checks the values, records who and when, judges the SKU's alerts
    against them at once, and answers with the SKU's effective settings."""
    _sku(request, sku_id)
    changes = body.model_dump(exclude={"by"}, exclude_none=True)
    if not changes:
        raise ApiError(422, "invalid_request", "nothing to change")
    return await _update(request, sku_id, changes, body.by)


async def _update(request: Request, sku_id: str, changes: dict[str, float], by: str) -> SkuSettings:
    """Through the collector, which owns the settings; its refusal is a 409."""
    try:
        now = await ctx(request).bridge.update_sku(sku_id, changes, by)
    except BrokerUnavailable as exc:
        raise ApiError(503, "collector_unavailable", str(exc)) from exc
    if now.error is not None:
        raise ApiError(409, "settings_refused", now.error)
    return now


@router.post(
    "/stock/{sku_id}/adopt",
    response_model=SkuSettings,
    dependencies=[Depends(need("admin"))],
    responses={409: {"model": ErrorBody, "description": "no suggestion, or refused"}},
)
async def adopt_suggestion(request: Request, sku_id: str, body: Adoption) -> SkuSettings:
    """Make the measured suggestion the SKU's own reorder point (and/or order
    quantity), from now on: one call, recorded like any settings change (who,
    when). The alerts follow the new values at once."""
    sku = _sku(request, sku_id)
    plan = next((s.get("replenishment") for s in _stock(request) if s["sku"] == sku.id), None)
    if not plan or plan["insufficient_history"]:
        raise ApiError(409, "no_suggestion",
                       f"no suggestion for {sku.id!r} yet: not enough recorded picks")  # fmt: skip
    changes: dict[str, float] = {}
    if "reorder_point" in body.what:
        point = plan["suggested_reorder_point"]
        if point < sku.minimum:
            raise ApiError(409, "settings_refused",
                           f"the suggested reorder point {point:g} is below the minimum "
                           f"{sku.minimum:g}: lower the minimum first")  # fmt: skip
        changes["reorder_point"] = point
    if "reorder_quantity" in body.what:
        if not plan["suggested_order"]:
            raise ApiError(409, "no_suggestion", "no order is suggested now (stock suffices)")
        changes["reorder_quantity"] = plan["suggested_order"]
    return await _update(request, sku.id, changes, body.by)

"""Stock from the live view: each bin's newest level, summed per SKU. Pure.

Built as plain dicts in the shape of ``models.SkuStock`` / ``models.BinStock``
(the OpenAPI schemas; the API tests and schemathesis hold them equal): a
site of 2,000 bins is rebuilt whenever a level changes, and pydantic model
instances cost more than the rest of the request together.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from gudang.api.live import Level
from gudang.api.models import ReorderItem, StockStatus
from gudang.consumption import ConsumptionView as Consumption
from gudang.contract import SkuSettings, now_ms
from gudang.contract.messages import SKU_SETTINGS, SKU_TERMS
from gudang.replenishment import project
from gudang.site import Bin, Site, Sku

__all__ = ["bin_stock", "effective", "reorder", "site_stock", "sku_stock", "status"]

Levels = Mapping[tuple[str, str], Level]
Json = dict[str, Any]


def status(sku: Sku, quantity: float | None, complete: bool = True) -> StockStatus:
    if quantity is None or not complete:
        return "unknown"
    if quantity <= sku.minimum:
        return "critical"
    if quantity <= sku.reorder_point:
        return "low"
    return "ok"


def _exact(value: float) -> float:
    """The measured value without float noise (19.00128589798543 -> 19.001286)."""
    return round(value, 6) + 0.0


def bin_stock(
    site: Site, b: Bin, sku: Sku, levels: Levels, consumption: Consumption | None = None,
    now: int | None = None,
) -> Json:  # fmt: skip
    # Only levels recorded while the bin held this SKU count.
    hit = levels.get((b.id, sku.id))
    r = site.rounding(sku)
    fill = None
    if hit is not None and b.capacity_kg:
        fill = round(min(max(hit.net_kg / b.capacity_kg, 0.0), 1.0), 4)
    return {
        "bin": b.id, "rack": b.rack, "sku": sku.id, "unit": sku.unit,
        "unit_name": sku.display_unit.model_dump(),
        "quantity": r.qty(hit.qty) if hit else None,
        "quantity_exact": _exact(hit.qty) if hit else None,
        "net_kg": r.kg(hit.net_kg) if hit else None,
        "capacity_kg": b.capacity_kg, "fill": fill, "updated_at": hit.ts if hit else None,
        **_bin_rate(site, b, sku, hit.qty if hit else None, consumption, now),
    }  # fmt: skip


def _bin_rate(
    site: Site, b: Bin, sku: Sku, stock: float | None, consumption: Consumption | None,
    now: int | None,
) -> Json:  # fmt: skip
    """A bin's own consumption per working day and days of cover (null
    without enough history): the SKU's forecast, for one bin."""
    if consumption is None or not consumption.ready:
        return {"rate_per_day": None, "days_of_cover": None}
    m = consumption.measured("bin", b.id, site.policy(sku), now if now is not None else now_ms())
    if m.rate is None:
        return {"rate_per_day": None, "days_of_cover": None}
    cover = None if stock is None or m.rate <= 0 else round(max(stock, 0.0) / m.rate, 2) + 0.0
    return {"rate_per_day": round(m.rate, 2) + 0.0, "days_of_cover": cover}


def replenishment(
    site: Site, sku: Sku, stock: float | None, consumption: Consumption | None, now: int
) -> Json | None:
    """The SKU's forecast in the shape of ``models.ReplenishmentOut``."""
    if consumption is None or not consumption.ready:
        return None
    policy, calendar = site.policy(sku), site.calendar
    f = project(consumption.measured("sku", sku.id, policy, now), stock,
                today=calendar.day_of(now), calendar=calendar, policy=policy,
                whole_units=sku.unit == "pcs")  # fmt: skip

    def r2(v: float | None) -> float | None:
        return None if v is None else round(v, 2) + 0.0

    point = f.suggested_reorder_point
    if point is not None and sku.unit == "pcs":
        point = float(math.ceil(point - 1e-6))
    return {
        "rate_per_day": r2(f.rate), "variability": r2(f.variability),
        "observed_days": f.observed_days, "insufficient_history": f.insufficient_history,
        "days_of_cover": r2(f.days_of_cover),
        "stockout_date": f.stockout_date.isoformat() if f.stockout_date else None,
        "lead_time_days": policy.lead_time_days, "service_level": policy.service_level,
        "review_days": policy.review_days, "suggested_reorder_point": r2(point),
        "suggested_order": r2(f.suggested_order), "urgency_days": r2(f.urgency),
    }  # fmt: skip


def sku_stock(
    site: Site, sku: Sku, levels: Levels, consumption: Consumption | None = None,
    now: int | None = None,
) -> Json:  # fmt: skip
    bins = [bin_stock(site, b, sku, levels, consumption, now) for b in site.bins_of_sku(sku.id)]
    known = [x for x in bins if x["quantity"] is not None]
    exact = sum(x["quantity_exact"] for x in known) if known else None
    net = sum(x["net_kg"] for x in known) if known else None
    r = site.rounding(sku)
    return {
        "sku": sku.id, "name": sku.name, "grade": sku.grade, "group": sku.group,
        "unit": sku.unit, "unit_name": sku.display_unit.model_dump(),
        "quantity": r.qty(exact) if exact is not None else None,
        "quantity_exact": _exact(exact) if exact is not None else None,
        "net_kg": r.kg(net) if net is not None else None, "minimum": sku.minimum,
        "reorder_point": sku.reorder_point, "reorder_quantity": sku.reorder_quantity,
        "status": status(sku, exact, len(known) == len(bins)),
        "updated_at": min((x["updated_at"] for x in known), default=None),
        "replenishment": replenishment(site, sku, exact if len(known) == len(bins) else None,
                                       consumption, now if now is not None else now_ms()),
        "bins": bins,
    }  # fmt: skip


def effective(site: Site, settings: Mapping[str, SkuSettings]) -> dict[str, Sku]:
    """The site file's SKUs with the settings the collector announces (changes
    made at run time: thresholds, order quantities, calibrated unit weight)."""
    out = {}
    for sku in site.skus:
        now = settings.get(sku.id)
        if now is not None:
            changed = now.model_dump(include={"unit_weight_kg", *SKU_SETTINGS})
            # A term the SKU does not set itself (null) keeps its group's or the site's.
            for k in SKU_TERMS:
                if changed[k] is None:
                    del changed[k]
            sku = sku.model_copy(update=changed)
        out[sku.id] = sku
    return out


def site_stock(
    site: Site, skus: Mapping[str, Sku], levels: Levels, consumption: Consumption | None = None
) -> list[Json]:
    now = now_ms()
    return [sku_stock(site, sku, levels, consumption, now) for sku in skus.values()]


def reorder(skus: Mapping[str, Sku], stock: list[Json]) -> list[ReorderItem]:
    """Every SKU at or below its reorder point, or projected to run out before
    an order placed today arrives; the most urgent first (fewest days of
    cover beyond the lead time; without a forecast, by status and how far
    below its reorder point)."""
    out = []
    for s in stock:
        sku = skus[s["sku"]]
        plan = s.get("replenishment") or {}
        urgency = plan.get("urgency_days")
        if s["quantity_exact"] is None:
            continue
        if s["quantity_exact"] <= sku.reorder_point:
            reason = "reorder_point"
        elif urgency is not None and urgency < 0:
            reason = "projected_stockout"
        else:
            continue
        suggested = sku.reorder_quantity
        if sku.target is not None:
            suggested = max(suggested, sku.target - s["quantity_exact"])
        if sku.unit == "pcs":
            suggested = float(-(-suggested // 1))  # whole pieces, rounded up
        out.append(
            ReorderItem(
                sku=sku.id, name=sku.name, group=sku.group, unit=sku.unit,
                unit_name=sku.display_unit, quantity=s["quantity"],
                minimum=sku.minimum, reorder_point=sku.reorder_point,
                suggested_quantity=round(suggested, 3), status=s["status"], reason=reason,
                replenishment=plan or None,
            )
        )  # fmt: skip
    status_rank = {"critical": 0, "low": 1, "ok": 2, "unknown": 3}

    def key(r: ReorderItem) -> tuple[int, float, int, float]:
        u = r.replenishment.urgency_days if r.replenishment else None
        return (u is None, u if u is not None else 0.0, status_rank[r.status],
                r.quantity / max(r.reorder_point, 1e-9))  # fmt: skip

    out.sort(key=key)
    return out

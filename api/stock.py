"""Stock from the live view: each bin's newest level, summed per SKU. Pure.

Built as plain dicts in the shape of ``models.SkuStock`` / ``models.BinStock``
(the OpenAPI schemas; the API tests and schemathesis hold them equal): a
site of 2,000 bins is rebuilt whenever a level changes, and pydantic model
instances cost more than the rest of the request together.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gudang.api.live import Level
from gudang.api.models import ReorderItem, StockStatus
from gudang.contract import SkuSettings
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


def bin_stock(site: Site, b: Bin, sku: Sku, levels: Levels) -> Json:
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
    }  # fmt: skip


def sku_stock(site: Site, sku: Sku, levels: Levels) -> Json:
    bins = [bin_stock(site, b, sku, levels) for b in site.bins_of_sku(sku.id)]
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
        "bins": bins,
    }  # fmt: skip


def effective(site: Site, settings: Mapping[str, SkuSettings]) -> dict[str, Sku]:
    """The site file's SKUs with the settings the collector announces (changes
    made at run time: thresholds, order quantities, calibrated unit weight)."""
    out = {}
    for sku in site.skus:
        now = settings.get(sku.id)
        if now is not None:
            sku = sku.model_copy(update=now.model_dump(
                include={"unit_weight_kg", "minimum", "reorder_point", "reorder_quantity",
                         "target"}))  # fmt: skip
        out[sku.id] = sku
    return out


def site_stock(site: Site, skus: Mapping[str, Sku], levels: Levels) -> list[Json]:
    return [sku_stock(site, sku, levels) for sku in skus.values()]


def reorder(skus: Mapping[str, Sku], stock: list[Json]) -> list[ReorderItem]:
    """Every SKU at or below its reorder point, most urgent first."""
    out = []
    for s in stock:
        sku = skus[s["sku"]]
        if s["quantity_exact"] is None or s["quantity_exact"] > sku.reorder_point:
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
                suggested_quantity=round(suggested, 3), status=s["status"],
            )
        )  # fmt: skip
    urgency = {"critical": 0, "low": 1, "ok": 2, "unknown": 3}
    out.sort(key=lambda r: (urgency[r.status], r.quantity / max(r.reorder_point, 1e-9)))
    return out

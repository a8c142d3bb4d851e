"""Current stock: the last stable level of every bin, summed per SKU."""

from __future__ import annotations

from gudang.api.models import BinStock, SkuStock, StockList

from gudang.errors import StorageError
from gudang.influx import InfluxClient, quote_ident
from gudang.influx.schema import BIN_STOCK
from gudang.site import Site, Sku

__all__ = ["current_stock"]

# last() as the only selector keeps its own timestamp; net_kg comes from the same point.
_LATEST = (
    f'SELECT last("qty") AS "qty", "net_kg" FROM {quote_ident(BIN_STOCK)} '
    'WHERE "site" = $site GROUP BY "bin", "sku"'
)


def _status(sku: Sku, quantity: float | None, complete: bool) -> str:
    if quantity is None or not complete:
        return "unknown"
    if quantity <= sku.minimum:
        return "critical"
    if quantity <= sku.reorder_point:
        return "low"
    return "ok"


async def current_stock(db: InfluxClient, site: Site) -> StockList:
    try:
        series = await db.query(_LATEST, {"site": site.site.id})
    except StorageError as exc:
        if "database not found" not in str(exc):
            raise
        series = []  # nothing written yet: every bin is unknown, not an outage
    latest: dict[tuple[str, str], tuple[int, float, float]] = {}
    for s in series:
        for row in s.rows():
            latest[(s.tags.get("bin", ""), s.tags.get("sku", ""))] = (
                int(row["time"]),
                float(row["qty"]),
                float(row["net_kg"]),
            )
    items = []
    for sku in site.skus:
        bins = []
        for b in (b for b in site.bins if b.sku == sku.id):
            # Only levels recorded while the bin held this SKU count.
            hit = latest.get((b.id, sku.id))
            bins.append(
                BinStock(
                    bin=b.id,
                    rack=b.rack,
                    quantity=hit[1] if hit else None,
                    net_kg=hit[2] if hit else None,
                    updated_at=hit[0] if hit else None,
                )
            )
        known = [x for x in bins if x.quantity is not None]
        quantity = sum(x.quantity for x in known) if known else None  # type: ignore[misc]
        net = sum(x.net_kg for x in known) if known else None  # type: ignore[misc]
        items.append(
            SkuStock(
                sku=sku.id,
                name=sku.name,
                grade=sku.grade,
                unit=sku.unit,
                quantity=quantity,
                net_kg=net,
                minimum=sku.minimum,
                reorder_point=sku.reorder_point,
                status=_status(sku, quantity, len(known) == len(bins)),  # type: ignore[arg-type]
                updated_at=min((x.updated_at for x in known if x.updated_at), default=None),
                bins=bins,
            )
        )
    return StockList(site=site.site.id, items=items)

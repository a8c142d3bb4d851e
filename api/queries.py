"""The InfluxQL the API runs: history, movements, alert history.

Identifiers (SKU, bin) are checked against the site catalogue before they get
here and are passed as bind parameters anyway; times are integers and the
interval is validated by ``duration()``. No request text is ever put into a
query (tests/integration/test_api.py tries).
"""

from __future__ import annotations

from gudang.api.models import HistoryPoint, MovementOut
from gudang.contract import Alert, LocalizedText
from gudang.errors import DatabaseNotFound
from gudang.influx import InfluxClient, Series, duration, quote_ident
from gudang.influx.schema import ALERT, BIN_STOCK, MOVEMENT

__all__ = ["alert_history", "history", "movements"]

MAX_POINTS = 5000  # per history answer: more is a bigger interval's job


async def _query(db: InfluxClient, q: str, params: dict[str, str]) -> list[Series]:
    try:
        return await db.query(q, params)
    except DatabaseNotFound:
        return []  # nothing written yet


async def history(
    db: InfluxClient, site: str, where: str, value: str, start: int, end: int, interval: str
) -> list[HistoryPoint]:
    """The summed level of a SKU (where="sku") or one bin (where="bin") per interval.

    Each bin's level is carried forward (a bin keeps its level until it
    changes), starting from its last level before the range."""
    every = duration(interval)
    m, w = quote_ident(BIN_STOCK), quote_ident(where)
    params = {"site": site, "v": value}
    cond = f'"site" = $site AND {w} = $v'
    per_bin = await _query(
        db,
        f'SELECT last("qty") AS "q", min("qty") AS "lo", max("qty") AS "hi" FROM {m} '
        f"WHERE {cond} AND time >= {start}ms AND time < {end}ms "
        f'GROUP BY time({every}), "bin"',
        params,
    )
    before = await _query(
        db, f'SELECT last("qty") AS "q" FROM {m} WHERE {cond} AND time < {start}ms GROUP BY "bin"',
        params,
    )  # fmt: skip
    carried: dict[str, float] = {}
    for s in before:
        for row in s.rows():
            carried[s.tags.get("bin", "")] = float(row["q"])
    totals: dict[int, list[float | None]] = {}  # time -> [last, min, max] summed over bins
    for s in per_bin:
        b = s.tags.get("bin", "")
        for row in s.rows():
            t = int(row["time"])
            if row["q"] is not None:
                carried[b] = float(row["q"])
                lo, hi = float(row["lo"]), float(row["hi"])
            elif b in carried:
                lo = hi = carried[b]
            else:
                continue
            acc = totals.setdefault(t, [0.0, 0.0, 0.0])
            acc[0] = (acc[0] or 0.0) + carried[b]
            acc[1] = (acc[1] or 0.0) + lo
            acc[2] = (acc[2] or 0.0) + hi
    if not per_bin and carried:  # no change in the range: a flat line
        level = sum(carried.values())
        return [HistoryPoint(time=start, quantity=level, min=level, max=level)]
    return [
        HistoryPoint(time=t, quantity=round(v[0] or 0.0, 6), min=round(v[1] or 0.0, 6),
                     max=round(v[2] or 0.0, 6))
        for t, v in sorted(totals.items())
    ]  # fmt: skip


async def movements(
    db: InfluxClient,
    site: str,
    start: int,
    end: int,
    *,
    sku: str | None = None,
    bin_id: str | None = None,
    limit: int = 500,
) -> list[MovementOut]:
    params = {"site": site}
    cond = '"site" = $site'
    if sku is not None:
        cond += ' AND "sku" = $sku'
        params["sku"] = sku
    if bin_id is not None:
        cond += ' AND "bin" = $bin'
        params["bin"] = bin_id
    series = await _query(
        db,
        f'SELECT "kind", "delta_qty", "delta_kg", "tags", "labels" FROM {quote_ident(MOVEMENT)} '
        f"WHERE {cond} AND \"kind\" != 'none' AND time >= {start}ms AND time < {end}ms "
        f'GROUP BY "bin", "rack", "sku" ORDER BY time DESC LIMIT {int(limit)}',
        params,
    )
    out = []
    for s in series:
        for row in s.rows():
            tags = [t for t in (row.get("tags") or "").split(",") if t]
            labels = [x for x in (row.get("labels") or "").split("; ") if x] if tags else []
            out.append(
                MovementOut(
                    time=int(row["time"]), bin=s.tags.get("bin", ""), rack=s.tags.get("rack", ""),
                    sku=s.tags.get("sku", ""), kind=row["kind"],
                    delta_qty=float(row["delta_qty"]), delta_kg=float(row["delta_kg"]),
                    tags=tags, labels=labels,
                )
            )  # fmt: skip
    out.sort(key=lambda m: m.time, reverse=True)
    return out[:limit]


async def alert_history(
    db: InfluxClient, site: str, start: int, end: int, limit: int = 500
) -> list[Alert]:
    series = await _query(
        db,
        f'SELECT * FROM {quote_ident(ALERT)} WHERE "site" = $site '
        f"AND time >= {start}ms AND time < {end}ms "
        f'GROUP BY "kind", "subject" ORDER BY time DESC LIMIT {int(limit)}',
        {"site": site},
    )
    out = []
    for s in series:
        for row in s.rows():
            out.append(
                Alert(
                    kind=s.tags["kind"], subject=s.tags["subject"], state=row["state"],
                    raised_at=int(row["raised_at"]), updated_at=int(row["time"]),
                    value=row.get("value"),
                    text=LocalizedText(id=row.get("text_id") or "", en=row.get("text_en") or ""),
                    acknowledged_by=row.get("by") or None, note=row.get("note") or None,
                )
            )  # fmt: skip
    out.sort(key=lambda a: a.updated_at, reverse=True)
    return out[:limit]

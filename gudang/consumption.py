"""Each SKU's recent consumption, kept from InfluxDB (the API and the collector).

Consumption changes by the day, not by the second: one task asks InfluxDB
every ``refresh_s`` (5 minutes) for the picks of the replenishment window,
summed per SKU and local day (InfluxQL ``tz()``: the site's days, not UTC's),
and for the time each SKU was first seen (its oldest level). Requests turn
that and the live stock into forecasts (gudang.replenishment) without a query.
"""

from __future__ import annotations

import asyncio

from gudang import logs
from gudang.contract import now_ms
from gudang.errors import DatabaseNotFound, StorageError
from gudang.influx import InfluxClient, quote_ident
from gudang.influx.schema import BIN_STOCK, MOVEMENT
from gudang.replenishment import Measured, Pick, Policy, measure
from gudang.runtime import sleep_or_stop
from gudang.site import Site

__all__ = ["ConsumptionView"]

log = logs.get("consumption")

DAY_MS = 86_400_000


class ConsumptionView:
    def __init__(self, db: InfluxClient, site: Site, *, refresh_s: float = 300.0) -> None:
        self.db = db
        self.site = site
        self.refresh_s = refresh_s
        self.daily: dict[str, list[Pick]] = {}  # SKU -> one pick per day (the day's sum)
        self.first_seen: dict[str, int] = {}  # SKU -> time of its oldest level, epoch ms
        self.daily_bin: dict[str, list[Pick]] = {}  # the same per bin
        self.first_seen_bin: dict[str, int] = {}
        self.version = 0  # bumped on every refresh: lets readers cache what they derive
        self.ready = False
        # (SKU or bin, policy) -> what its picks say: the stock list is rebuilt
        # whenever a level changes, the picks only on a refresh.
        self._measured: dict[tuple[str, str, Policy], Measured] = {}

    def measured(self, by: str, key: str, policy: Policy, now_ms: int) -> Measured:
        """`key`'s (a SKU, by="sku", or a bin) rate and variability, cached
        until the next refresh."""
        memo = (by, key, policy)
        found = self._measured.get(memo)
        if found is None:
            daily, seen = ((self.daily, self.first_seen) if by == "sku"
                           else (self.daily_bin, self.first_seen_bin))  # fmt: skip
            found = measure(daily.get(key, []), now_ms=now_ms, first_seen_ms=seen.get(key),
                            calendar=self.site.calendar, policy=policy)  # fmt: skip
            self._measured[memo] = found
        return found

    async def _query(self, q: str, by: str) -> list[tuple[str, int, float | None]]:
        try:
            series = await self.db.query(q, {"site": self.site.site.id})
        except DatabaseNotFound:
            return []
        return [(s.tags.get(by, ""), int(row["time"]), row.get("v"))
                for s in series for row in s.rows()]  # fmt: skip

    async def refresh(self) -> None:
        window = self.site.replenishment.window_days
        start = now_ms() - (window + 1) * DAY_MS  # a day more: the window's first local day
        # The zone is an IANA name (checked by the site model: letters, digits,
        # "/", "_", "+", "-"), so it can stand in the query; tz() takes no parameter.
        zone = self.site.site.timezone
        for by in ("sku", "bin"):
            picks = await self._query(
                f'SELECT sum("delta_qty") AS "v" FROM {quote_ident(MOVEMENT)} '
                f'WHERE "site" = $site AND "kind" = \'pick\' AND time >= {start}ms '
                f"AND time <= now() GROUP BY time(1d), \"{by}\" fill(none) tz('{zone}')",
                by,
            )
            first = await self._query(
                f'SELECT first("qty") AS "v" FROM {quote_ident(BIN_STOCK)} WHERE "site" = $site '
                f'GROUP BY "{by}"',
                by,
            )
            daily: dict[str, list[Pick]] = {}
            for key, ts, total in picks:
                if total is not None and total < 0:
                    # Stamped at local noon: the day it belongs to, whatever the zone.
                    daily.setdefault(key, []).append(Pick(ts + DAY_MS // 2, float(total), "pick"))
            seen = {key: ts for key, ts, _ in first}
            if by == "sku":
                self.daily, self.first_seen = daily, seen
            else:
                self.daily_bin, self.first_seen_bin = daily, seen
        self.version += 1
        self._measured = {}
        self.ready = True

    async def run(self, stop: asyncio.Event) -> None:
        failing = False
        while True:
            try:
                await self.refresh()
                if failing:
                    log.info("consumption_recovered")
                failing = False
            except StorageError as exc:
                if not failing:
                    log.warning("consumption_refresh_failed", error=str(exc))
                failing = True
            except Exception as exc:  # a bug: keep the last view, try again later
                log.exception("consumption_refresh_bug", error=repr(exc))
            if await sleep_or_stop(stop, self.refresh_s):
                return

"""The API's live view of every bin's newest level, kept from InfluxDB.

The collector is the only writer of stock; the API reads. Instead of asking
InfluxDB for the whole site on every request, one task keeps the newest
level of each bin in memory: a full ``last()`` at start and every
``full_every_s`` (30 s; it picks up points whose device time is old, e.g.
replayed from an edge's outbox or a drained spool), and in between a cheap
query for the points of the last few seconds every ``poll_s``. Requests are
answered from memory, and every change is offered to the server-sent event
streams of the dashboard.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from gudang import logs
from gudang.api.hub import EventHub
from gudang.contract import now_ms
from gudang.errors import DatabaseNotFound, StorageError
from gudang.influx import InfluxClient, quote_ident
from gudang.influx.schema import BIN_STOCK, MOVEMENT
from gudang.runtime import sleep_or_stop
from gudang.site import Rounding

__all__ = ["Level", "LiveStock"]

T = TypeVar("T")

log = logs.get("api.live")

_FIELDS = f'SELECT "qty", "net_kg" FROM {quote_ident(BIN_STOCK)} WHERE "site" = $site'
_LAST = f'SELECT last("qty") AS "qty", "net_kg" FROM {quote_ident(BIN_STOCK)} WHERE "site" = $site'
_MOVED = (f'SELECT "kind" FROM {quote_ident(MOVEMENT)} WHERE "site" = $site '
          "AND \"kind\" != 'none'")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Level:
    ts: int  # device time of the reading, epoch ms
    qty: float  # in the SKU's unit
    net_kg: float


class LiveStock:
    def __init__(
        self,
        db: InfluxClient,
        site_id: str,
        hub: EventHub,
        *,
        poll_s: float = 1.0,
        overlap_s: float = 10.0,
        full_every_s: float = 30.0,
        max_ahead_s: float = 120.0,
        rounding: Mapping[str, Rounding] | None = None,
    ) -> None:
        self.db = db
        # SKU -> how its quantities are shown: events carry what people read,
        # and a level that changes only below that says nothing new.
        self.rounding = dict(rounding or {})
        self.site_id = site_id
        self.poll_s = poll_s
        self.overlap_ms = int(overlap_s * 1000)
        self.full_every_s = full_every_s
        # The collector refuses points stamped further ahead than this; any
        # that exist anyway (written before it did, or by another writer) must
        # not become a bin's newest level, here or after a restart.
        self._not_future = f"time <= now() + {int(max_ahead_s * 1000)}ms"
        self.levels: dict[tuple[str, str], Level] = {}  # (bin, sku) -> newest level
        self.ready = False  # a full read has succeeded
        self.error: str | None = None  # the last failure, while InfluxDB is failing
        self.hub = hub
        self.version = 0  # bumped on every change: lets readers cache what they derive
        self._derived: dict[Hashable, object] = {}
        self._derived_version = 0

    # -- reading InfluxDB ---------------------------------------------------------

    async def _query(self, q: str) -> list[tuple[str, str, Level]]:
        try:
            series = await self.db.query(q, {"site": self.site_id})
        except DatabaseNotFound:
            return []  # nothing written yet
        out = []
        for s in series:
            key = (s.tags.get("bin", ""), s.tags.get("sku", ""))
            for row in s.rows():
                if row.get("qty") is not None and row.get("net_kg") is not None:
                    level = Level(int(row["time"]), float(row["qty"]), float(row["net_kg"]))
                    out.append((*key, level))
        return out

    async def _moved(self, since_ms: int | None) -> dict[tuple[str, int], str]:
        """(bin, time) -> kind of the movements recorded since `since_ms`
        (None: each bin's newest, for a full read)."""
        if since_ms is None:
            q = (f'SELECT last("kind") AS "kind" FROM {quote_ident(MOVEMENT)} WHERE "site" = $site '
                 f"AND \"kind\" != 'none' AND {self._not_future} GROUP BY \"bin\"")  # fmt: skip
        else:
            q = f'{_MOVED} AND time > {int(since_ms)}ms AND {self._not_future} GROUP BY "bin"'
        try:
            series = await self.db.query(q, {"site": self.site_id})
        except DatabaseNotFound:
            return {}
        return {(s.tags.get("bin", ""), int(row["time"])): str(row["kind"])
                for s in series for row in s.rows()}  # fmt: skip

    def _news(self, rows: list[tuple[str, str, Level]]) -> bool:
        return any((old := self.levels.get((b, k))) is None or lv.ts > old.ts for b, k, lv in rows)

    def _merge(
        self, rows: list[tuple[str, str, Level]], moved: Mapping[tuple[str, int], str] | None = None
    ) -> None:
        for bin_id, sku_id, level in rows:
            old = self.levels.get((bin_id, sku_id))
            if old is None or level.ts > old.ts:
                self.levels[(bin_id, sku_id)] = level
                self.version += 1
                r = self.rounding.get(sku_id)
                shown = r.qty(level.qty) if r else level.qty
                kind = (moved or {}).get((bin_id, level.ts))
                if old is None or kind is not None or shown != (r.qty(old.qty) if r else old.qty):
                    self.hub.publish({
                        "type": "bin", "bin": bin_id, "sku": sku_id, "quantity": shown,
                        "quantity_exact": round(level.qty, 6) + 0.0,
                        "net_kg": r.kg(level.net_kg) if r else level.net_kg,
                        "updated_at": level.ts,
                        # A recorded pick, put or anomaly ends at this level
                        # (null: the level moved within the scale's noise).
                        "movement": kind,
                    })  # fmt: skip

    def derived(self, key: Hashable, build: Callable[[], T]) -> T:
        """`build()`'s result, computed again only after a level changed
        (e.g. the stock list, or a page of it already serialised)."""
        if self._derived_version != self.version:
            self._derived.clear()
            self._derived_version = self.version
        if key not in self._derived:
            if len(self._derived) >= 1024:  # many distinct queries: keep memory bounded
                self._derived.clear()
            self._derived[key] = build()
        return self._derived[key]  # type: ignore[return-value]

    async def refresh_full(self) -> None:
        rows = await self._query(f'{_LAST} AND {self._not_future} GROUP BY "bin", "sku"')
        self._merge(rows, await self._moved(None) if self._news(rows) else None)
        self.ready = True

    async def refresh_recent(self, since_ms: int) -> None:
        q = f'{_FIELDS} AND time > {int(since_ms)}ms AND {self._not_future} GROUP BY "bin", "sku"'
        rows = await self._query(q)
        self._merge(rows, await self._moved(since_ms) if self._news(rows) else None)

    async def run(self, stop: asyncio.Event) -> None:
        last_full = 0.0
        since = 0
        while True:
            polled_at = now_ms()
            try:
                if time.monotonic() - last_full >= self.full_every_s or not self.ready:
                    await self.refresh_full()
                    last_full = time.monotonic()
                else:
                    await self.refresh_recent(since)
                if self.error is not None:
                    log.info("live_recovered")
                self.error = None
                since = polled_at - self.overlap_ms
            except StorageError as exc:
                if self.error is None:
                    log.warning("live_poll_failed", error=str(exc))
                self.error = str(exc)
            except Exception as exc:  # a bug: keep polling, and say the data is stale
                log.exception("live_poll_bug", error=repr(exc))
                self.error = f"internal error: {exc!r}"
            if await sleep_or_stop(stop, self.poll_s):
                return

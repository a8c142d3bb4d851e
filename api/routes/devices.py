"""Devices: what each edge says about them (retained status), and how fresh
each scale's newest stable level is."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Request
from gudang.api.auth import need
from gudang.api.context import ctx
from gudang.api.models import DeviceList, DeviceOut

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["devices"], dependencies=[Depends(need("read"))])


@router.get("/devices", response_model=DeviceList)
async def devices(request: Request) -> DeviceList:
    """Every device of the site file: state, since when, last reading, counters."""
    c = ctx(request)
    newest: dict[str, int] = {}
    for b in c.site.bins:
        level = c.live.levels.get((b.id, b.sku))
        if level is not None:
            newest[b.device] = max(level.ts, newest.get(b.device, 0))
    now = time.time_ns() // 1_000_000
    items = []
    for d in c.site.devices:
        status = c.bridge.devices.get(d.id)
        edge = c.bridge.edges.get(d.edge)
        state, since = (status.state, status.ts) if status else ("unknown", None)
        if edge is not None and edge.state == "offline":  # its last will speaks for all
            state, since = "offline", edge.ts
        items.append(
            DeviceOut(
                id=d.id, kind=d.kind, protocol=d.protocol, edge=d.edge, state=state, since=since,
                last_reading_at=newest.get(d.id), counters=status.counters if status else {},
                reading_age_s=round((now - newest[d.id]) / 1000, 1) if d.id in newest else None,
            )
        )  # fmt: skip
    return DeviceList(items=items)

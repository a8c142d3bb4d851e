"""Devices: what each edge says about them (retained status), and how fresh
each scale's newest stable level is."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from gudang.api.auth import ApiError, need
from gudang.api.bridge import BrokerUnavailable
from gudang.api.context import ctx
from gudang.api.models import DeviceList, DeviceOut, ErrorBody
from gudang.contract import CommandReply, now_ms
from gudang.contract.messages import CommandOp

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
    now = now_ms()
    items = []
    for d in c.site.devices:
        status = c.bridge.devices.get(d.id)
        edge = c.bridge.edges.get(d.edge)
        state, since = (status.state, status.ts) if status else ("unknown", None)
        reason, detail = (status.reason, status.detail) if status else (None, None)
        if edge is not None and edge.state == "offline":  # its last will speaks for all
            state, since = "offline", edge.ts
            reason, detail = edge.reason, f"edge {d.edge} is offline"
        clock = c.bridge.alerts.get(("clock_ahead", d.id))
        ahead = clock.value if clock is not None and clock.state != "cleared" else None
        items.append(
            DeviceOut(
                id=d.id, kind=d.kind, protocol=d.protocol, edge=d.edge, state=state, since=since,
                last_reading_at=newest.get(d.id), counters=status.counters if status else {},
                reading_age_s=round((now - newest[d.id]) / 1000, 1) if d.id in newest else None,
                clock_ahead_s=ahead, reason=reason, detail=detail,
                noise_kg=status.noise_kg if status else None,
            )
        )  # fmt: skip
    return DeviceList(items=items)


class CommandRequest(BaseModel):
    op: CommandOp = Field(description="tare, zero or reread (the indicator's own functions).")
    by: str = Field(min_length=1, max_length=128, examples=["Sari"])


@router.post(
    "/devices/{device_id}/command",
    response_model=CommandReply,
    dependencies=[Depends(need("admin"))],
    responses={
        409: {"model": ErrorBody, "description": "the device refused or could not do it"},
        503: {"model": ErrorBody, "description": "no answer from the device's edge"},
    },
)
async def command(request: Request, device_id: str, body: CommandRequest) -> CommandReply:
    """Send a command to a device through its edge and wait for the reply
    (scope admin). `zero` and `tare` act on the indicator itself; to tare a
    bin in gudang's stock model use `POST /api/v1/bins/{bin}/tare`."""
    c = ctx(request)
    if c.site.device(device_id) is None:
        raise ApiError(404, "not_found", f"unknown device {device_id[:64]!r}")
    try:
        reply = await c.bridge.command(device_id, body.op, body.by)
    except BrokerUnavailable as exc:
        raise ApiError(503, "edge_unavailable", str(exc)) from exc
    if not reply.ok:
        raise ApiError(409, "command_refused", reply.error or "refused by the device")
    return reply

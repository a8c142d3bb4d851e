"""Alerts: the active set (from the collector's retained alert topics) and
history (InfluxDB); acknowledging asks the collector, which owns alert state."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request

from gudang.api.auth import ApiError, need
from gudang.api.bridge import BrokerUnavailable
from gudang.api.context import ctx
from gudang.api.models import Accepted, AckRequest, AlertList, ErrorBody
from gudang.api.queries import alert_history
from gudang.api.routes.params import time_range
from gudang.contract.messages import ALERT_KINDS

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])


@router.get("", response_model=AlertList, dependencies=[Depends(need("read"))])
async def alerts(
    request: Request,
    state: Literal["active", "history"] = Query(
        "active", description="active: raised or acknowledged now; history: every transition."
    ),
    start: str | None = Query(None, description="history: default 7 days before end"),
    end: str | None = Query(None),
    limit: int = Query(500, ge=1, le=5000),
) -> AlertList:
    """Active alerts (most recent first), or the history of transitions."""
    c = ctx(request)
    if state == "active":
        active = [a for a in c.bridge.alerts.values() if a.state != "cleared"]
        active.sort(key=lambda a: a.updated_at, reverse=True)
        return AlertList(items=active[:limit])
    s, e = time_range(start, end, 7 * 86_400_000)
    return AlertList(items=await alert_history(c.db, c.site.site.id, s, e, limit))


@router.post(
    "/{kind}/{subject}/ack",
    status_code=202,
    response_model=Accepted,
    dependencies=[Depends(need("staff"))],
    responses={404: {"model": ErrorBody}, 503: {"model": ErrorBody}},
)
async def acknowledge(request: Request, kind: str, subject: str, body: AckRequest) -> Accepted:
    """Acknowledge an active alert: someone is on it. The collector records
    who and when; the alert's new state arrives on the live stream."""
    c = ctx(request)
    if kind not in ALERT_KINDS:
        raise ApiError(404, "not_found", f"unknown alert kind {kind[:64]!r}")
    current = c.bridge.alerts.get((kind, subject))
    if current is None or current.state == "cleared":
        raise ApiError(404, "not_found", f"no active {kind} alert for {subject[:64]!r}")
    try:
        await c.bridge.acknowledge(kind, subject, body.by, body.note)
    except BrokerUnavailable as exc:
        raise ApiError(503, "broker_unavailable", str(exc)) from exc
    return Accepted(status="accepted")

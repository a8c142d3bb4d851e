"""Calibration from the API: the request goes to the collector (the only
writer of tares and unit weights), which samples the bin's current stable
reading, applies it from then on, records who and when, and answers."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from gudang.api.auth import ApiError, need
from gudang.api.bridge import BrokerUnavailable
from gudang.api.context import ctx
from gudang.api.models import CalibrationRequest, CalibrationResponse, ErrorBody

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1/bins",
    tags=["admin"],
    dependencies=[Depends(need("admin"))],
    responses={
        404: {"model": ErrorBody},
        409: {"model": ErrorBody, "description": "the collector refused (e.g. no stable reading)"},
        503: {"model": ErrorBody, "description": "the broker or the collector did not answer"},
    },
)


async def _calibrate(
    request: Request, bin_id: str, op: str, body: CalibrationRequest
) -> CalibrationResponse:
    c = ctx(request)
    if not any(b.id == bin_id for b in c.site.bins):
        raise ApiError(404, "not_found", f"unknown bin {bin_id[:64]!r}")
    try:
        result = await c.bridge.calibrate(bin_id, op, body.by, body.pieces)
    except BrokerUnavailable as exc:
        raise ApiError(503, "collector_unavailable", str(exc)) from exc
    if not result.ok or result.value is None:
        raise ApiError(409, "calibration_refused", result.error or "refused")
    return CalibrationResponse(bin=bin_id, op=result.op, value=result.value,
                               previous=result.previous)  # fmt: skip


@router.post("/{bin_id}/tare", response_model=CalibrationResponse)
async def tare(request: Request, bin_id: str, body: CalibrationRequest) -> CalibrationResponse:
    """The load on the scale now becomes the bin's tare: do it with the bin empty."""
    return await _calibrate(request, bin_id, "tare", body)


@router.post("/{bin_id}/unit-weight", response_model=CalibrationResponse)
async def unit_weight(
    request: Request, bin_id: str, body: CalibrationRequest
) -> CalibrationResponse:
    """Exactly `pieces` pieces (or metres) are in the bin now: their net weight
    divided by `pieces` becomes the SKU's unit weight."""
    if body.pieces is None:
        raise ApiError(422, "invalid_request", "pieces: required for a unit weight")
    return await _calibrate(request, bin_id, "unit_weight", body)

"""Device sessions: one per device, chosen by protocol (one line each)."""

from __future__ import annotations

from gudang.edge.devices.base import DeviceSession, EdgeContext
from gudang.edge.devices.rfid import Rdm6300Session, UhfM100Session
from gudang.edge.devices.scale import MtSicsSession, StreamScaleSession

from gudang.site import Device

__all__ = ["SESSIONS", "DeviceSession", "EdgeContext", "session_for"]

SESSIONS: dict[str, type[DeviceSession]] = {
    "ad-continuous": StreamScaleSession,
    "toledo-continuous": StreamScaleSession,
    "mt-sics": MtSicsSession,
    "rdm6300": Rdm6300Session,
    "uhf-m100": UhfM100Session,
}


def session_for(device: Device, ctx: EdgeContext) -> DeviceSession:
    return SESSIONS[device.protocol](device, ctx)

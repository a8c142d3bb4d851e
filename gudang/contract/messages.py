"""Every MQTT payload, defined once. JSON, UTF-8; unknown fields are refused.

Device messages (readings, tag events) carry ``device_id``, ``boot_id`` (new
each time the publishing edge process starts) and ``seq`` (monotonic per
device and boot) so that a consumer can drop duplicates and order replays, and
``ts``, the time the value was read, which becomes the InfluxDB point time so
that a replayed message overwrites itself instead of counting twice.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gudang.contract.ids import EpochMillis, Ident

__all__ = [
    "SCHEMA_VERSION",
    "Alert",
    "AlertAck",
    "AlertKind",
    "AlertState",
    "Calibrate",
    "CalibrationResult",
    "Command",
    "CommandOp",
    "CommandReply",
    "DeadLetter",
    "DeviceMessage",
    "DeviceState",
    "DeviceStatus",
    "LocalizedText",
    "MassUnit",
    "TagEvent",
    "WeightReading",
]

SCHEMA_VERSION = 1

MassUnit = Literal["kg", "g", "t", "lb"]
BootId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
RequestId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = Field(default=1, description="Payload schema version.")


class DeviceMessage(_Message):
    """Fields every message about a device's data carries."""

    device_id: Ident = Field(description="The device's id from the site file.")
    boot_id: BootId = Field(description="New each time the publishing edge process starts.")
    seq: int = Field(ge=0, description="Monotonic per (device_id, boot_id), starting at 0.")
    ts: EpochMillis = Field(description="When the value was read: UTC epoch milliseconds.")


class WeightReading(DeviceMessage):
    """What a scale says, absolute, never a delta."""

    channel: int = Field(default=0, ge=0, le=63, description="Load-cell channel on the device.")
    weight: float | None = Field(
        description="The displayed weight in `unit`; null when `state` is a fault."
    )
    unit: MassUnit = Field(description="Unit of `weight` as the device reported it.")
    mode: Literal["gross", "net"] = Field(
        default="gross", description="Gross weight, or net of a tare held by the indicator."
    )
    stable: bool = Field(description="The indicator (or the edge's stabilizer) judged it stable.")
    state: Literal["ok", "overload", "underload"] = Field(
        default="ok", description="Out-of-range states are device faults, never stock."
    )
    reason: Literal["change", "heartbeat"] = Field(
        description="`change`: a stable value moved beyond the deadband; `heartbeat`: periodic."
    )

    @field_validator("weight")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("weight must be a finite number")
        return value


class TagEvent(DeviceMessage):
    """An RFID tag arrived in or departed from an antenna's field."""

    antenna: int = Field(default=0, ge=0, le=63)
    tag: Annotated[str, Field(pattern=r"^[0-9A-F]{8,64}$")] = Field(
        description="Tag id as upper-case hex (EM4100: 10 digits; EPC: 24 or more)."
    )
    event: Literal["arrived", "departed"]
    rssi: float | None = Field(default=None, description="dBm, where the reader reports it.")


DeviceState = Literal["online", "offline", "disconnected"]


class DeviceStatus(_Message):
    """Retained birth / last-will of an edge process or of one device behind it."""

    subject: Literal["edge", "device"]
    id: Ident = Field(description="The edge id or the device id.")
    state: DeviceState = Field(
        description="`online`; `offline` (last will: the edge is gone); "
        "`disconnected` (the edge runs but cannot reach the device)."
    )
    boot_id: BootId | None = None
    ts: EpochMillis | None = Field(default=None, description="When the state began.")
    protocol: str | None = None
    firmware: str | None = Field(default=None, description="gudang version, or device firmware.")
    counters: dict[str, int] = Field(
        default_factory=dict,
        description="Health counters: frames_ok, frames_bad, resyncs, reconnects, "
        "published, outbox_depth...",
    )


CommandOp = Literal["tare", "zero", "reread"]


class Command(_Message):
    """A request to a device, answered by exactly one CommandReply with the same `id`."""

    id: RequestId
    op: CommandOp
    ts: EpochMillis
    issued_by: str | None = Field(default=None, max_length=128)


class CommandReply(_Message):
    id: RequestId = Field(description="The `id` of the command answered.")
    device_id: Ident
    ok: bool
    result: str | None = Field(default=None, max_length=512)
    error: str | None = Field(default=None, max_length=512)
    ts: EpochMillis


AlertKind = Literal[
    "low_stock", "reorder_point", "device_offline", "scale_fault", "movement_anomaly"
]
ALERT_KINDS: frozenset[str] = frozenset(AlertKind.__args__)  # type: ignore[attr-defined]
AlertState = Literal["raised", "acknowledged", "cleared"]


class LocalizedText(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Bahasa Indonesia.")
    en: str = Field(description="English.")


class Alert(_Message):
    """One alert per (kind, subject); retained so a new subscriber sees the active set."""

    kind: AlertKind
    subject: Ident = Field(
        description="SKU id for stock alerts, device id for device alerts, bin id for anomalies."
    )
    state: AlertState
    raised_at: EpochMillis
    updated_at: EpochMillis
    value: float | None = Field(default=None, description="The quantity that triggered it.")
    text: LocalizedText
    acknowledged_by: str | None = Field(default=None, max_length=128)
    note: str | None = Field(default=None, max_length=1024)


class AlertAck(_Message):
    """Acknowledge the active alert of a (kind, subject): someone is on it."""

    by: str = Field(min_length=1, max_length=128, description="Who acknowledges.")
    note: str | None = Field(default=None, max_length=1024)
    ts: EpochMillis


class Calibrate(_Message):
    """Calibrate a bin from its current stable reading, from now on.

    ``tare``: the load now on the scale becomes the bin's tare (do it empty).
    ``unit_weight``: exactly ``pieces`` pieces (or metres) lie in the bin now;
    their net weight / pieces becomes the SKU's unit weight (>= 10 pieces).
    """

    id: RequestId
    op: Literal["tare", "unit_weight"]
    pieces: int | None = Field(default=None, ge=1, le=100_000)
    by: str = Field(min_length=1, max_length=128)
    ts: EpochMillis


class CalibrationResult(_Message):
    id: RequestId = Field(description="The `id` of the request answered.")
    bin: Ident
    op: Literal["tare", "unit_weight"]
    ok: bool
    value: float | None = Field(default=None, description="New tare kg, or kg per unit.")
    previous: float | None = None
    error: str | None = Field(default=None, max_length=512)
    ts: EpochMillis


class SkuUpdate(_Message):
    """Change a SKU's alert thresholds and order quantities, from now on.
    Only the fields given change; the result is the SKU's new `SkuSettings`."""

    id: RequestId
    minimum: float | None = Field(default=None, ge=0)
    reorder_point: float | None = Field(default=None, ge=0)
    reorder_quantity: float | None = Field(default=None, gt=0)
    target: float | None = Field(default=None, ge=0)
    by: str = Field(min_length=1, max_length=128)
    ts: EpochMillis


class SkuSettings(_Message):
    """A SKU's effective settings (site file + changes made at run time),
    retained: a new subscriber sees the current ones."""

    sku: Ident
    unit_weight_kg: float | None
    minimum: float
    reorder_point: float
    reorder_quantity: float
    target: float | None
    updated_at: EpochMillis | None = Field(description="Last change at run time, if any.")
    updated_by: str | None = None
    request: RequestId | None = Field(
        default=None, description="The `SkuUpdate` this answers (the latest one)."
    )
    error: str | None = Field(
        default=None,
        max_length=512,
        description="Why that request was refused; the values are the effective ones either way.",
    )


class DeadLetter(_Message):
    """A message a component could not accept, with the reason; ingest goes on."""

    component: Literal["edge", "collector", "api"]
    topic: str
    reason: str = Field(max_length=2048)
    payload: str = Field(description="The payload as text (invalid UTF-8 replaced), truncated.")
    payload_size: int = Field(ge=0, description="Size of the original payload in bytes.")
    received_at: EpochMillis

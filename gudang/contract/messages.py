"""Every MQTT payload, defined once. JSON, UTF-8; unknown fields are refused.

Device messages (readings, tag events) carry ``device_id``, ``boot_id`` (new
each time the publishing edge process starts) and ``seq`` (monotonic per
device and boot) so that a consumer can drop duplicates and order replays, and
``ts``, the time the value was read, which becomes the InfluxDB point time so
that a replayed message overwrites itself instead of counting twice.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeGuard

from pydantic import BaseModel, ConfigDict, Field

from gudang.contract.ids import Count, EpochMillis, Ident, Label, Real
from gudang.contract.units import MassUnit

__all__ = [
    "MAX_MESSAGE_BYTES",
    "SCHEMA_VERSION",
    "SKU_SETTINGS",
    "SKU_TERMS",
    "Acknowledgement",
    "Alert",
    "AlertAck",
    "AlertKind",
    "AlertState",
    "Calibrate",
    "CalibrationResult",
    "Command",
    "CommandOp",
    "CommandReply",
    "Confirmation",
    "DeadLetter",
    "DeadLetterCode",
    "DeviceMessage",
    "DeviceReason",
    "DeviceState",
    "DeviceStatus",
    "LocalizedText",
    "MassUnit",
    "Partitioning",
    "TagEvent",
    "WeightReading",
    "is_alert_kind",
]

SCHEMA_VERSION = 1

MAX_MESSAGE_BYTES = 64 * 1024
"""No gudang message is larger (the largest, a dead letter, is under 16 KiB);
the shipped broker refuses bigger payloads (`message_size_limit`) and the edge
never queues one."""

BootId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
RequestId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Channel = Annotated[int, Field(ge=0, le=63, strict=True)]
NonNegative = Annotated[Real, Field(ge=0)]
Positive = Annotated[Real, Field(gt=0)]
Name = Annotated[str, Field(max_length=128)]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = Field(default=1, description="Payload schema version.")


class DeviceMessage(_Message):
    """Fields every message about a device's data carries."""

    device_id: Ident = Field(description="The device's id from the site file.")
    boot_id: BootId = Field(description="New each time the publishing edge process starts.")
    seq: Count = Field(description="Monotonic per (device_id, boot_id), starting at 0.")
    ts: EpochMillis = Field(description="When the value was read: UTC epoch milliseconds.")


class WeightReading(DeviceMessage):
    """What a scale says, absolute, never a delta."""

    channel: Channel = Field(default=0, description="Load-cell channel on the device.")
    weight: Real | None = Field(
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
        description="`change`: a settled plateau moved beyond the deadband and the scale's "
        "noise; `heartbeat`: periodic, repeating the current plateau (or the latest sample "
        "while the scale is in motion or settling)."
    )
    samples: Annotated[int, Field(ge=1, le=1_000_000, strict=True)] = Field(
        default=1,
        description="How many stable samples `weight` is the mean of (a settled plateau); "
        "1 for a single sample.",
    )
    spread: NonNegative | None = Field(
        default=None, description="Standard deviation of those samples, in `unit`."
    )
    noise: NonNegative | None = Field(
        default=None,
        description="The scale's sample noise (standard deviation) as the edge has learned "
        "it from settled plateaus, in `unit`: the collector judges a movement against it.",
    )


class TagEvent(DeviceMessage):
    """An RFID tag arrived in or departed from an antenna's field."""

    antenna: Channel = 0
    tag: Annotated[str, Field(pattern=r"^[0-9A-F]{8,64}$")] = Field(
        description="Tag id as upper-case hex (EM4100: 10 digits; EPC: 24 or more)."
    )
    event: Literal["arrived", "departed"]
    rssi: Real | None = Field(default=None, description="dBm, where the reader reports it.")


class Confirmation(_Message):
    """The collector has these messages of one (device, boot) durably (in
    InfluxDB or its spool): the edge may forget them. Sent again whenever a
    copy arrives, so a lost confirmation costs a re-send, never a message."""

    device_id: Ident
    boot_id: BootId
    ranges: list[tuple[Count, Count]] = Field(
        max_length=64,
        description="Inclusive seq ranges [first, last], ascending; the newest ones when "
        "there are more than 64 (after gaps).",
    )
    ts: EpochMillis


DeviceState = Literal["online", "offline", "disconnected", "connecting", "unreadable"]
DeviceReason = Literal[
    "port_unavailable",
    "link_lost",
    "silent",
    "unanswered",
    "no_valid_frames",
    "waiting_for_frames",
    "internal_error",
    "stopped",
    "connection_lost",
]
"""Why a device or edge is not `online` (docs/edge.md has the table)."""


class Partitioning(BaseModel):
    """Which static partition a collector member handles (gudang partitions)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    member: int = Field(ge=0, le=999)
    members: int = Field(ge=1, le=1000)
    revision: str = Field(
        pattern=r"^[0-9a-f]{16}$", description="Of the site's groups: members must agree on it."
    )


class DeviceStatus(_Message):
    """Retained birth / last-will of an edge process, of one device behind it,
    or of a collector (member)."""

    subject: Literal["edge", "device", "collector"]
    id: Ident = Field(description="The edge id, the device id, or the collector member.")
    state: DeviceState = Field(
        description="`online`; `offline` (last will: the edge is gone); "
        "`disconnected` (the edge runs but cannot reach the device); `connecting` (the "
        "port is open, no valid frame yet); `unreadable` (bytes arrive but none decodes)."
    )
    reason: DeviceReason | None = Field(
        default=None, description="Why the state is not `online` (always set then)."
    )
    detail: str | None = Field(
        default=None, max_length=512, description="The reason in words, with the figures."
    )
    noise_kg: NonNegative | None = Field(
        default=None,
        description="A scale's learned sample noise (standard deviation), in kg.",
    )
    plateau_samples: Count | None = Field(
        default=None,
        description="A scale: the most stable samples behind one of its recent plateaus "
        "(the edge averages longer on a noisy scale).",
    )
    max_plateau_samples: Count | None = Field(
        default=None,
        description="A scale: the most samples the edge averages into one plateau "
        "(its sample rate x settle_max_s): what its counting precision is judged on.",
    )
    edge: Ident | None = Field(
        default=None,
        description="For a device: the edge that reads it. When given, it must be the "
        "device's edge in the site file.",
    )
    boot_id: BootId | None = None
    partition: Partitioning | None = Field(
        default=None, description="A collector member on a static partition: which."
    )
    ts: EpochMillis | None = Field(default=None, description="When the state began.")
    protocol: Name | None = None
    firmware: Name | None = Field(default=None, description="gudang version, or device firmware.")
    counters: dict[Label, Count] = Field(
        default_factory=dict,
        max_length=64,
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
    "low_stock",
    "reorder_point",
    "device_offline",
    "scale_fault",
    "movement_anomaly",
    "clock_ahead",
    "stockout_projected",
]
ALERT_KINDS: frozenset[str] = frozenset(AlertKind.__args__)  # type: ignore[attr-defined]


def is_alert_kind(name: str) -> TypeGuard[AlertKind]:
    return name in ALERT_KINDS


AlertState = Literal["raised", "acknowledged", "cleared"]


class LocalizedText(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(max_length=1024, description="Bahasa Indonesia.")
    en: str = Field(max_length=1024, description="English.")


class Acknowledgement(BaseModel):
    """One acknowledgement of an alert: who, when, and what they said."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    by: str = Field(min_length=1, max_length=128)
    note: str | None = Field(default=None, max_length=1024)
    ts: EpochMillis


MAX_ACKNOWLEDGEMENTS = 20  # an alert's history; older ones are in InfluxDB's `alert` points


class Alert(_Message):
    """One alert per (kind, subject); retained so a new subscriber sees the active set."""

    kind: AlertKind
    subject: Ident = Field(
        description="SKU id for stock alerts, device id for device alerts, bin id for anomalies."
    )
    state: AlertState
    raised_at: EpochMillis
    updated_at: EpochMillis
    value: Real | None = Field(default=None, description="The quantity that triggered it.")
    text: LocalizedText
    acknowledged_by: str | None = Field(
        default=None, max_length=128, description="Who acknowledged it last."
    )
    note: str | None = Field(default=None, max_length=1024, description="Their note.")
    acknowledgements: list[Acknowledgement] = Field(
        default_factory=list,
        max_length=MAX_ACKNOWLEDGEMENTS,
        description="Every acknowledgement since it was raised, oldest first (the last "
        f"{MAX_ACKNOWLEDGEMENTS}).",
    )


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
    pieces: Annotated[int, Field(ge=1, le=100_000, strict=True)] | None = None
    by: str = Field(min_length=1, max_length=128)
    ts: EpochMillis


class CalibrationResult(_Message):
    id: RequestId = Field(description="The `id` of the request answered.")
    bin: Ident
    op: Literal["tare", "unit_weight"]
    ok: bool
    value: Real | None = Field(default=None, description="New tare kg, or kg per unit.")
    previous: Real | None = None
    error: str | None = Field(default=None, max_length=512)
    ts: EpochMillis


# A SKU's settings that can change at run time (SkuUpdate), by name: one list
# for the contract, the collector that keeps them and the API that shows them.
# The replenishment terms among them: null in SkuSettings when the SKU has none
# of its own (its group's or the site's apply).
SKU_TERMS = ("lead_time_days", "service_level", "review_days")
SKU_SETTINGS = ("minimum", "reorder_point", "reorder_quantity", "target", *SKU_TERMS)
LeadTimeDays = Annotated[float, Field(gt=0, le=365, allow_inf_nan=False)]
ServiceLevel = Annotated[float, Field(ge=0.5, le=0.999, allow_inf_nan=False)]


class SkuUpdate(_Message):
    """Change a SKU's alert thresholds, order quantities and replenishment
    terms, from now on. Only the fields given change; the result is the SKU's
    new `SkuSettings`."""

    id: RequestId
    minimum: NonNegative | None = None
    reorder_point: NonNegative | None = None
    reorder_quantity: Positive | None = None
    target: NonNegative | None = None
    lead_time_days: LeadTimeDays | None = None
    service_level: ServiceLevel | None = None
    review_days: LeadTimeDays | None = None
    by: str = Field(min_length=1, max_length=128)
    ts: EpochMillis


class SkuSettings(_Message):
    """A SKU's effective settings (site file + changes made at run time),
    retained: a new subscriber sees the current ones."""

    sku: Ident
    unit_weight_kg: Real | None
    minimum: Real
    reorder_point: Real
    reorder_quantity: Real
    target: Real | None
    lead_time_days: Real | None = Field(
        default=None, description="The SKU's own (null: its group's or the site's)."
    )
    service_level: Real | None = None
    review_days: Real | None = None
    updated_at: EpochMillis | None = Field(description="Last change at run time, if any.")
    updated_by: Name | None = None
    request: RequestId | None = Field(
        default=None, description="The `SkuUpdate` this answers (the latest one)."
    )
    error: str | None = Field(
        default=None,
        max_length=512,
        description="Why that request was refused; the values are the effective ones either way.",
    )


DeadLetterCode = Literal[
    "too_large",
    "unknown_topic",
    "wrong_site",
    "invalid",
    "identity_mismatch",
    "unknown_device",
    "wrong_device_kind",
    "not_owner",
    "implausible",
    "clock_ahead",
    "internal_error",
]
"""Why a message was refused; the table in docs/collector.md says what each means."""


class DeadLetter(_Message):
    """A message a component could not accept, with the reason; ingest goes on."""

    component: Literal["edge", "collector", "api"]
    code: DeadLetterCode = Field(description="Why, as a stable code to count and filter by.")
    topic: str = Field(max_length=512, description="The topic it came on (truncated).")
    reason: str = Field(max_length=2048, description="Why, in words, with the details.")
    payload: str = Field(
        max_length=2048, description="The payload as text (invalid UTF-8 replaced), truncated."
    )
    payload_size: Count = Field(description="Size of the original payload in bytes.")
    received_at: EpochMillis

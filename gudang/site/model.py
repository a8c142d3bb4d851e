"""The site file: devices, SKUs, bins and RFID tags of one warehouse.

Pydantic validates each entry; ``Site.problems()`` adds the checks that span
entries (unique ids, references, thresholds), each with its own field path so
that the loader can point at the right line.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Generic, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from gudang.contract.ids import Ident
from gudang.contract.messages import AlertKind
from gudang.contract.vocab import DeviceKind, SkuUnit
from gudang.replenishment import Calendar, Policy
from gudang.site.counting import resolution
from gudang.site.rounding import Rounding

__all__ = [
    "PROTOCOLS",
    "WEEKDAYS",
    "Bin",
    "Device",
    "Entries",
    "Ingest",
    "LineSettings",
    "Loc",
    "Replenishment",
    "ReplenishmentGroup",
    "Site",
    "SiteInfo",
    "Sku",
    "Tag",
    "UnitName",
    "cross_problems",
]

Loc = tuple[str | int, ...]
E = TypeVar("E")

Protocol = Literal["ad-continuous", "mt-sics", "toledo-continuous", "rdm6300", "uhf-m100"]
PROTOCOLS: dict[str, DeviceKind] = {
    "ad-continuous": "scale",
    "mt-sics": "scale",
    "toledo-continuous": "scale",
    "rdm6300": "rfid",
    "uhf-m100": "rfid",
}
_SOCKET = re.compile(r"^socket://(?P<host>[^:/]+):(?P<port>\d{1,5})$")
PositiveKg = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SiteInfo(_Strict):
    id: Ident
    name: str = Field(min_length=1, max_length=200)
    timezone: str = Field(
        default="Asia/Jakarta", max_length=64,
        description="IANA time zone: working days and dates are local.",
    )  # fmt: skip
    language: Literal["id", "en"] = "id"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_+\-/]+", value):  # an IANA name: it goes into InfluxQL
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Jakarta)")
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Jakarta)") from exc
        return value


class LineSettings(_Strict):
    baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 9600
    bytesize: Literal[7, 8] = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1


class Device(_Strict):
    id: Ident
    protocol: Protocol
    port: str = Field(
        min_length=1,
        description="A serial device path (prefer /dev/serial/by-id/...) or socket://host:port.",
    )
    line: LineSettings = LineSettings()
    edge: Ident = Field(default="edge-1", description="Which edge process reads this device.")
    division_kg: PositiveKg = Field(
        default=0.01, description="Display division of a scale, for deadband and motion band."
    )
    poll_interval_s: float = Field(
        default=0.25, gt=0, le=60, description="mt-sics, uhf-m100: time between polls."
    )
    checksum: bool = Field(default=True, description="toledo-continuous: frames end in a checksum.")
    stability: Literal["indicator", "detect"] = Field(
        default="indicator",
        description="Trust the indicator's stable flag, or detect stability from a window "
        "(always detected for formats that carry no flag).",
    )
    stable_window_s: float = Field(default=1.0, gt=0, le=30)
    stuck_after_s: float | None = Field(
        default=None,
        gt=0,
        le=90 * 86400,
        description="Scale: raise a scale fault when the weight has not changed at all for "
        "this long (a frozen indicator or a cut cable repeating its last value). Off by "
        "default: a bin nobody touches reads the same too; set it above the longest quiet "
        "spell, e.g. 259200 (3 days) for a bin picked from daily.",
    )
    motion_band_divisions: float = Field(default=2.0, ge=0, le=100)
    settle_s: float = Field(
        default=1.0,
        ge=0,
        le=60,
        allow_inf_nan=False,
        description="Scale: stable samples are averaged at least this long before a plateau "
        "is published (longer on a noisy scale, until one piece of its finest SKU stands out).",
    )
    settle_max_s: float = Field(
        default=8.0,
        ge=0,
        le=120,
        allow_inf_nan=False,
        description="Scale: a plateau is published after this long however noisy the scale.",
    )
    arrive_reads: int = Field(default=2, ge=1, le=100, description="RFID: reads before arrived.")
    bay: Ident | None = Field(
        default=None, description="RFID: the rack this reader watches (movement attribution)."
    )
    attribution_window_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="RFID: a movement at the bay records the tags that arrived there within "
        "this many seconds of it.",
    )
    depart_after_s: float | None = Field(
        default=None,
        gt=0,
        le=600,
        description="RFID: silence before departed; default 0.3 s (rdm6300), 3 s (uhf-m100).",
    )

    @model_validator(mode="after")
    def _settle(self) -> Device:
        if self.settle_max_s < self.settle_s:
            raise ValueError("settle_max_s must be at least settle_s")
        return self

    @field_validator("port")
    @classmethod
    def _port(cls, value: str) -> str:
        if "://" in value:
            m = _SOCKET.match(value)
            if not m or not 0 < int(m["port"]) < 65536:
                raise ValueError("a network port must look like socket://host:port")
        elif any(c.isspace() for c in value):
            raise ValueError("a serial device path must not contain white space")
        return value

    @property
    def kind(self) -> DeviceKind:
        return PROTOCOLS[self.protocol]


class UnitName(_Strict):
    """What one unit of a SKU is called: "lembar" / "sheets", "batang" / "bars"."""

    id: str = Field(min_length=1, max_length=32, description="Bahasa Indonesia.")
    en: str = Field(min_length=1, max_length=32, description="English.")


_UNIT_NAMES = {
    "pcs": UnitName(id="buah", en="pcs"),
    "m": UnitName(id="m", en="m"),
    "kg": UnitName(id="kg", en="kg"),
}


class Sku(_Strict):
    id: Ident
    name: str = Field(min_length=1, max_length=200)
    grade: str | None = Field(default=None, max_length=100)
    group: Ident = Field(default="default", description="For routing notifications.")
    unit: SkuUnit
    unit_name: UnitName | None = Field(
        default=None,
        description="What a unit is called where quantities are shown; default: buah / pcs, m, kg.",
    )
    unit_weight_kg: PositiveKg | None = Field(
        default=None, description="kg per piece (unit pcs) or per metre (unit m)."
    )
    minimum: NonNegative = Field(description="Low-stock alert at or below this quantity.")
    reorder_point: NonNegative = Field(description="Suggest reordering at or below this.")
    reorder_quantity: PositiveKg = Field(description="How much to order, in `unit`.")
    target: NonNegative | None = Field(
        default=None,
        description="Order up to this level (the suggestion is at least reorder_quantity).",
    )
    hysteresis: NonNegative | None = Field(
        default=None,
        description="A stock alert clears at threshold + hysteresis; default 10 % of the "
        "minimum (at least 1 for pcs).",
    )
    lead_time_days: LeadTime | None = Field(
        default=None,
        description="Working days from order to delivery (default: its group's, "
        "then replenishment.lead_time_days).",
    )
    service_level: ServiceLevel | None = None
    review_days: ReviewDays | None = None
    count_tolerance: float = Field(
        default=0.3,
        gt=0,
        lt=0.5,
        description="pcs: a change of delta/unit_weight within this of a whole number k "
        "is k pieces; anything else is an anomaly.",
    )

    @model_validator(mode="after")
    def _unit_weight(self) -> Sku:
        wrong = []  # every rule at once: one validator can raise only one error
        if self.unit != "kg" and self.unit_weight_kg is None:
            wrong.append(f"unit_weight_kg is required when unit is {self.unit!r}")
        if self.reorder_point < self.minimum:
            wrong.append(f"reorder_point ({self.reorder_point:g}) must be at least "
                         f"minimum ({self.minimum:g})")  # fmt: skip
        if self.target is not None and self.target <= self.reorder_point:
            wrong.append(f"target ({self.target:g}) must be above reorder_point "
                         f"({self.reorder_point:g})")  # fmt: skip
        if wrong:
            raise ValueError("; ".join(wrong))
        return self

    @property
    def alert_hysteresis(self) -> float:
        if self.hysteresis is not None:
            return self.hysteresis
        default = 0.1 * self.minimum
        return max(default, 1.0) if self.unit == "pcs" else default

    @property
    def display_unit(self) -> UnitName:
        return self.unit_name or _UNIT_NAMES[self.unit]

    def quantity(self, net_kg: float) -> float:
        """Net kilograms on the scale in this SKU's unit."""
        if self.unit == "kg":
            return net_kg
        assert self.unit_weight_kg is not None  # guaranteed by the validator
        return net_kg / self.unit_weight_kg


class Bin(_Strict):
    id: Ident
    rack: Ident
    device: Ident
    channel: int = Field(default=0, ge=0, le=63)
    sku: Ident
    tare_kg: NonNegative = Field(default=0.0, description="Weight on the scale with the bin empty.")
    capacity_kg: PositiveKg | None = None


class Tag(_Strict):
    id: Annotated[str, Field(pattern=r"^[0-9A-F]{8,64}$")]
    kind: Literal["bundle", "item", "person", "forklift"]
    label: str = Field(min_length=1, max_length=200)
    sku: Ident | None = None


AlertKindName = AlertKind


class Webhook(_Strict):
    url: str = Field(pattern=r"^https?://", description="Receives alert JSON by POST.")
    secret_env: str | None = Field(
        default=None,
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="Environment variable holding the HMAC-SHA256 key (never the key itself).",
    )
    kinds: list[AlertKindName] | None = Field(default=None, description="Default: every kind.")


class AppriseTarget(_Strict):
    urls_env: str = Field(
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="Environment variable with apprise URLs (they carry tokens), space separated.",
    )
    groups: list[Ident] | None = Field(default=None, description="SKU groups; default: all.")
    kinds: list[AlertKindName] | None = None
    language: Literal["id", "en"] = "id"


class Notifications(_Strict):
    dwell_s: float = Field(default=60.0, ge=0, le=86_400, description="Condition held this long.")
    offline_after_s: float = Field(
        default=120.0, gt=0, description="A scale silent this long is offline."
    )
    webhooks: list[Webhook] = Field(default_factory=list)
    apprise: list[AppriseTarget] = Field(default_factory=list)


LeadTime = Annotated[float, Field(gt=0, le=365, allow_inf_nan=False)]
ServiceLevel = Annotated[float, Field(ge=0.5, le=0.999, allow_inf_nan=False)]
ReviewDays = Annotated[float, Field(gt=0, le=365, allow_inf_nan=False)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _sunday() -> list[Weekday]:
    return ["sun"]


class ReplenishmentGroup(_Strict):
    """A supplier group's terms (SKUs by their `group`); a SKU's own win."""

    lead_time_days: LeadTime | None = None
    service_level: ServiceLevel | None = None
    review_days: ReviewDays | None = None


class Replenishment(_Strict):
    """How consumption is measured and what the suggestions aim for
    (docs/replenishment.md)."""

    window_days: int = Field(default=28, ge=7, le=365, description="Days of picks to measure.")
    half_life_days: float = Field(
        default=7.0, ge=0, le=365, allow_inf_nan=False,
        description="A day weighs half as much as one this many days newer (0: all alike).",
    )  # fmt: skip
    min_history_days: int = Field(
        default=7, ge=1, le=365, description="Working days observed before a rate is given."
    )
    lead_time_days: LeadTime = Field(default=7.0, description="Working days, order to delivery.")
    service_level: ServiceLevel = Field(
        default=0.95, description="Share of order cycles without a stock-out."
    )
    review_days: ReviewDays = Field(default=7.0, description="Working days between orders.")
    closed_weekdays: list[Weekday] = Field(default_factory=_sunday, max_length=6)
    closed_dates: list[date] = Field(default_factory=list, max_length=1000,
                                     description="Holidays, YYYY-MM-DD.")  # fmt: skip
    groups: dict[Ident, ReplenishmentGroup] = Field(default_factory=dict)


class Ingest(_Strict):
    max_clock_ahead_s: float = Field(
        default=120.0,
        ge=1,
        le=86_400,
        allow_inf_nan=False,
        description="A message stamped more than this ahead of the collector's clock is "
        "refused (dead letter `clock_ahead`) and raises a `clock_ahead` alert for its device: "
        "a device clock must never make a future level the newest.",
    )


class Site(_Strict):
    _bins_by_device: dict[str, list[Bin]] = PrivateAttr(default_factory=dict)
    _bins_by_sku: dict[str, list[Bin]] = PrivateAttr(default_factory=dict)
    _devices: dict[str, Device] = PrivateAttr(default_factory=dict)
    _skus: dict[str, Sku] = PrivateAttr(default_factory=dict)
    _bins: dict[str, Bin] = PrivateAttr(default_factory=dict)
    _warnings: list[Any] = PrivateAttr(default_factory=list)  # ConfigProblem, set by the loader
    _device_kinds: dict[str, DeviceKind] = PrivateAttr(default_factory=dict)
    _calendar: Calendar | None = PrivateAttr(default=None)
    _roundings: dict[tuple[str, str, float | None, float], Rounding] = PrivateAttr(
        default_factory=dict
    )

    site: SiteInfo
    devices: list[Device] = Field(default_factory=list)
    skus: list[Sku] = Field(default_factory=list)
    bins: list[Bin] = Field(default_factory=list)
    tags: list[Tag] = Field(default_factory=list)
    alerts: Notifications = Notifications()
    ingest: Ingest = Ingest()
    replenishment: Replenishment = Replenishment()

    def problems(self) -> list[tuple[Loc, str]]:
        """Checks that span entries; empty when the site is consistent."""
        found = cross_problems(
            Entries.of(self.devices), Entries.of(self.skus), Entries.of(self.bins),
            Entries.of(self.tags),
        )  # fmt: skip
        groups = {k.group for k in self.skus}
        for name in self.replenishment.groups:
            if name not in groups:
                found.append((("replenishment", "groups", name), f"no SKU is in group {name!r}"))
        return found

    def counting_warnings(
        self, noise: Mapping[str, tuple[float, int]] | None = None
    ) -> list[tuple[Loc, str]]:
        """Bins whose scale cannot count their SKU's single pieces (or, for
        metres, short lengths) reliably: by the display division, or by the
        measured `noise` (device -> (noise kg, samples per plateau)) where known."""
        found: list[tuple[Loc, str]] = []
        for i, b in enumerate(self.bins):
            dev, sku = self._devices.get(b.device), self._skus.get(b.sku)
            if dev is None or sku is None or sku.unit_weight_kg is None:
                continue
            measured = (noise or {}).get(dev.id)
            noise_kg, samples = measured if measured is not None else (None, 1)
            need = resolution(dev.division_kg, noise_kg, samples)
            by = (
                f"the scale's noise is {noise_kg:.3g} kg ({need:.3g} kg on a plateau of "
                f"{samples} samples)"
                if noise_kg is not None and need > dev.division_kg
                else f"the scale's division is {dev.division_kg:g} kg"
            )
            if sku.unit == "pcs" and sku.unit_weight_kg * sku.count_tolerance < need:
                found.append((("bins", i, "sku"), f"{sku.id}: one piece is "
                              f"{sku.unit_weight_kg:g} kg, {by}: single-piece picks cannot "
                              f"be told apart (counting needs at least "
                              f"{need / sku.count_tolerance:.3g} kg a piece)"))  # fmt: skip
            elif sku.unit == "m" and sku.unit_weight_kg < need:
                found.append((("bins", i, "sku"), f"{sku.id}: one metre is "
                              f"{sku.unit_weight_kg:g} kg, {by}: movements under "
                              f"{need / sku.unit_weight_kg:.2g} m are not recorded"))  # fmt: skip
        return found

    @property
    def warnings(self) -> list[Any]:
        """What the loader found doubtful but not wrong (ConfigProblem, with lines)."""
        return list(self._warnings)

    def count_resolution_kg(self) -> dict[str, float]:
        """Scale -> the change (kg) that must stand out from its noise to count
        one piece of its finest SKU (a piece x its count tolerance)."""
        out: dict[str, float] = {}
        for b in self.bins:
            sku = self._skus.get(b.sku)
            if sku is not None and sku.unit == "pcs" and sku.unit_weight_kg is not None:
                need = sku.unit_weight_kg * sku.count_tolerance
                out[b.device] = min(need, out.get(b.device, need))
        return out

    def sku(self, sku_id: str) -> Sku:
        return self._skus[sku_id]

    @property
    def calendar(self) -> Calendar:
        if self._calendar is None:
            r = self.replenishment
            cal = Calendar(ZoneInfo(self.site.timezone),
                           frozenset(WEEKDAYS.index(d) for d in r.closed_weekdays),
                           frozenset(r.closed_dates))  # fmt: skip
            object.__setattr__(self, "_calendar", cal)
        assert self._calendar is not None
        return self._calendar

    def policy(self, sku: Sku) -> Policy:
        """`sku`'s replenishment terms: its own, else its group's, else the site's."""
        r = self.replenishment
        g = r.groups.get(sku.group, ReplenishmentGroup())
        return Policy(
            lead_time_days=sku.lead_time_days or g.lead_time_days or r.lead_time_days,
            service_level=sku.service_level or g.service_level or r.service_level,
            review_days=sku.review_days or g.review_days or r.review_days,
            window_days=r.window_days, half_life_days=r.half_life_days,
            min_history_days=r.min_history_days,
        )  # fmt: skip

    def rounding(self, sku: Sku) -> Rounding:
        """How `sku`'s quantities are shown (`sku` as calibrated: its unit
        weight may differ from the file's). Cached: the API asks per bin."""
        key = (sku.id, sku.unit, sku.unit_weight_kg, sku.count_tolerance)
        found = self._roundings.get(key)
        if found is None:
            divisions = [d.division_kg for b in self.bins_of_sku(sku.id)
                         if (d := self._devices.get(b.device)) is not None]  # fmt: skip
            found = Rounding.of(sku.unit, min(divisions, default=0.1), sku.unit_weight_kg,
                                sku.count_tolerance)  # fmt: skip
            if len(self._roundings) > 10_000:  # unit weights recalibrated many times
                self._roundings.clear()
            self._roundings[key] = found
        return found

    def find_sku(self, sku_id: str) -> Sku | None:
        return self._skus.get(sku_id)

    def bin(self, bin_id: str) -> Bin | None:
        return self._bins.get(bin_id)

    def bins_of(self, device_id: str) -> list[Bin]:
        return self._bins_by_device.get(device_id, [])

    def bins_of_sku(self, sku_id: str) -> list[Bin]:
        return self._bins_by_sku.get(sku_id, [])

    def device(self, device_id: str) -> Device | None:
        return self._devices.get(device_id)

    def device_kind(self, device_id: str) -> DeviceKind | None:
        return self._device_kinds.get(device_id)

    def model_post_init(self, __context: object) -> None:
        # Look-ups on the collector's hot path: built once, the model is frozen.
        by_device: dict[str, list[Bin]] = {}
        for b in self.bins:
            by_device.setdefault(b.device, []).append(b)
        object.__setattr__(self, "_bins_by_device", by_device)
        by_sku: dict[str, list[Bin]] = {}
        for b in self.bins:
            by_sku.setdefault(b.sku, []).append(b)
        object.__setattr__(self, "_bins_by_sku", by_sku)
        object.__setattr__(self, "_devices", {d.id: d for d in self.devices})
        object.__setattr__(self, "_device_kinds", {d.id: d.kind for d in self.devices})
        object.__setattr__(self, "_skus", {s.id: s for s in self.skus})
        object.__setattr__(self, "_bins", {b.id: b for b in self.bins})
        # In the instance's own dict, like the look-ups above: a PrivateAttr
        # left in __pydantic_private__ is read through pydantic's __getattr__,
        # about 1.5 us a time, and the alert monitor asks per reading.
        object.__setattr__(self, "_roundings", {})


@dataclass(frozen=True)
class Entries(Generic[E]):
    """One section of a site file for the checks across entries: every entry
    as written (a mapping, empty where it is not one) and those that
    validated, with their positions. Ids and references are read from what
    is written, so that a bin with a bad weight still has its SKU checked,
    and a reference to an entry with a problem of its own is not reported
    again as unknown."""

    raw: Sequence[Mapping[str, Any]]
    valid: list[tuple[int, E]]

    @classmethod
    def of(cls, models: list[E]) -> Entries[E]:
        raw = [m.model_dump() if isinstance(m, BaseModel) else {} for m in models]
        return cls(raw, list(enumerate(models)))

    def texts(self, field: str) -> list[str | None]:
        """`field` of each entry, where it is a string."""
        return [v if isinstance(v := r.get(field), str) else None for r in self.raw]


def cross_problems(
    devices: Entries[Device], skus: Entries[Sku], bins: Entries[Bin], tags: Entries[Tag]
) -> list[tuple[Loc, str]]:
    """Unique ids, references between sections, one bin per scale channel,
    one reader per port."""
    found: list[tuple[Loc, str]] = []
    for section, entries in (("devices", devices), ("skus", skus), ("bins", bins),
                             ("tags", tags)):  # fmt: skip
        ids = entries.texts("id")
        counts = Counter(i for i in ids if i is not None)
        for i, item_id in enumerate(ids):
            if item_id is not None and counts[item_id] > 1:
                found.append(((section, i, "id"), f"duplicate id {item_id!r}"))
    kinds = {d.id: d.kind for _, d in devices.valid}
    device_ids, sku_ids = set(devices.texts("id")), set(skus.texts("id"))
    for i, device in enumerate(bins.texts("device")):
        if device is not None and device not in device_ids:
            found.append((("bins", i, "device"), f"unknown device {device!r}"))
        elif device in kinds and kinds[device] != "scale":
            found.append((("bins", i, "device"), f"device {device!r} is not a scale"))
    for section, entries in (("bins", bins), ("tags", tags)):
        for i, sku in enumerate(entries.texts("sku")):
            if sku is not None and sku not in sku_ids:
                found.append(((section, i, "sku"), f"unknown SKU {sku!r}"))
    channels: Counter[tuple[str, int]] = Counter((b.device, b.channel) for _, b in bins.valid)
    for i, b in bins.valid:
        if channels[(b.device, b.channel)] > 1:
            found.append(
                (("bins", i, "channel"), f"{b.device} channel {b.channel} feeds several bins")
            )
    ports: dict[tuple[str, ...], str] = {}
    for i, d in devices.valid:
        key = _port_key(d)
        if key in ports:
            found.append((("devices", i, "port"), f"{d.port} is also the port of "
                          f"{ports[key]}: two readers split its stream"))  # fmt: skip
        else:
            ports[key] = d.id
    return found


def _port_key(d: Device) -> tuple[str, ...]:
    """Where a device's bytes come from: a network port is one wherever it is
    read from; a serial path is one per edge machine (symlinks resolved there)."""
    m = _SOCKET.match(d.port)
    if m:
        return ("socket", m["host"].lower(), str(int(m["port"])))
    return ("serial", d.edge, os.path.realpath(d.port) if os.path.exists(d.port) else d.port)

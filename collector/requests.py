"""The state changes the API asks the collector for: calibrating a bin (tare,
unit weight) and changing a SKU's thresholds. Each is answered on its result
topic and recorded in InfluxDB; the collector owns this state, so nothing else
may change it.

Pure apart from the calibration store it updates: every method returns what
to publish and write (`Outcome`); the service sends it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gudang import logs
from gudang.collector.alerts.monitor import AlertMonitor
from gudang.collector.calibration import Calibration, CalibrationError
from gudang.collector.engine import StockEngine
from gudang.contract import (
    Alert,
    Calibrate,
    CalibrationResult,
    SkuSettings,
    SkuUpdate,
    TopicKind,
    now_ms,
    topic,
)
from gudang.contract.messages import SKU_SETTINGS
from gudang.influx import FieldValue, line, series_key
from gudang.influx.schema import CALIBRATION
from gudang.site import Site

__all__ = ["Outcome", "Requests"]

log = logs.get("collector")


@dataclass
class Outcome:
    """What handling a request produced."""

    messages: list[tuple[str, bytes, bool]] = field(default_factory=list)  # topic, body, retain
    lines: list[str] = field(default_factory=list)  # InfluxDB line protocol
    alerts: list[Alert] = field(default_factory=list)  # transitions it caused


class Requests:
    def __init__(
        self, site: Site, calibration: Calibration, engine: StockEngine, alerts: AlertMonitor
    ) -> None:
        self.site = site
        self.site_id = site.site.id
        self.calibration = calibration
        self.engine = engine
        self.alerts = alerts

    def calibrate(self, bin_id: str, req: Calibrate) -> Outcome:
        out = Outcome()
        b = self.site.bin(bin_id)
        previous: float | None = None
        value: float | None = None
        error: str | None = None
        if b is None:
            error = f"unknown bin {bin_id!r}"
        else:
            latest = self.engine.latest(bin_id)
            gross = latest.gross_kg if latest else None
            net = latest.net_kg if latest else None
            try:
                if req.op == "tare":
                    value, previous = self.calibration.set_tare(bin_id, gross)
                else:
                    value, previous = self.calibration.set_unit_weight(b.sku, net, req.pieces)
                    self.engine.recalibrated(b.sku)
                    self.alerts.recompute(b.sku)
            except CalibrationError as exc:
                error = str(exc)
        result = CalibrationResult(
            id=req.id, bin=bin_id, op=req.op, ok=error is None, value=value,
            previous=previous, error=error, ts=now_ms(),
        )  # fmt: skip
        log.info("calibration", bin=bin_id, op=req.op, by=req.by, ok=result.ok, value=value,
                 previous=previous, error=error)  # fmt: skip
        name = topic(TopicKind.CALIBRATION_RESULT, self.site_id, bin_id=bin_id)
        out.messages.append((name, result.model_dump_json().encode(), False))
        if b is not None and value is not None and req.op == "unit_weight":
            out.messages.append(self.announce(b.sku))
        if b is not None and value is not None:
            fields: dict[str, FieldValue] = {"value": value, "by": req.by, "request": req.id}
            if previous is not None:
                fields["previous"] = float(previous)
            tags = {"site": self.site_id, "bin": bin_id, "sku": b.sku, "op": req.op}
            out.lines.append(line(series_key(CALIBRATION, tags), fields, result.ts))
        return out

    def announce(
        self, sku_id: str, request: str | None = None, error: str | None = None
    ) -> tuple[str, bytes, bool]:
        """The SKU's effective settings, to publish retained (the API shows them)."""
        sku = self.calibration.skus[sku_id]
        at, by = self.calibration.changed.get(sku_id, (None, None))
        settings = SkuSettings(
            sku=sku_id, unit_weight_kg=sku.unit_weight_kg,
            **{k: getattr(sku, k) for k in SKU_SETTINGS},
            updated_at=at, updated_by=by, request=request, error=error,
        )  # fmt: skip
        name = topic(TopicKind.SKU_SETTINGS, self.site_id, sku_id=sku_id)
        return name, settings.model_dump_json().encode(), True

    def update_sku(self, sku_id: str, req: SkuUpdate) -> Outcome:
        out = Outcome()
        changes = req.model_dump(include=set(SKU_SETTINGS), exclude_none=True)
        error = None
        try:
            self.calibration.set_settings(sku_id, changes, req.ts, req.by)
            out.alerts += self.alerts.settings_changed(sku_id, req.ts)
        except CalibrationError as exc:
            error = str(exc)
        log.info("sku_settings", sku=sku_id, by=req.by, changes=changes, ok=error is None,
                 error=error)  # fmt: skip
        if sku_id not in self.calibration.skus:
            return out  # nothing to announce for a SKU that does not exist
        out.messages.append(self.announce(sku_id, req.id, error))
        if error is None:
            fields: dict[str, FieldValue] = {"by": req.by, "request": req.id, **changes}
            tags = {"site": self.site_id, "sku": sku_id, "op": "settings"}
            out.lines.append(line(series_key(CALIBRATION, tags), fields, req.ts))
        return out

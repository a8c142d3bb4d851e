"""Which alerts the site is in: stock per SKU, scale faults, offline devices,
movement anomalies. Feeds ``AlertBook`` and keeps its state on disk."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gudang import logs
from gudang.collector.alerts import texts
from gudang.collector.alerts.rules import AlertBook, Condition
from gudang.collector.alerts.store import AlertStore, Staged
from gudang.collector.calibration import Calibration
from gudang.collector.engine import ReadingResult
from gudang.collector.movements import Movement
from gudang.contract import Alert, AlertAck, DeviceStatus, WeightReading, now_ms
from gudang.contract.messages import AlertKind
from gudang.replenishment import Forecast
from gudang.site import Bin, Site, Sku

__all__ = ["AlertMonitor"]

log = logs.get("collector.alerts")


NOISY_COUNT = 3
NOISY_WINDOW_MS = 600_000


@dataclass
class _Off:
    residual: float = 0.0  # sum of (pieces - nearest whole) over the bin's anomalies
    anomalies: int = 0  # since the bin was last fine
    recent: deque[int] = field(default_factory=lambda: deque(maxlen=NOISY_COUNT))


class AlertMonitor:
    def __init__(
        self,
        site: Site,
        calibration: Calibration,
        store_path: Path,
        clock: Callable[[], int] = now_ms,
        devices: set[str] | None = None,
    ) -> None:
        """`clock`: wall time in epoch ms, for the rules that run on it (device
        silence, offline statuses); stock and scale rules run on device time.
        `devices`: the ones this collector answers for (a partition member's;
        all when None): an edge's status speaks for these of its devices only,
        or two members would raise the same device's alert."""
        self.site = site
        self.clock = clock
        self.calibration = calibration  # its SKUs carry unit weights measured at run time
        cfg = site.alerts
        self.book = AlertBook(int(cfg.dwell_s * 1000))
        self.offline_after_ms = int(cfg.offline_after_s * 1000)
        self.store = AlertStore(store_path)
        self.book.restore(self.store.load())
        self._bins_of_sku: dict[str, list[Bin]] = {}
        for b in site.bins:
            self._bins_of_sku.setdefault(b.sku, []).append(b)
        self._last_seen: dict[str, int] = {}  # device -> wall ms of its last reading
        self._stuck_after_ms = {
            d.id: int(d.stuck_after_s * 1000) for d in site.devices if d.stuck_after_s
        }
        self._unchanged: dict[str, tuple[int, float]] = {}  # device -> (since ts, weight)
        self._bin_qty: dict[str, float] = {}  # each bin's newest quantity
        self._bin_ts: dict[str, int] = {}  # the device time of that level
        self._touched: dict[str, tuple[int, float]] = {}  # levels since the last stage
        self._sku_total: dict[str, float] = {}  # running sum, once every bin has spoken
        self._silent_bins: dict[str, set[str]] = {}  # SKU -> its bins not yet heard
        self._offline: dict[str, str] = {}  # device -> why, while its status says so
        self._own_state: dict[str, str] = {}  # device -> its own last status
        self._own_reason: dict[str, str | None] = {}
        self._edge_down: dict[str, str] = {}  # edge -> its state, while not online
        self._off: dict[str, _Off] = {}  # bin -> its anomalies, while its count is not whole
        self._devices_of_edge: dict[str, list[str]] = {}
        for d in site.devices:
            if devices is None or d.id in devices:
                self._devices_of_edge.setdefault(d.edge, []).append(d.id)
        self._restore_pending(self.store.pending())

    def _restore_pending(self, body: str) -> None:
        """Dwell timers and off bins as last committed (the state
        file is the collector's own; an unreadable document only costs the
        timers, which start again)."""
        try:
            doc = json.loads(body)
            self.book.restore_timers({k: [(a, b, int(t)) for a, b, t in doc.get(k, [])]
                                      for k in ("raise", "clear")})  # fmt: skip
            bins = {b.id for b in self.site.bins}
            for bin_id, (residual, anomalies, recent) in doc.get("off", {}).items():
                if bin_id in bins:
                    recent_ts = deque(map(int, recent), maxlen=NOISY_COUNT)
                    self._off[bin_id] = _Off(float(residual), int(anomalies), recent_ts)
        except (ValueError, TypeError, AttributeError) as exc:
            log.warning("alert_pending_unreadable", error=repr(exc))

    def _pending(self) -> str:
        timers = self.book.timers()
        off = {b: [o.residual, o.anomalies, list(o.recent)] for b, o in self._off.items()}
        if not (timers["raise"] or timers["clear"] or off):
            return "{}"
        return json.dumps({**timers, "off": off}, sort_keys=True)

    def resume(self, known: dict[str, tuple[int, float]]) -> None:
        """Each bin's level at start-up, so SKU totals are whole at once, as
        before a restart, instead of waiting for every bin to speak again. The
        level the alert state was last committed with wins over `known` (the
        engine's, from InfluxDB and the spool): InfluxDB may hold batches
        written but never acknowledged, which the broker sends again, and
        they must be judged from where the alert state stands. A bin heard
        since start keeps its own."""
        committed = self.store.levels()
        for b in self.site.bins:
            level = committed.get(b.id) or known.get(b.id)
            if level is None or b.id in self._bin_qty:
                continue
            self._bin_ts[b.id] = level[0]
            self._stock(b, level[1], level[0], judge=False)

    def _record(self, alert: Alert | None, out: list[Alert]) -> None:
        if alert is not None:
            self.store.save(alert)
            out.append(alert)

    # -- inputs ---------------------------------------------------------------

    def reading(self, r: WeightReading, result: ReadingResult) -> list[Alert]:
        """A reading and what the engine made of it (only a level newer than
        the bin's last one here changes stock: a late one is history, and
        evaluating it would go back in time)."""
        out: list[Alert] = []
        now = self._last_seen[r.device_id] = self.clock()
        # Most readings only confirm that all is well: skip what cannot change.
        if r.device_id not in self._offline and not self.book.idle("device_offline", r.device_id):
            self._record(
                self.book.observe(
                    "device_offline",
                    r.device_id,
                    "good",
                    now,
                    texts.offline(r.device_id, "online"),
                    dwell_ms=0,
                ),
                out,
            )
        stuck_s = self._stuck_for(r)
        fault: Condition | None = None
        if r.state != "ok" or stuck_s is not None:
            fault = "bad"
        elif r.stable and not self.book.idle("scale_fault", r.device_id):
            fault = "good"
        if fault is not None:
            text = texts.scale_fault(r.device_id, r.state, stuck_s)
            # A large pick swings the display out of range while it is in
            # motion: a fault seen only on unstable readings must last.
            dwell = None if fault == "bad" and not r.stable and stuck_s is None else 0
            self._record(
                self.book.observe("scale_fault", r.device_id, fault, r.ts, text, dwell_ms=dwell),
                out,
            )
        if self._off:  # time passing for a pending anomaly alert
            for b in self.site.bins_of(r.device_id):
                if b.id in self._off:
                    out += self._judge_bin(b, r.ts)
        for b, net_kg in result.levels:
            # The newest level of the bin as this monitor knows it (not the
            # engine's newest: after a restart the engine may know levels
            # from InfluxDB that are sent again, see resume()).
            if r.ts > self._bin_ts.get(b.id, -1):
                self._bin_ts[b.id] = r.ts
                self._touched[b.id] = (r.ts, net_kg)
                out += self._stock(b, net_kg, r.ts)
        if result.movements:
            out += self.movements(result.movements)
        return out

    def _stuck_for(self, r: WeightReading) -> float | None:
        """Seconds (device time) the weight has not changed, once past the
        device's ``stuck_after_s``; None otherwise or when the rule is off."""
        limit = self._stuck_after_ms.get(r.device_id)
        if limit is None or r.weight is None:
            return None
        since = self._unchanged.get(r.device_id)
        if since is None or since[1] != r.weight or r.ts < since[0]:
            self._unchanged[r.device_id] = (r.ts, r.weight)
            return None
        return (r.ts - since[0]) / 1000 if r.ts - since[0] >= limit else None

    def recompute(self, sku_id: str) -> None:
        """After a new unit weight: every bin of the SKU counts anew."""
        self._sku_total.pop(sku_id, None)
        self._silent_bins.pop(sku_id, None)
        for b in self._bins_of_sku.get(sku_id, []):
            self._bin_qty.pop(b.id, None)
            if b.id in self._off:
                self._off[b.id] = _Off()  # pieces of the old weight say nothing now

    def _stock(self, b: Bin, net_kg: float, ts: int, *, judge: bool = True) -> list[Alert]:
        """Keep each SKU's total up to date in O(1) per reading (a SKU may span
        hundreds of bins); evaluate its alerts once every bin has spoken."""
        sku_id = b.sku
        sku = self.calibration.skus[sku_id]
        qty = sku.quantity(net_kg)
        before = self._bin_qty.get(b.id)
        self._bin_qty[b.id] = qty
        if sku_id not in self._sku_total:
            silent = self._silent_bins.get(sku_id)
            if silent is None:
                silent = self._silent_bins[sku_id] = {x.id for x in self._bins_of_sku[sku_id]}
            silent.discard(b.id)
            if silent:
                return []  # not every bin has spoken yet (a set: O(1) per reading)
            del self._silent_bins[sku_id]
            self._sku_total[sku_id] = sum(self._bin_qty[x.id] for x in self._bins_of_sku[sku_id])
        else:
            self._sku_total[sku_id] += qty - (before if before is not None else 0.0)
        return self._judge(sku_id, ts) if judge else []

    def settings_changed(self, sku_id: str, ts: int) -> list[Alert]:
        """New thresholds: judge the SKU's current total against them now."""
        return self._judge(sku_id, ts) if sku_id in self._sku_total else []

    def _judge(self, sku_id: str, ts: int) -> list[Alert]:
        sku = self.calibration.skus[sku_id]
        total = self._sku_total[sku_id]
        out: list[Alert] = []
        checks: tuple[tuple[AlertKind, float], ...] = (
            ("low_stock", sku.minimum), ("reorder_point", sku.reorder_point),
        )  # fmt: skip
        for kind, threshold in checks:
            cond: Condition
            if total <= threshold:
                cond = "bad"
            elif self.book.idle(kind, sku_id):
                continue  # fine and nothing pending: most readings (this runs per reading)
            else:
                cond = "good" if total >= threshold + sku.alert_hysteresis else "between"
            r = self.site.rounding(sku)
            text = (texts.low_stock if kind == "low_stock" else texts.reorder_point)(sku, total, r)
            self._record(self.book.observe(kind, sku_id, cond, ts, text, r.qty(total)), out)
        return out

    def stock_of(self, sku_id: str) -> float | None:
        """The SKU's total now (None until every bin of it has spoken)."""
        return self._sku_total.get(sku_id)

    def projection(self, sku: Sku, f: Forecast, lead_days: float) -> list[Alert]:
        """`stockout_projected` while the shelf empties before an order placed
        now could arrive (days of cover < lead time); cleared once it lasts
        half a working day beyond it, or when there is no forecast. On the
        wall clock: consumption is measured per day, not per reading."""
        now = self.clock()
        out: list[Alert] = []
        urgency = f.urgency
        if urgency is None or f.days_of_cover is None or f.stockout_date is None:
            cond: Condition = "good"
        else:
            cond = "bad" if urgency < 0 else "good" if urgency >= 0.5 else "between"
        if cond != "bad" and self.book.idle("stockout_projected", sku.id):
            return out
        text = texts.stockout_projected(sku, f.days_of_cover, f.stockout_date, lead_days)
        value = None if f.days_of_cover is None else round(f.days_of_cover, 2)
        self._record(self.book.observe("stockout_projected", sku.id, cond, now, text, value), out)
        return out

    def movements(self, moves: list[tuple[Bin, Movement]]) -> list[Alert]:
        """Anomalies, grouped per bin. A bin is off while the pieces its
        anomalies add up to are not a whole number (half a bar taken; put
        back, it is whole again), or while it keeps having anomalies (at least
        ``NOISY_COUNT`` within ``NOISY_WINDOW_MS``: a noisy scale, even when
        the fractions happen to cancel). One alert per bin: raised once the
        bin has been off for the dwell, cleared once it has been fine for the
        dwell, however many anomalies happen meanwhile (the text counts them)."""
        out: list[Alert] = []
        for b, m in moves:
            if m.kind == "anomaly" and m.pieces_exact is not None:
                off = self._off.setdefault(b.id, _Off())
                off.residual += m.pieces_exact - round(m.pieces_exact)
                off.anomalies += 1
                off.recent.append(m.ts)
            elif b.id not in self._off:
                continue
            out += self._judge_bin(b, m.ts)
        return out

    def _judge_bin(self, b: Bin, ts: int) -> list[Alert]:
        out: list[Alert] = []
        off = self._off[b.id]
        sku = self.calibration.skus[b.sku]
        frac = off.residual - round(off.residual)
        window = max(NOISY_WINDOW_MS, self.book.dwell_ms)
        noisy = sum(1 for t in off.recent if ts - t < window) >= NOISY_COUNT
        whole = abs(frac) <= sku.count_tolerance
        cond: Condition = "bad" if not whole or noisy else "good"
        text = texts.anomaly(b.id, sku, None if whole else frac, off.anomalies)
        alert = self.book.observe("movement_anomaly", b.id, cond, ts, text, round(frac, 3))
        self._record(alert, out)
        if alert is not None and alert.state == "cleared":
            off.anomalies = 0  # a new alert counts its own
        quiet = not off.recent or ts - off.recent[-1] >= window
        if cond == "good" and quiet and self.book.idle("movement_anomaly", b.id):
            del self._off[b.id]  # whole, quiet, and no alert up: start afresh
        return out

    def status(self, s: DeviceStatus) -> list[Alert]:
        """A device or edge status. A device is offline while its own status
        says so or its edge's does; an edge coming back online clears only the
        devices whose own status is not disconnected (an unplugged scale stays
        unplugged however often its edge announces itself)."""
        if s.subject == "device":
            self._own_state[s.id] = s.state
            self._own_reason[s.id] = s.reason
            devices = [s.id]
        else:
            if s.state == "online":
                self._edge_down.pop(s.id, None)
            else:
                self._edge_down[s.id] = s.state
            devices = self._devices_of_edge.get(s.id, [])
        out: list[Alert] = []
        now = self.clock()
        for device in devices:
            if self.site.device(device) is None:
                continue
            why = self._why_offline(device)
            if why is None:
                self._offline.pop(device, None)
                if self.book.idle("device_offline", device):
                    continue
                text = texts.offline(device, "online")
                self._record(self.book.observe("device_offline", device, "good", now, text), out)
            else:
                self._offline[device] = why
                text = texts.offline(device, why)
                self._record(self.book.observe("device_offline", device, "bad", now, text), out)
        return out

    def _why_offline(self, device: str) -> str | None:
        dev = self.site.device(device)
        edge = dev.edge if dev is not None else None
        if edge is not None and edge in self._edge_down:
            return f"edge {edge} {self._edge_down[edge]}"
        own = self._own_state.get(device)
        if own is None or own == "online":
            return None
        why = self._own_reason.get(device)
        return f"{own}: {why}" if why else own

    def clock_ahead(self, device: str, ahead_ms: int, now: int) -> list[Alert]:
        """A message from `device` was refused: its clock is ahead by `ahead_ms`."""
        out: list[Alert] = []
        dev = self.site.device(device)
        edge = dev.edge if dev is not None else "edge"
        ahead_s = round(ahead_ms / 1000, 1)
        text = texts.clock_ahead(device, edge, ahead_s)
        alert = self.book.observe("clock_ahead", device, "bad", now, text, ahead_s, dwell_ms=0)
        self._record(alert, out)
        return out

    def clock_ok(self, device: str, now: int) -> list[Alert]:
        """A message from `device` was accepted: its clock is within the limit again."""
        out: list[Alert] = []
        if not self.book.idle("clock_ahead", device):
            text = texts.clock_ahead(device, "", 0.0)
            self._record(
                self.book.observe("clock_ahead", device, "good", now, text, 0.0, dwell_ms=0), out
            )
        return out

    def tick(self) -> list[Alert]:
        """Time passing: dwell timers of offline devices, and silent scales."""
        now = self.clock()
        out: list[Alert] = []
        for device, why in self._offline.items():
            self._record(
                self.book.observe("device_offline", device, "bad", now, texts.offline(device, why)),
                out,
            )
        for device, seen in self._last_seen.items():
            if device not in self._offline and now - seen > self.offline_after_ms:
                silent = f"silent for {(now - seen) // 1000} s"
                self._record(
                    self.book.observe(
                        "device_offline",
                        device,
                        "bad",
                        now,
                        texts.offline(device, silent),
                        dwell_ms=0,
                    ),
                    out,
                )
        return out

    def acknowledge(self, kind: AlertKind, subject: str, ack: AlertAck) -> list[Alert]:
        out: list[Alert] = []
        self._record(self.book.acknowledge(kind, subject, ack.by, ack.note, ack.ts), out)
        return out

    def current(self) -> list[Alert]:
        """The newest state of every (kind, subject), cleared ones included:
        what the broker's retained alert topics must say."""
        return self.store.latest()

    def stage(self) -> Staged:
        """The alert state as of now (transitions and what is pending), to
        commit once the readings behind it are durable (see store.py)."""
        self.store.save_pending(self._pending())
        staged = self.store.stage(self._touched)
        self._touched = {}
        return staged

    def commit(self, staged: Staged) -> None:
        self.store.commit(staged)

    def flush(self) -> None:
        """Stage and commit at once (tests, and at close)."""
        self.commit(self.stage())

    def close(self) -> None:
        self.store.close()

"""A seeded warehouse day on the simulator, in virtual time: how exactly are movements counted?

Dozens of bins on simulated indicators (A&D continuous and Toledo frames,
10 samples a second) with load-cell noise up to a given fraction of capacity,
slow drift, and motion after every pick and restock. The bytes go through the
edge's own decoders, stabiliser and plateau filter, the messages through the
collector's intake, stock engine and alert monitor: the code that runs in
production, in one process, with a virtual clock (an hour takes seconds).

Measured against the scenario's truth:

- **exact**: true movements of counted (pcs) bins recorded with the right
  number of pieces (half bars on the faulty bin: recorded as an anomaly of
  the right size);
- **spurious**: movements recorded where nothing happened;
- **alerts**: movement anomaly alerts per bin (only the faulty bin may have
  one), scale faults (none: motion swings past zero are not faults);
- **quiet bins**: readings each publishes a minute (heartbeats only);
- the noise each scale class measured, and the smallest unit weight it
  counts reliably (``gudang.site.counting``).
"""

from __future__ import annotations

import math
import random
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gudang.collector.alerts.monitor import AlertMonitor
from gudang.collector.calibration import Calibration
from gudang.collector.counting import CountingWatch
from gudang.collector.engine import StockEngine
from gudang.collector.intake import Accepted, Control, Intake
from gudang.collector.movements import Movement
from gudang.contract import Alert, DeviceStatus, WeightReading
from gudang.edge.devices import EdgeContext
from gudang.edge.devices.scale import StreamScaleSession
from gudang.edge.outgoing import Outgoing
from gudang.edge.protocols import ScaleFrame
from gudang.edge.registry import decoder_for
from gudang.sim.ad_continuous import encode_display
from gudang.sim.scale_model import LoadModel
from gudang.sim.toledo import encode_frame, with_even_parity
from gudang.site import Site
from gudang.site.counting import smallest_unit

__all__ = ["CLASSES", "AccuracyResult", "ScaleClass", "run_day"]

T0_MS = 1_785_000_000_000  # 2026-07-25, any fixed day
RATE_HZ = 10.0
HEARTBEAT_S = 30.0
# A pick before the edge has published a first level has nothing to be measured
# from (in production the collector starts from the level stored before).
FIRST_EVENT_S = 15.0


@dataclass(frozen=True)
class ScaleClass:
    name: str
    protocol: str
    capacity_kg: float
    division_kg: float
    unit_weight_kg: float
    tare_kg: float


# Scales and goods of a material center (the example site's kinds).
CLASSES = (
    ScaleClass("plate-3t", "ad-continuous", 3000, 0.1, 46.66, 85),
    ScaleClass("sheet-1t", "ad-continuous", 1000, 0.05, 8.02, 40),
    ScaleClass("pipe-1t", "ad-continuous", 1000, 0.05, 8.80, 32.5),
    ScaleClass("rebar-d13-2t", "toledo-continuous", 2000, 0.1, 12.48, 60),
    ScaleClass("rebar-d10-2t", "toledo-continuous", 2000, 0.1, 7.40, 60),
    ScaleClass("shaft-2t", "ad-continuous", 2000, 0.1, 14.80, 60),
)


@dataclass
class _Bin:
    id: str
    cls: ScaleClass
    model: LoadModel
    qty: float  # true pieces
    active: bool
    faulty: bool
    next_at: float
    truth: list[tuple[int, float]] = field(default_factory=list)  # (ms, pieces)


@dataclass
class AccuracyResult:
    noise: float  # fraction of capacity (standard deviation)
    minutes: float
    true_movements: int = 0
    exact: int = 0
    wrong: list[str] = field(default_factory=list)  # what was recorded instead
    missed: list[str] = field(default_factory=list)
    spurious: list[str] = field(default_factory=list)
    anomaly_alerts: Counter[str] = field(default_factory=Counter)  # bin -> raised
    fault_alerts: int = 0
    faulty_bins: list[str] = field(default_factory=list)
    quiet_readings_per_min: float = 0.0  # the busiest quiet bin
    heartbeats_per_min: float = 60.0 / HEARTBEAT_S
    readings: int = 0
    fault_readings: int = 0  # out-of-range readings published (a big pick swings past zero)
    refused: int = 0
    noise_by_class: dict[str, float] = field(default_factory=dict)  # kg, as the edge learned it
    samples_by_class: dict[str, int] = field(default_factory=dict)  # behind a plateau
    smallest_unit_by_class: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def exact_pct(self) -> float:
        return 100.0 * self.exact / self.true_movements if self.true_movements else 100.0

    def summary(self) -> dict[str, Any]:
        return {
            "noise_pct_of_capacity": round(self.noise * 100, 3),
            "true_movements": self.true_movements,
            "exact_pct": round(self.exact_pct, 2),
            "spurious": len(self.spurious),
            "anomaly_alerts_faulty_bin": sum(self.anomaly_alerts[b] for b in self.faulty_bins),
            "anomaly_alerts_other_bins": sum(
                n for b, n in self.anomaly_alerts.items() if b not in self.faulty_bins
            ),
            "fault_alerts": self.fault_alerts,
            "quiet_readings_per_min": round(self.quiet_readings_per_min, 2),
        }


def _site(bins: list[_Bin], division_of: dict[str, float]) -> Site:
    return Site.model_validate({
        "site": {"id": "accuracy", "name": "Accuracy day"},
        "devices": [
            {"id": f"scale-{b.id}", "protocol": b.cls.protocol, "port": f"/dev/sim-{b.id}",
             "division_kg": division_of[b.id]}
            for b in bins
        ],
        "skus": [
            {"id": f"SKU-{b.id}", "name": f"{b.cls.name} {b.id}", "unit": "pcs",
             "unit_weight_kg": b.cls.unit_weight_kg, "minimum": 0, "reorder_point": 0,
             "reorder_quantity": 10}
            for b in bins
        ],
        "bins": [
            {"id": b.id, "rack": "R", "device": f"scale-{b.id}", "sku": f"SKU-{b.id}",
             "tare_kg": b.cls.tare_kg, "capacity_kg": b.cls.capacity_kg}
            for b in bins
        ],
        "alerts": {"dwell_s": 60},
    })  # fmt: skip


def _make_bins(noise: float, per_class: int, rng: random.Random) -> list[_Bin]:
    """Per class: active bins with noise up to `noise`, one quiet bin whose display
    only flickers by a division, one quiet bin at the full noise; and one
    faulty bin (half bars cut from it) on a rebar scale."""
    bins: list[_Bin] = []
    for ci, cls in enumerate(CLASSES):
        for j in range(per_class + 2):
            active = j < per_class
            flicker = j == per_class  # a quiet bin with a still load: the display flickers
            # Up to `noise`: each active scale its own, the quiet one at the full noise.
            share = rng.uniform(0.3, 1.0) if active else 1.0
            sigma = 0.5 * cls.division_kg if flicker else share * noise * cls.capacity_kg
            qty = float(rng.randint(40, int(0.8 * cls.capacity_kg / cls.unit_weight_kg)))
            load = cls.tare_kg + qty * cls.unit_weight_kg
            model = LoadModel(
                load, division=cls.division_kg, capacity_kg=cls.capacity_kg,
                settle_s=rng.uniform(1.0, 2.0), noise_div=sigma / cls.division_kg,
                seed=rng.randrange(2**31),
            )  # fmt: skip
            if not flicker:  # a load cell creeps: up to 0.02 % of capacity an hour
                model.set_drift(rng.uniform(-1, 1) * 0.0002 * cls.capacity_kg, 0.0)
            bins.append(_Bin(f"{chr(65 + ci)}{j + 1}", cls, model, qty, active, False,
                             rng.uniform(FIRST_EVENT_S, 60)))  # fmt: skip
    rebar = next(c for c in CLASSES if c.name.startswith("rebar-d13"))
    model = LoadModel(rebar.tare_kg + 100 * rebar.unit_weight_kg, division=rebar.division_kg,
                      capacity_kg=rebar.capacity_kg, settle_s=1.5,
                      noise_div=noise * rebar.capacity_kg / rebar.division_kg,
                      seed=rng.randrange(2**31))  # fmt: skip
    bins.append(_Bin("Z1", rebar, model, 100.0, True, True, rng.uniform(FIRST_EVENT_S, 60)))
    return bins


def _event(b: _Bin, t: float, rng: random.Random) -> None:
    """One pick or restock on `b` at `t`, recorded as truth."""
    cls = b.cls
    room = int((0.9 * cls.capacity_kg - cls.tare_kg) / cls.unit_weight_kg - b.qty)
    if b.faulty and rng.random() < 0.5:
        delta = -rng.choice([0.5, 1.5])  # a bar cut in half: not whole pieces
    elif b.qty < 15 and room > 5:
        delta = float(rng.randint(min(5, room), min(60, room)))  # restock
    elif rng.random() < 0.08 and b.qty > 10:
        delta = -float(min(b.qty - 2, rng.randint(10, 40)))  # a bundle out: a big swing
    elif rng.random() < 0.15 and room > 5:
        delta = float(rng.randint(min(5, room), min(30, room)))
    else:
        delta = -float(min(b.qty, rng.choice([1, 1, 1, 2, 2, 3, 4, 5, 10])))
    if delta == 0:
        return
    b.qty += delta
    b.model.set_load(cls.tare_kg + b.qty * cls.unit_weight_kg, t)
    b.truth.append((T0_MS + round(t * 1000), delta))


def _encode(b: _Bin, t: float) -> bytes:
    d = b.model.display(t)
    if b.cls.protocol == "toledo-continuous":
        return with_even_parity(encode_frame(d, b.cls.division_kg))
    return encode_display(d, b.cls.division_kg)


def run_day(
    noise: float = 0.0005,
    minutes: float = 30.0,
    per_class: int = 4,
    seed: int = 1,
    mean_gap_s: float = 60.0,
    workdir: Path | None = None,
) -> AccuracyResult:
    """Run a seeded day; `noise` is the load-cell noise as a fraction of capacity."""
    rng = random.Random(seed)
    bins = _make_bins(noise, per_class, rng)
    site = _site(bins, {b.id: b.cls.division_kg for b in bins})
    clock = [T0_MS]
    outbox: list[Outgoing] = []
    ctx = EdgeContext(site.site.id, "accuracy", "gudang accuracy", outbox.append, HEARTBEAT_S,
                      1.0, site.count_resolution_kg(), clock=lambda: clock[0])  # fmt: skip
    sessions = {}
    for b in bins:
        device = site.device(f"scale-{b.id}")
        assert device is not None
        sessions[b.id] = StreamScaleSession(device, ctx, decoder_for(device))
    result = AccuracyResult(noise, minutes)
    published: Counter[str] = Counter()
    recorded: dict[str, list[Movement]] = {b.id: [] for b in bins}
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        state = Path(tmp) / "state.db"
        calibration = Calibration(site, state)
        engine = StockEngine(site, calibration)
        monitor = AlertMonitor(site, calibration, state, clock=lambda: clock[0])
        intake = Intake(site, 120_000)
        counting = CountingWatch(site)
        alerts: list[Alert] = []
        steps = int(minutes * 60 * RATE_HZ)
        try:
            for step in range(steps):
                t = step / RATE_HZ
                clock[0] = T0_MS + round(t * 1000)
                for b in bins:
                    if b.active and t >= b.next_at and t < minutes * 60 - 30:
                        _event(b, t, rng)
                        b.next_at = t + 20 + rng.expovariate(1 / max(mean_gap_s - 20, 1))
                    session = sessions[b.id]
                    for event in session.feed(_encode(b, t)):
                        if isinstance(event, ScaleFrame):
                            session.handle(event, t)
                for out in outbox:
                    verdict = intake.classify(out.topic, out.payload, clock[0])
                    if isinstance(verdict, Accepted):
                        m = verdict.message
                        assert isinstance(m, WeightReading)
                        published[m.device_id] += 1
                        result.fault_readings += m.state != "ok"
                        made = engine.reading(m)
                        alerts += monitor.reading(m, made)
                        for bin_, move in made.movements:
                            recorded[bin_.id].append(move)
                    elif isinstance(verdict, Control):
                        if isinstance(verdict.message, DeviceStatus):
                            alerts += monitor.status(verdict.message)
                            result.warnings += counting.status(verdict.message)
                    else:
                        result.refused += 1
                outbox.clear()
            for session in sessions.values():  # the noise each learned, for the warnings
                session.publish_status()
            for out in outbox:
                verdict = intake.classify(out.topic, out.payload, clock[0])
                if isinstance(verdict, Control) and isinstance(verdict.message, DeviceStatus):
                    result.warnings += counting.status(verdict.message)
        finally:
            monitor.close()
            calibration.close()
    result.readings = sum(published.values())
    for a in alerts:
        if a.state == "raised" and a.kind == "movement_anomaly":
            result.anomaly_alerts[a.subject] += 1
        elif a.state == "raised" and a.kind == "scale_fault":
            result.fault_alerts += 1
    _score(bins, recorded, result)
    quiet = [published[f"scale-{b.id}"] for b in bins if not b.active]
    result.quiet_readings_per_min = max(quiet) / minutes if quiet else 0.0
    result.faulty_bins = [b.id for b in bins if b.faulty]
    _classes(bins, sessions, result)
    return result


def _score(bins: list[_Bin], recorded: dict[str, list[Movement]], result: AccuracyResult) -> None:
    """Match each bin's recorded movements to its true ones: a true movement
    owns what is recorded from its time until the next true movement."""
    for b in bins:
        moves = sorted(recorded[b.id], key=lambda m: m.ts)
        truth = b.truth
        before = [m for m in moves if not truth or m.ts < truth[0][0]]
        result.spurious += [f"{b.id} @{m.ts - T0_MS} ms: {m.kind} {m.delta_qty:+.2f}"
                            for m in before]  # fmt: skip
        for i, (ts, delta) in enumerate(truth):
            end = truth[i + 1][0] if i + 1 < len(truth) else math.inf
            got = [m for m in moves if ts <= m.ts < end]
            result.true_movements += 1
            where = f"{b.id} @{ts - T0_MS} ms: true {delta:+g}"
            whole = delta == round(delta)
            if not got:
                result.missed.append(where)
                continue
            first, rest = got[0], got[1:]
            if whole:
                ok = first.kind in ("pick", "put") and first.delta_qty == delta
            else:
                ok = first.kind == "anomaly" and abs(first.delta_qty - delta) < 0.3
            if ok:
                result.exact += 1
            else:
                result.wrong.append(f"{where}, recorded {first.kind} {first.delta_qty:+.2f}")
            result.spurious += [f"{where}, then {m.kind} {m.delta_qty:+.2f} @{m.ts - T0_MS} ms"
                                for m in rest]  # fmt: skip


def _classes(bins: list[_Bin], sessions: dict[str, StreamScaleSession], r: AccuracyResult) -> None:
    """The noise each class of scale learned (its active bins: the full noise)
    and the smallest unit weight it then counts reliably."""
    for cls in CLASSES:
        noises, samples = [], []
        for b in bins:
            s = sessions[b.id]
            if b.cls is cls and b.active and not b.faulty and s.noise_kg() is not None:
                noises.append(s.noise_kg() or 0.0)
                samples.append(s.filter.max_samples or 1)
        if not noises:
            continue
        noise_kg = sorted(noises)[len(noises) // 2]
        n = sorted(samples)[len(samples) // 2]
        r.noise_by_class[cls.name] = noise_kg
        r.samples_by_class[cls.name] = n
        r.smallest_unit_by_class[cls.name] = smallest_unit(cls.division_kg, noise_kg, n, 0.3)

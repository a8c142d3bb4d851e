"""The stock engine: accepted readings and tag events -> InfluxDB points.

Per bin: gross -> net (tare) -> quantity, and the movements between stable
levels (``movements.BinHistory``), attributed to the RFID tags seen at the
bin's rack within ``attribution_window_s``. Pure apart from the clock-free
state it keeps; the service feeds it and writes what it returns.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from gudang.collector.calibration import Calibration
from gudang.collector.movements import BinHistory, Movement
from gudang.collector.points import bin_stock_line, movement_fields, movement_line, reading_line
from gudang.collector.stock import bin_levels, level_error_kg
from gudang.contract import TagEvent, WeightReading
from gudang.influx import FieldValue, line, series_key
from gudang.influx.schema import BIN_STOCK, MOVEMENT, READING, TAG_EVENT
from gudang.site import Bin, Site

__all__ = ["EngineStats", "Latest", "ReadingResult", "StockEngine"]


@dataclass
class EngineStats:
    movements: int = 0
    anomalies: int = 0
    late_levels: int = 0


@dataclass(slots=True)
class ReadingResult:
    """What one reading made: its points, its bins' levels, the movements it
    found, and whether a point written before is rewritten."""

    lines: list[str]
    levels: list[tuple[Bin, float]] = field(default_factory=list)  # (bin, net kg)
    movements: list[tuple[Bin, Movement]] = field(default_factory=list)  # not `none`
    # A late level re-decided a movement written before: the writer must not
    # let this reach InfluxDB ahead of that earlier write.
    rewrites: bool = False


@dataclass(slots=True)
class Latest:
    """A bin's newest stable level (device time), for calibration."""

    ts: int
    gross_kg: float | None  # None when the indicator reports net weight
    net_kg: float


@dataclass
class _Bay:
    events: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=256))


class StockEngine:
    def __init__(self, site: Site, calibration: Calibration) -> None:
        self.site = site
        self.calibration = calibration
        self._latest: dict[str, Latest] = {}
        self.site_id = site.site.id
        self._window_ms: dict[str, int] = {}  # bay -> attribution window (its readers' widest)
        for d in site.devices:
            if d.kind == "rfid" and d.bay:
                ms = int(d.attribution_window_s * 1000)
                self._window_ms[d.bay] = max(ms, self._window_ms.get(d.bay, 0))
        self._labels = {t.id: t.label for t in site.tags}
        divisions = {d.id: d.division_kg for d in site.devices}
        self.history: dict[str, BinHistory] = {
            b.id: BinHistory(calibration.skus[b.sku], divisions[b.device]) for b in site.bins
        }
        self._bins = {b.id: b for b in site.bins}
        self._bay_of_reader = {d.id: d.bay for d in site.devices if d.kind == "rfid" and d.bay}
        self._bays: dict[str, _Bay] = {}
        self.stats = EngineStats()
        self._series: dict[tuple[str, ...], str] = {}
        # Series keys of the hot path, escaped once.
        self._reading_keys: dict[tuple[str, int], str] = {}
        self._stock_keys = {
            b.id: self._key(BIN_STOCK, bin=b.id, rack=b.rack, sku=b.sku) for b in site.bins
        }
        self._movement_keys = {
            b.id: self._key(MOVEMENT, bin=b.id, rack=b.rack, sku=b.sku) for b in site.bins
        }

    def _key(self, measurement: str, **tags: str) -> str:
        """The escaped series key, computed once per series (tags repeat)."""
        cache_key = (measurement, *tags.values())
        key = self._series.get(cache_key)
        if key is None:
            key = self._series[cache_key] = series_key(measurement, {"site": self.site_id, **tags})
        return key

    def seed(self, bin_id: str, ts: int, net_kg: float, se_kg: float | None = None) -> list[str]:
        """A bin's last level from InfluxDB; the movement lines it corrects."""
        history = self.history.get(bin_id)
        if history is None:
            return []
        moves = history.seed(ts, net_kg, se_kg)
        return [self._movement_line(self._bins[bin_id], m) for m in moves]

    def replay_level(self, bin_id: str, ts: int, net_kg: float, se_kg: float | None = None) -> None:
        """A level from the collector's own spool (its points and movements are
        there already): known again, so the next reading is measured from it."""
        history = self.history.get(bin_id)
        if history is not None:
            history.add(ts, net_kg, se_kg)

    def newest_levels(self) -> dict[str, tuple[int, float]]:
        """bin -> its newest stable level known (device time, net kg)."""
        out = {}
        for b in self.site.bins:
            last = self.history[b.id].last
            if last is not None:
                out[b.id] = last
        return out

    def latest(self, bin_id: str) -> Latest | None:
        return self._latest.get(bin_id)

    def reading(self, r: WeightReading) -> ReadingResult:
        """One accepted reading: its line, each bin's level and the movements."""
        key = self._reading_keys.get((r.device_id, r.channel))
        if key is None:
            key = self._key(READING, device=r.device_id, channel=str(r.channel))
            self._reading_keys[(r.device_id, r.channel)] = key
        out = ReadingResult([reading_line(key, r)])
        cal = self.calibration
        se = level_error_kg(r)
        for level in bin_levels(self.site, r, cal.tares, cal.skus, se):
            b = level.bin
            out.levels.append((b, level.net_kg))
            out.lines.append(bin_stock_line(self._stock_keys[b.id], level))
            history = self.history[b.id]
            before = history.too_late
            for m in history.add(level.ts, level.net_kg, se):
                out.lines.append(self._movement_line(b, m))
                if m.kind != "none":
                    out.movements.append((b, m))
                if m.ts != level.ts:
                    out.rewrites = True  # the movement into a later level, re-decided
            self.stats.late_levels += history.too_late - before
            last = history.last
            if last is not None and last[0] == level.ts:
                self._latest[b.id] = Latest(level.ts, level.gross_kg, level.net_kg)
        return out

    def recalibrated(self, sku_id: str) -> None:
        """A new unit weight: movements from now on use it."""
        for b in self.site.bins:
            if b.sku == sku_id:
                self.history[b.id].sku = self.calibration.skus[sku_id]

    def tag(self, t: TagEvent) -> list[str]:
        bay = self._bay_of_reader.get(t.device_id)
        if bay is not None and t.event == "arrived":
            self._bays.setdefault(bay, _Bay()).events.append((t.ts, t.tag))
        fields: dict[str, FieldValue] = {
            "event": t.event, "seq": t.seq, "boot_id": t.boot_id, "tag": t.tag,
        }  # fmt: skip
        if t.rssi is not None:
            fields["rssi"] = float(t.rssi)
        series = self._key(TAG_EVENT, device=t.device_id, antenna=str(t.antenna), bay=bay or "")
        # The tag id in the series keeps simultaneous reads apart (an inventory
        # round reports many tags in one millisecond); appended, not cached:
        # it sorts after every other tag key, and hex needs no escaping.
        return [line(f"{series},tag_id={t.tag}", fields, t.ts)]

    def _attributed(self, b: Bin, ts: int) -> list[str]:
        bay = self._bays.get(b.rack)
        if bay is None:
            return []
        window = self._window_ms[b.rack]
        return sorted({tag for t, tag in bay.events if abs(ts - t) <= window})

    def _movement_line(self, b: Bin, m: Movement) -> str:
        if m.kind in ("pick", "put"):
            self.stats.movements += 1
        elif m.kind == "anomaly":
            self.stats.anomalies += 1
        series = self._movement_keys[b.id]
        tags = self._attributed(b, m.ts) if self._bays else []
        if tags:  # labels come from the site file: escaped by line()
            labels = "; ".join(self._labels.get(t, t) for t in tags)
            return line(series, movement_fields(m, tags, labels), m.ts)
        return movement_line(series, m)

"""The alert monitor over the stock engine (pure apart from its SQLite state file)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gudang.collector.alerts.monitor import AlertMonitor
from gudang.collector.alerts.store import AlertStore
from gudang.collector.calibration import Calibration
from gudang.collector.engine import StockEngine
from gudang.contract import Alert, DeviceStatus, WeightReading
from gudang.site import Site, parse_site
from gudang.testing import reading_stream

T0 = 1_764_000_000_000
HOUR = 3_600_000

SITE = parse_site("""\
site: {id: s1, name: Test}
devices:
  - {id: scale-1, protocol: ad-continuous, port: /dev/ttyUSB0, stuck_after_s: 86400}
  - {id: scale-2, protocol: ad-continuous, port: /dev/ttyUSB1}
  - {id: scale-3, protocol: ad-continuous, port: /dev/ttyUSB2}
skus:
  - {id: RB, name: Rebar, unit: pcs, unit_weight_kg: 7.4, minimum: 5, reorder_point: 10, reorder_quantity: 50}
  - {id: PL, name: Plate, unit: kg, minimum: 50, reorder_point: 80, reorder_quantity: 200}
bins:
  - {id: C1, rack: C, device: scale-1, sku: RB, tare_kg: 60}
  - {id: P1, rack: P, device: scale-2, sku: PL, tare_kg: 10}
  - {id: P2, rack: P, device: scale-3, sku: PL, tare_kg: 10}
alerts: {dwell_s: 0}
""")  # fmt: skip


class Feed:
    def __init__(self, site: Site, state: Path) -> None:
        self.cal = Calibration(site, state)
        self.engine = StockEngine(site, self.cal)
        self.monitor = AlertMonitor(site, self.cal, state)
        self.seq = 0

    def reading(self, device: str, weight: float, ts: int, **kw: object) -> list[Alert]:
        self.seq += 1
        r = WeightReading.model_validate({
            "device_id": device, "boot_id": "b", "seq": self.seq, "ts": ts, "weight": weight,
            "unit": "kg", "stable": True, "reason": "heartbeat", **kw,
        })  # fmt: skip
        return self.monitor.reading(r, self.engine.reading(r))

    def close(self) -> None:
        self.monitor.close()
        self.cal.close()


@pytest.fixture
def feed(tmp_path: Path) -> Iterator[Feed]:
    f = Feed(SITE, tmp_path / "state.db")
    yield f
    f.close()


def kinds(alerts: list[Alert]) -> list[tuple[str, str, str]]:
    return [(a.kind, a.subject, a.state) for a in alerts]


def test_a_value_frozen_past_stuck_after_raises_a_scale_fault_and_a_change_clears_it(
    feed: Feed,
) -> None:
    w = 60 + 7.4 * 30
    for h in range(24):  # heartbeats, same value, under a day: fine
        assert feed.reading("scale-1", w, T0 + h * HOUR) == []
    raised = feed.reading("scale-1", w, T0 + 24 * HOUR)
    assert kinds(raised) == [("scale_fault", "scale-1", "raised")]
    assert raised[0].text.en == "Scale scale-1 fault: value unchanged for 24 h"
    assert "tidak berubah" in raised[0].text.id
    assert feed.reading("scale-1", w, T0 + 25 * HOUR) == []  # one alert, not one per reading
    cleared = feed.reading("scale-1", w - 7.4, T0 + 26 * HOUR)  # a pick: the scale lives
    assert ("scale_fault", "scale-1", "cleared") in kinds(cleared)


def test_stuck_value_rule_is_off_unless_configured(feed: Feed) -> None:
    for h in range(0, 24 * 30, 12):  # a month of the same value on scale-2
        assert [a for a in feed.reading("scale-2", 100.0, T0 + h * HOUR)
                if a.kind == "scale_fault"] == []  # fmt: skip


def test_overload_raises_and_a_stable_in_range_reading_clears(feed: Feed) -> None:
    raised = feed.reading("scale-2", 100.0, T0, state="overload", stable=False)
    assert kinds(raised) == [("scale_fault", "scale-2", "raised")]
    assert "kelebihan beban" in raised[0].text.id
    assert kinds(feed.reading("scale-2", 100.0, T0 + 1000)) == [
        ("scale_fault", "scale-2", "cleared")
    ]


def test_sku_alerts_wait_for_every_bin_of_the_sku_then_use_the_total(feed: Feed) -> None:
    # P1 alone is under the minimum, but P2 has not spoken: no judgement yet.
    assert feed.reading("scale-2", 10 + 20, T0) == []
    # P2 speaks: total 20 + 25 = 45 kg <= minimum 50 and <= reorder point 80.
    raised = kinds(feed.reading("scale-3", 10 + 25, T0 + 1))
    assert ("low_stock", "PL", "raised") in raised
    assert ("reorder_point", "PL", "raised") in raised
    # A put on P1 brings the total to 20 + 100 + 25 = 145 kg: both clear.
    cleared = kinds(feed.reading("scale-2", 10 + 120, T0 + 2))
    assert ("low_stock", "PL", "cleared") in cleared
    assert ("reorder_point", "PL", "cleared") in cleared


def test_alert_state_survives_a_restart(tmp_path: Path) -> None:
    first = Feed(SITE, tmp_path / "state.db")
    first.reading("scale-2", 100.0, T0, state="overload", stable=False)
    first.close()
    second = Feed(SITE, tmp_path / "state.db")
    try:
        # Still raised after the restart: a good reading clears it (no second raise).
        assert kinds(second.reading("scale-2", 100.0, T0 + 1000)) == [
            ("scale_fault", "scale-2", "cleared")
        ]
    finally:
        second.close()


def _status(subject: str, sid: str, state: str) -> DeviceStatus:
    return DeviceStatus.model_validate({"subject": subject, "id": sid, "state": state})


def _offline(alerts: list[Alert]) -> dict[str, str]:
    return {a.subject: a.state for a in alerts if a.kind == "device_offline"}


def test_an_edge_online_never_clears_a_device_its_own_status_calls_disconnected(
    feed: Feed,
) -> None:
    m = feed.monitor
    assert _offline(m.status(_status("device", "scale-2", "disconnected"))) == {"scale-2": "raised"}
    # The edge refreshes its own birth (every 30 s): scale-2 is still unplugged.
    assert _offline(m.status(_status("edge", "edge-1", "online"))) == {}
    assert _offline(m.tick()) == {}
    assert ("device_offline", "scale-2") in m.book.active
    # The edge dies: every device of it is offline; it comes back: only those
    # whose own status is online are good again.
    assert _offline(m.status(_status("edge", "edge-1", "offline"))) == {
        "scale-1": "raised", "scale-3": "raised"
    }  # fmt: skip
    assert _offline(m.status(_status("edge", "edge-1", "online"))) == {
        "scale-1": "cleared", "scale-3": "cleared"
    }  # fmt: skip
    assert _offline(m.status(_status("device", "scale-2", "online"))) == {"scale-2": "cleared"}


def test_a_partition_member_answers_for_its_own_devices_of_an_edge(tmp_path: Path) -> None:
    """Edge-1 carries three scales; the member owns scale-1 and scale-3. Its
    edge going offline raises their alerts only: the other member raises
    scale-2's, once."""
    cal = Calibration(SITE, tmp_path / "state.db")
    m = AlertMonitor(SITE, cal, tmp_path / "state.db", devices={"scale-1", "scale-3"})
    try:
        assert _offline(m.status(_status("edge", "edge-1", "offline"))) == {
            "scale-1": "raised", "scale-3": "raised"
        }  # fmt: skip
    finally:
        m.close()
        cal.close()


DWELL_SITE = parse_site("""\
site: {id: s1, name: Test}
devices:
  - {id: scale-1, protocol: ad-continuous, port: /dev/ttyUSB0}
skus:
  - {id: RB, name: Rebar, unit: pcs, unit_weight_kg: 7.4, minimum: 5, reorder_point: 10, reorder_quantity: 50}
bins:
  - {id: C1, rack: C, device: scale-1, sku: RB, tare_kg: 60}
alerts: {dwell_s: 60}
""")  # fmt: skip
SEC = 1000
BAR = 7.4


@pytest.fixture
def slow(tmp_path: Path) -> Iterator[Feed]:
    f = Feed(DWELL_SITE, tmp_path / "state.db")
    yield f
    f.close()


def anomalies(alerts: list[Alert]) -> list[str]:
    return [a.state for a in alerts if a.kind == "movement_anomaly"]


def test_a_fault_seen_only_in_motion_must_last_before_it_is_raised(slow: Feed) -> None:
    """A large pick swings the display below zero while it moves: no alert;
    an underload that persists (its heartbeats) is raised after the dwell."""
    slow.reading("scale-1", 60 + 30 * BAR, T0)
    assert slow.reading("scale-1", 0, T0 + 1 * SEC, state="underload", stable=False) == []
    assert slow.reading("scale-1", 60 + 20 * BAR, T0 + 2 * SEC) == []  # settled: nothing
    assert slow.reading("scale-1", 0, T0 + 90 * SEC, state="underload", stable=False) == []
    raised = slow.reading("scale-1", 0, T0 + 150 * SEC, state="underload", stable=False)
    assert kinds(raised) == [("scale_fault", "scale-1", "raised")]
    assert kinds(slow.reading("scale-1", 60 + 20 * BAR, T0 + 151 * SEC)) == [
        ("scale_fault", "scale-1", "cleared")
    ]


def test_a_stable_fault_is_raised_at_once(slow: Feed) -> None:
    raised = slow.reading("scale-1", 0, T0, state="overload", stable=True)
    assert kinds(raised) == [("scale_fault", "scale-1", "raised")]


def test_an_anomaly_put_right_within_the_dwell_raises_nothing(slow: Feed) -> None:
    """Half a bar off, then back: whole again before the dwell is over."""
    w = 60 + 30 * BAR
    slow.reading("scale-1", w, T0)
    assert anomalies(slow.reading("scale-1", w - 0.5 * BAR, T0 + 10 * SEC)) == []
    assert anomalies(slow.reading("scale-1", w, T0 + 20 * SEC)) == []
    for t in range(50, 400, 30):  # heartbeats
        assert anomalies(slow.reading("scale-1", w, T0 + t * SEC)) == []
    assert slow.monitor.book.idle("movement_anomaly", "C1")


def test_a_noisy_bin_raises_one_alert_that_counts_its_anomalies(slow: Feed) -> None:
    """Anomalies every 20 s for ten minutes, their fractions sometimes
    cancelling: one raise; then one clear once the bin has been whole and
    quiet for the window and the dwell."""
    w = 60 + 30 * BAR
    slow.reading("scale-1", w, T0)
    states: list[str] = []
    t = 0
    for x in [-1.5, -2.6, 1.6, -0.5, 2.45, -1.6, 0.55] * 4:
        t += 20
        w += x * BAR
        states += anomalies(slow.reading("scale-1", w, T0 + t * SEC))
    assert states == ["raised"]
    alert = slow.monitor.book.active[("movement_anomaly", "C1")]
    assert "not whole pieces" in alert.text.en and "Periksa timbangan" in alert.text.id
    off = slow.monitor._off["C1"]
    w += (round(off.residual) - off.residual) * BAR  # a recount puts the fraction right
    t += 20
    states += anomalies(slow.reading("scale-1", w, T0 + t * SEC))
    for _ in range(30):  # heartbeats while it stays whole: fifteen minutes
        t += 30
        states += anomalies(slow.reading("scale-1", w, T0 + t * SEC))
    assert states == ["raised", "cleared"]
    assert "C1" not in slow.monitor._off


def test_half_a_bar_taken_stays_raised_until_the_count_is_whole(slow: Feed) -> None:
    w = 60 + 30 * BAR
    slow.reading("scale-1", w, T0)
    states = anomalies(slow.reading("scale-1", w - 2.5 * BAR, T0 + 10 * SEC))
    for t in range(40, 2000, 30):
        states += anomalies(slow.reading("scale-1", w - 2.5 * BAR, T0 + t * SEC))
    assert states == ["raised"]


def test_an_unreadable_device_goes_offline_after_the_dwell_with_its_reason(slow: Feed) -> None:
    m = slow.monitor
    status = DeviceStatus.model_validate({
        "subject": "device", "id": "scale-1", "state": "unreadable", "reason": "no_valid_frames",
    })  # fmt: skip
    m.book.dwell_ms = 0
    raised = m.status(status)
    assert kinds(raised) == [("device_offline", "scale-1", "raised")]
    assert "unreadable: no_valid_frames" in raised[0].text.en


def test_silence_is_judged_on_the_injected_clock(tmp_path: Path) -> None:
    """Wall-time rules (a scale silent past offline_after_s) read the clock
    they are given: no test waits two minutes, and a replay can set its own."""
    now = [T0]
    cal = Calibration(SITE, tmp_path / "state.db")
    engine = StockEngine(SITE, cal)
    monitor = AlertMonitor(SITE, cal, tmp_path / "state.db", clock=lambda: now[0])
    r = WeightReading(device_id="scale-2", boot_id="b", seq=1, ts=T0, weight=100.0, unit="kg",
                      stable=True, reason="heartbeat")  # fmt: skip
    monitor.reading(r, engine.reading(r))
    now[0] += 119_000
    assert monitor.tick() == []
    now[0] += 2_000
    assert kinds(monitor.tick()) == [("device_offline", "scale-2", "raised")]
    monitor.close()
    cal.close()


def test_stock_alerts_speak_in_whole_pieces_and_the_skus_own_unit_names(tmp_path: Path) -> None:
    """Say "4 lembar", not "4.0014 batang/lembar"; the value too (webhooks send it)."""
    site = parse_site(SITE.model_dump_json().replace(
        '"unit":"pcs","unit_name":null', '"unit":"pcs","unit_name":{"id":"lembar","en":"sheets"}'
    ))  # fmt: skip
    f = Feed(site, tmp_path / "state.db")
    try:
        raised = f.reading("scale-1", 60 + 7.4 * 4 + 0.01, T0)  # 4.0014 pieces: low stock
        low = next(a for a in raised if a.kind == "low_stock")
        assert low.text.id == "Stok Rebar menipis: 4 lembar (minimum 5)"
        assert low.text.en == "Low stock of Rebar: 4 sheets (minimum 5)"
        assert low.value == 4.0
        reorder = next(a for a in raised if a.kind == "reorder_point")
        assert reorder.text.en == "Rebar at its reorder point: 4 sheets; order 50 sheets"
    finally:
        f.close()


def test_a_projected_stock_out_is_raised_held_and_cleared(feed: Feed) -> None:
    """Raised while the cover is shorter than the lead time, held within half
    a working day beyond it (no flapping), cleared past that or without a
    forecast."""
    from datetime import date

    from gudang.replenishment import Forecast

    def f(urgency: float | None) -> Forecast:
        cover = None if urgency is None else 7 + urgency
        return Forecast(2.0, 0.5, 20, 20, False, cover, date(2026, 12, 9) if cover else None,
                        15.0, 20.0, urgency)  # fmt: skip

    rebar = SITE.sku("RB")
    raised = feed.monitor.projection(rebar, f(-1.5), 7)
    assert kinds(raised) == [("stockout_projected", "RB", "raised")]
    assert raised[0].value == 5.5
    assert raised[0].text.en.startswith("Rebar projected to run out on 09 Dec 2026 (5.5 working")
    assert feed.monitor.projection(rebar, f(-1.0), 7) == []  # still on: nothing new
    assert feed.monitor.projection(rebar, f(0.2), 7) == []  # within the hysteresis: held
    cleared = feed.monitor.projection(rebar, f(0.8), 7)
    assert kinds(cleared) == [("stockout_projected", "RB", "cleared")]
    assert feed.monitor.projection(rebar, f(None), 7) == []  # idle, no forecast: nothing
    again = feed.monitor.projection(rebar, f(-0.1), 7)
    assert kinds(again) == [("stockout_projected", "RB", "raised")]
    assert kinds(feed.monitor.projection(rebar, f(None), 7)) == [
        ("stockout_projected", "RB", "cleared")]  # fmt: skip


RESTART_SITE = parse_site("""\
site: {id: s1, name: Restarts}
devices:
  - {id: a, protocol: ad-continuous, port: /dev/ttyUSB0, division_kg: 0.1}
  - {id: b, protocol: ad-continuous, port: /dev/ttyUSB1, division_kg: 0.1}
skus:
  - {id: RB, name: Rebar, unit: pcs, unit_weight_kg: 7.4, minimum: 404, reorder_point: 410, reorder_quantity: 50, hysteresis: 3}
bins:
  - {id: A, rack: R, device: a, sku: RB, tare_kg: 60}
  - {id: B, rack: R, device: b, sku: RB, tare_kg: 60}
alerts: {dwell_s: 3}
""")  # fmt: skip


def _restart_stream() -> list[tuple[str, int, float]]:
    """(device, ts, gross kg): a seeded walk around the thresholds of RB,
    with half a bar off on one scale for a while (an anomaly raised, then
    put right)."""
    steps = reading_stream(["a", "b"], 120, seed=17, t0=T0)
    out = []
    for s in steps:
        off = 0.5 * BAR if s.device == "a" and 30 <= s.seq < 60 else 0.0
        out.append((s.device, s.ts, round(s.gross_kg + off, 1)))
    return out


def _transitions(alerts: list[Alert]) -> list[tuple[str, str, str, int, float | None]]:
    return [(a.kind, a.subject, a.state, a.updated_at, a.value) for a in alerts]


def _run(feed: Feed, stream: list[tuple[str, int, float]]) -> list[Alert]:
    return [a for device, ts, kg in stream for a in feed.reading(device, kg, ts)]


def test_a_restart_anywhere_in_the_stream_changes_no_alert_transition(tmp_path: Path) -> None:
    """Stopped after any reading (its state flushed, as the collector does
    before acknowledging) and started again, with each bin's last level
    learned again as the collector does from InfluxDB: the same transitions,
    at the same times, as a run that never stopped. Dwell timers and off
    bins are part of the state; so are SKU totals (no waiting for every bin
    to speak again)."""
    stream = _restart_stream()
    whole = Feed(RESTART_SITE, tmp_path / "whole.db")
    want = _transitions(_run(whole, stream))
    whole.close()
    assert {("low_stock", "raised"), ("low_stock", "cleared"), ("movement_anomaly", "raised"),
            ("movement_anomaly", "cleared")} <= {(k, s) for k, _, s, _, _ in want}  # fmt: skip
    for cut in range(1, len(stream), 3):
        state = tmp_path / f"cut{cut}.db"
        first = Feed(RESTART_SITE, state)
        got = _run(first, stream[:cut])
        first.monitor.flush()
        levels = {b.id: first.engine.history[b.id].last for b in RESTART_SITE.bins}
        first.close()
        second = Feed(RESTART_SITE, state)
        for bin_id, last in levels.items():
            if last is not None:
                second.engine.seed(bin_id, *last)  # as from InfluxDB
        second.monitor.resume(second.engine.newest_levels())
        second.seq = cut
        got += _run(second, stream[cut:])
        second.close()
        assert _transitions(got) == want, f"restarted after reading {cut}"


def test_alert_state_reaches_the_file_only_when_committed(tmp_path: Path) -> None:
    """Staged at the end of a batch, committed when its points are durable:
    a crash in between leaves the file as of the last committed batch (and
    the broker resends that batch, judged again from there)."""
    first = Feed(SITE, tmp_path / "state.db")
    first.reading("scale-2", 100.0, T0, state="overload", stable=False)  # a fault: raised
    staged = first.monitor.stage()
    assert [(a.kind, a.state) for a in first.monitor.current()] == [("scale_fault", "raised")]
    # The process dies before the batch is durable: nothing of it is on disk.
    assert AlertStore(tmp_path / "state.db").load() == []
    first.monitor.commit(staged)
    assert [(a.kind, a.state) for a in AlertStore(tmp_path / "state.db").load()] == [
        ("scale_fault", "raised")
    ]
    first.close()

"""Nothing lost: the broker stopped for 30 s while the scales keep changing, and
the edge killed with SIGKILL during the outage. Afterwards every message has
arrived, in order per device, with no gap in `seq`."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gudang.services import MosquittoServer, free_port
from gudang.settings import InfluxSettings, MqttSettings
from gudang.sim.control import ControlClient
from gudang.testing import GudangProcess, MqttRecorder, service_env, wait_for

OUTAGE_S = 30


@pytest.fixture
def outage_site(tmp_path: Path, site_id: str) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(f"""\
site: {{id: {site_id}, name: Outage}}
devices:
  - {{id: scale-1, protocol: ad-continuous, port: {tmp_path}/dev/s1, division_kg: 0.1}}
  - {{id: scale-2, protocol: mt-sics, port: {tmp_path}/dev/s2, division_kg: 0.01, poll_interval_s: 0.2}}
skus:
  - {{id: RB-D10, name: Rebar, unit: pcs, unit_weight_kg: 7.4, minimum: 5, reorder_point: 40, reorder_quantity: 50}}
  - {{id: BOLT, name: Bolts, unit: kg, minimum: 5, reorder_point: 40, reorder_quantity: 20}}
bins:
  - {{id: C1, rack: C, device: scale-1, sku: RB-D10, tare_kg: 60, capacity_kg: 3000}}
  - {{id: S1, rack: S, device: scale-2, sku: BOLT, tare_kg: 2, capacity_kg: 300}}
""")
    return path


class Rig:
    def __init__(self, tmp: Path, broker: MosquittoServer, site: Path) -> None:
        self.tmp = tmp
        self.site = site
        self.mqtt = MqttSettings(host=broker.host, port=broker.port)
        self.env = service_env(
            self.mqtt, InfluxSettings(), GUDANG_EDGE_OUTBOX=str(tmp / "outbox.db")
        )
        self.control = free_port()
        self.procs: list[GudangProcess] = []

    def start(self, *args: str) -> GudangProcess:
        proc = GudangProcess(list(args), self.env, self.tmp / f"{args[0]}-{len(self.procs)}.log")
        self.procs.append(proc)
        return proc

    def sim(self) -> GudangProcess:
        proc = self.start(
            "sim", "--site", str(self.site), "--control-port", str(self.control), "--settle", "0.3"
        )
        wait_for(lambda: proc.logged("sim_start"), what="sim")
        return proc

    def edge(self) -> GudangProcess:
        # No collector here: these tests hold the broker's PUBACK as the end of
        # the line, and check exactly-once, in-order delivery to a witness.
        # With confirmation (the default) unconfirmed rows are sent again after
        # every reconnect, by design: test_collector_recovery covers that mode.
        return self.start("edge", "--site", str(self.site), "--heartbeat", "2", "--no-confirm")

    def close(self) -> None:
        for p in reversed(self.procs):
            p.stop()


def _both_scales_heard(rec: MqttRecorder) -> None:
    wait_for(
        lambda: {r["device_id"] for r in _readings(rec)} == {"scale-1", "scale-2"},
        what="readings",
    )


def _readings(rec: MqttRecorder) -> list[dict[str, Any]]:
    return rec.on("/reading")


def _check_complete(readings: list[dict[str, Any]]) -> dict[tuple[str, str], list[int]]:
    """Per (device, boot): seq 0..n, each once, in order."""
    by_key: dict[tuple[str, str], list[int]] = {}
    for r in readings:
        by_key.setdefault((r["device_id"], r["boot_id"]), []).append(r["seq"])
    for key, seqs in by_key.items():
        assert seqs == list(range(len(seqs))), f"{key}: gap, duplicate or disorder in {seqs}"
    return by_key


def _picks_during_outage(
    sim: ControlClient, seconds: float, on_half: Callable[[], None] | None = None
) -> int:
    picks, started, halfway_done = 0, time.monotonic(), False
    while time.monotonic() - started < seconds:
        sim.send(op="take", bin="C1", qty=1)
        sim.send(op="take", bin="S1", qty=0.5)
        picks += 1
        if on_half and not halfway_done and time.monotonic() - started > seconds / 2:
            on_half()
            halfway_done = True
        time.sleep(2.0)
    return picks


def test_broker_outage_loses_nothing(
    tmp_path: Path, private_mosquitto: MosquittoServer, outage_site: Path, site_id: str
) -> None:
    rig = Rig(tmp_path, private_mosquitto, outage_site)
    try:
        rig.sim()
        with MqttRecorder(
            rig.mqtt, [f"gudang/v1/{site_id}/device/+/reading"], "witness", persistent=True
        ) as rec:
            edge = rig.edge()
            _both_scales_heard(rec)
            before = len(_readings(rec))

            private_mosquitto.stop()  # persistence is saved; the witness's session survives
            with ControlClient(rig.control) as ctl:
                picks = _picks_during_outage(ctl, OUTAGE_S)
            private_mosquitto.start()

            # each pick is a stable change on both scales; plus heartbeats
            wait_for(
                lambda: len(_readings(rec)) >= before + 2 * picks,
                timeout=60,
                what="replayed backlog",
            )
            wait_for(lambda: _outbox_depth(tmp_path) == 0, timeout=30, what="outbox empty")
            # A subscriber gets them in order: whatever has arrived is a prefix,
            # so the check holds without waiting for the very last one.
            by_key = _check_complete(_readings(rec))
            assert len(by_key) == 2  # one boot per device
            assert edge.stop() == 0
    finally:
        rig.close()


def _outbox_depth(tmp: Path) -> int:
    with sqlite3.connect(tmp / "outbox.db") as db:
        return int(db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])


def test_edge_killed_during_outage_loses_nothing(
    tmp_path: Path, private_mosquitto: MosquittoServer, outage_site: Path, site_id: str
) -> None:
    rig = Rig(tmp_path, private_mosquitto, outage_site)
    try:
        rig.sim()
        with MqttRecorder(
            rig.mqtt, [f"gudang/v1/{site_id}/device/+/reading"], "witness-kill", persistent=True
        ) as rec:
            first = rig.edge()
            _both_scales_heard(rec)
            private_mosquitto.stop()
            second: list[GudangProcess] = []

            def crash_and_restart() -> None:
                first.kill()  # SIGKILL: no flush, no goodbye
                second.append(rig.edge())

            with ControlClient(rig.control) as ctl:
                _picks_during_outage(ctl, OUTAGE_S, on_half=crash_and_restart)
            private_mosquitto.start()
            assert second, "the edge was not restarted"

            wait_for(
                lambda: len({(r["device_id"], r["boot_id"]) for r in _readings(rec)}) == 4,
                timeout=60,
                what="both boots' messages",
            )
            wait_for(lambda: _outbox_depth(tmp_path) == 0, timeout=30, what="outbox empty")
            by_key = _check_complete(_readings(rec))
            first_boot = _readings(rec)[0]["boot_id"]
            # the killed edge's messages include those it made during the outage
            assert all(len(seqs) >= 5 for (_, boot), seqs in by_key.items() if boot == first_boot)
            # per device, every message of the killed boot came before the new boot's
            for device in ("scale-1", "scale-2"):
                boots = [r["boot_id"] for r in _readings(rec) if r["device_id"] == device]
                switch = boots.index(next(b for b in boots if b != first_boot))
                assert set(boots[:switch]) == {first_boot}
                assert first_boot not in boots[switch:]
            assert second[0].stop() == 0
    finally:
        rig.close()

"""Every protocol end to end to MQTT: simulator over a real pty or TCP port ->
edge -> real Mosquitto; and commands with their replies."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gudang.contract import Command
from gudang.services import free_port
from gudang.settings import MqttSettings
from gudang.sim.control import ControlClient
from gudang.testing import GudangProcess, MqttRecorder, wait_for

EPC = "30751FEB705C5904E3D50D70"
EM = "010D0F2B3E"


@pytest.fixture
def protocol_site(tmp_path: Path, site_id: str) -> Path:
    uhf = free_port()
    path = tmp_path / "site.yaml"
    dev = tmp_path / "dev"
    path.write_text(f"""\
site: {{id: {site_id}, name: Every protocol}}
devices:
  - {{id: scale-ad, protocol: ad-continuous, port: {dev}/ad, division_kg: 0.1}}
  # a 7E1 Toledo read as 8N1: the edge masks the parity bit
  - {{id: scale-tol, protocol: toledo-continuous, port: {dev}/tol, division_kg: 0.01}}
  - {{id: scale-mt, protocol: mt-sics, port: {dev}/mt, division_kg: 0.01, poll_interval_s: 0.2}}
  - {{id: rfid-em, protocol: rdm6300, port: {dev}/em}}
  - {{id: rfid-uhf, protocol: uhf-m100, port: "socket://127.0.0.1:{uhf}", poll_interval_s: 0.1,
      line: {{baudrate: 115200}}, depart_after_s: 1.0}}
skus:
  - {{id: RB-D10, name: Rebar, unit: pcs, unit_weight_kg: 7.4, minimum: 5, reorder_point: 10, reorder_quantity: 50}}
  - {{id: CU-15, name: Copper pipe, unit: m, unit_weight_kg: 0.394, minimum: 10, reorder_point: 20, reorder_quantity: 50}}
  - {{id: BOLT, name: Bolts, unit: kg, minimum: 5, reorder_point: 8, reorder_quantity: 20}}
bins:
  - {{id: C1, rack: C, device: scale-ad, sku: RB-D10, tare_kg: 60, capacity_kg: 2000}}
  - {{id: B3, rack: B, device: scale-tol, sku: CU-15, tare_kg: 18, capacity_kg: 500}}
  - {{id: S1, rack: S, device: scale-mt, sku: BOLT, tare_kg: 2, capacity_kg: 60}}
""")
    return path


def _start(spawn: Callable[..., GudangProcess], site: Path) -> tuple[GudangProcess, int]:
    control = free_port()
    sim = spawn("sim", "--site", str(site), "--control-port", str(control), "--settle", "0.4")
    wait_for(lambda: sim.logged("sim_start"), what="simulator")
    edge = spawn("edge", "--site", str(site), "--status-interval", "2")
    return edge, control


def _weights(rec: MqttRecorder, device: str) -> list[Any]:
    return [r["weight"] for r in rec.on(f"{device}/reading")]


def test_every_protocol_reaches_mqtt(
    protocol_site: Path,
    spawn: Callable[..., GudangProcess],
    mqtt_settings: MqttSettings,
    site_id: str,
) -> None:
    with MqttRecorder(mqtt_settings, [f"gudang/v1/{site_id}/#"]) as rec:
        edge, control = _start(spawn, protocol_site)
        # initial stock: 2.5x reorder point -> 25 pcs, 50 m, 20 kg
        # A plateau's mean: within half a division (0.1 kg) of the load.
        wait_for(
            lambda: any(abs(w - (60 + 25 * 7.4)) < 0.05 for w in _weights(rec, "scale-ad")),
            what="A&D reading",
        )
        wait_for(
            lambda: any(abs(w - (18 + 50 * 0.394)) < 0.015 for w in _weights(rec, "scale-tol")),
            what="Toledo reading",
        )
        wait_for(
            lambda: any(abs(w - 22.0) < 0.015 for w in _weights(rec, "scale-mt")),
            what="MT-SICS reading",
        )

        with ControlClient(control) as sim:
            sim.send(op="take", bin="S1", qty=3.5)
            sim.send(op="take", bin="B3", qty=12)
            wait_for(
                lambda: any(abs(w - 18.5) < 0.015 for w in _weights(rec, "scale-mt")),
                what="MT-SICS change",
            )
            wait_for(
                lambda: any(abs(w - (18 + 38 * 0.394)) < 0.015 for w in _weights(rec, "scale-tol")),
                what="Toledo change",
            )

            sim.send(op="tag_enter", device="rfid-em", tag=EM)
            sim.send(op="tag_enter", device="rfid-uhf", tag=EPC, rssi=-48)
            wait_for(lambda: rec.on("rfid-em/tag") and rec.on("rfid-uhf/tag"), what="tags arrived")

            def repeated(device: str) -> int:
                return max((s["counters"].get("duplicates", 0) for s in rec.on(f"{device}/status")),
                           default=0)  # fmt: skip

            # Dozens of repeated reads while the tags lie there (the readers'
            # statuses count them, every 2 s)...
            wait_for(lambda: repeated("rfid-em") >= 10 and repeated("rfid-uhf") >= 3,
                     timeout=20, what="repeated reads counted")  # fmt: skip
            em = rec.on("rfid-em/tag")
            uhf = rec.on("rfid-uhf/tag")
            assert [(e["tag"], e["event"]) for e in em] == [(EM, "arrived")]  # ...suppressed
            assert [(e["tag"], e["event"]) for e in uhf] == [(EPC, "arrived")]
            assert -49 <= uhf[0]["rssi"] <= -47
            sim.send(op="tag_leave", device="rfid-em", tag=EM)
            sim.send(op="tag_leave", device="rfid-uhf", tag=EPC)
            wait_for(
                lambda: len(rec.on("rfid-em/tag")) == 2 and len(rec.on("rfid-uhf/tag")) == 2,
                what="departed",
            )
            assert rec.on("rfid-em/tag")[1]["event"] == "departed"
            assert rec.on("rfid-uhf/tag")[1]["event"] == "departed"

            # corrupted checksums are counted, never published as readings
            sim.send(op="corrupt", device="scale-tol", frames=5)
            sim.send(op="corrupt", device="rfid-uhf", frames=3)
            wait_for(
                lambda: any(
                    s["counters"].get("frames_bad", 0) >= 5 for s in rec.on("scale-tol/status")
                ),
                what="Toledo checksum errors in status",
            )

        for dev in ("scale-ad", "scale-tol", "scale-mt", "rfid-em", "rfid-uhf"):
            assert rec.on(f"{dev}/status")[-1]["state"] == "online", dev
        edge_status = rec.on("edge/edge-1/status")[-1]
        assert edge_status["counters"]["outbox_depth"] >= 0
        assert "merge-heartbeats" in edge_status["protocol"]
        assert edge.stop() == 0


def _command(rec: MqttRecorder, site_id: str, device: str, op: str, cid: str) -> dict[str, Any]:
    cmd = Command(id=cid, op=op, ts=int(time.time() * 1000), issued_by="test")  # type: ignore[arg-type]
    rec.publish(f"gudang/v1/{site_id}/device/{device}/cmd", cmd.model_dump_json())
    replies = wait_for(
        lambda: [r for r in rec.on(f"{device}/cmd/reply") if r["id"] == cid],
        timeout=15,
        what=f"reply {cid}",
    )
    return replies[0]


def test_commands_and_replies(
    protocol_site: Path,
    spawn: Callable[..., GudangProcess],
    mqtt_settings: MqttSettings,
    site_id: str,
) -> None:
    with MqttRecorder(mqtt_settings, [f"gudang/v1/{site_id}/#"]) as rec:
        _, control = _start(spawn, protocol_site)
        wait_for(lambda: rec.on("scale-mt/reading") and rec.on("scale-ad/reading"), what="readings")

        tare = _command(rec, site_id, "scale-mt", "tare", "c1")
        assert tare["ok"], tare
        assert tare["result"].startswith("tare 22")
        wait_for(
            lambda: any(
                r["mode"] == "net" and abs(r["weight"]) < 0.015 for r in rec.on("scale-mt/reading")
            ),
            what="net reading",
        )

        zero = _command(rec, site_id, "scale-mt", "zero", "c2")
        assert zero["ok"] is False
        assert zero["error"].startswith("Z +")  # 22 kg on the pan is outside the zero range

        reread = _command(rec, site_id, "scale-mt", "reread", "c3")
        assert reread["ok"], reread
        with ControlClient(control) as sim:
            sim.send(op="refuse", device="scale-mt")
        refused = _command(rec, site_id, "scale-mt", "tare", "c4")
        assert refused["ok"] is False
        assert refused["error"].startswith("EL")

        ad_tare = _command(rec, site_id, "scale-ad", "tare", "c5")
        assert ad_tare["ok"] is False
        assert "continuous output" in ad_tare["error"]
        before = len(rec.on("scale-ad/reading"))
        assert _command(rec, site_id, "scale-ad", "reread", "c6")["ok"]
        wait_for(lambda: len(rec.on("scale-ad/reading")) > before, what="forced reading")
        assert rec.on("scale-ad/reading")[-1]["reason"] == "change"

        assert _command(rec, site_id, "rfid-em", "reread", "c7")["ok"] is False

        rec.publish(f"gudang/v1/{site_id}/device/scale-mt/cmd", b'{"op": "explode"}')
        dead = wait_for(lambda: rec.on("deadletter/edge"), what="dead letter")
        assert dead[0]["reason"].startswith("invalid command")
        assert json.loads(dead[0]["payload"]) == {"op": "explode"}

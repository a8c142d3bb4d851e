"""The edge against the simulators over a real pty and a real TCP port, through a real broker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gudang.services import free_port
from gudang.settings import MqttSettings
from gudang.sim.control import ControlClient
from gudang.testing import GudangProcess, MqttRecorder, wait_for

SiteFactory = Callable[..., Path]


def shows(reading: dict[str, object], kg: float, division: float) -> bool:
    """The display shows `kg`, give or take the one-division flicker of a settled indicator.

    The simulator, like a real display, flickers by a division while flagged
    stable; which sample the edge publishes first depends on timing, so an
    exact value is a race on a busy machine.
    """
    weight = reading["weight"]
    return isinstance(weight, int | float) and abs(weight - kg) <= division + 1e-9


def _start(
    spawn: Callable[..., GudangProcess], site: Path, heartbeat: str = "30"
) -> tuple[GudangProcess, GudangProcess, int]:
    control = free_port()
    sim = spawn("sim", "--site", str(site), "--control-port", str(control), "--settle", "0.4")
    wait_for(lambda: sim.logged("sim_start"), what="simulator")
    edge = spawn("edge", "--site", str(site), "--heartbeat", heartbeat)
    return sim, edge, control


def test_readings_status_and_unplug(
    make_site: SiteFactory,
    spawn: Callable[..., GudangProcess],
    mqtt_settings: MqttSettings,
    site_id: str,
) -> None:
    site = make_site()
    with MqttRecorder(mqtt_settings, [f"gudang/v1/{site_id}/#"]) as rec:
        sim, edge, control = _start(spawn, site)
        first = wait_for(lambda: rec.on("scale-1/reading"), what="first reading")[0]
        # The simulator starts bins at 2.5x the reorder point: 50 pieces of
        # 7.4 kg on a 60 kg bin, as the A&D line says it.
        assert shows(first, 430.0, 0.01)
        assert first["unit"] == "kg"
        assert first["stable"] is True
        assert first["reason"] == "change"
        assert first["seq"] == 0
        assert first["samples"] >= 3  # a settled plateau's mean, not one sample
        assert first["noise"] is not None and first["spread"] is not None
        wait_for(lambda: rec.on("scale-2/reading"), what="TCP scale reading")

        edge_status = wait_for(lambda: rec.on("edge/edge-1/status"), what="edge birth")
        assert edge_status[0]["state"] == "online"
        assert any(m[2] is False for m in rec.messages)  # readings are not retained

        with ControlClient(control) as sim_ctl:
            sim_ctl.send(op="take", bin="C1", qty=3)
            moved = wait_for(
                lambda: [r for r in rec.on("scale-1/reading") if shows(r, 407.8, 0.01)],
                what="reading after a pick",
            )
            assert moved[0]["stable"] is True
            seqs = [r["seq"] for r in rec.on("scale-1/reading")]
            assert seqs == sorted(set(seqs))
            # Ten samples a second streamed; only the changes were published.
            assert len(seqs) <= 3

            sim_ctl.send(op="unplug", device="scale-1")
            wait_for(
                lambda: any(s["state"] == "disconnected" for s in rec.on("scale-1/status")),
                timeout=10,
                what="disconnected status",
            )
            sim_ctl.send(op="take", bin="C1", qty=2)  # picked while the cable was out
            sim_ctl.send(op="plug", device="scale-1")
            wait_for(
                lambda: [r for r in rec.on("scale-1/reading") if shows(r, 393.0, 0.01)],
                timeout=20,
                what="readings after plugging back in",
            )
            assert rec.on("scale-1/status")[-1]["state"] == "online"
            assert rec.on("scale-1/status")[-1]["counters"]["reconnects"] >= 1

            sim_ctl.send(op="garbage", device="scale-2", bytes=300)
            sim_ctl.send(op="take", bin="C4", qty=20)
            wait_for(
                lambda: [r for r in rec.on("scale-2/reading") if shows(r, 225.0, 0.1)],
                what="reading after line noise",
            )

        assert edge.stop() == 0
        assert rec.on("edge/edge-1/status")[-1]["state"] == "offline"
        assert sim.stop() == 0


def test_last_will_when_the_edge_dies(
    make_site: SiteFactory,
    spawn: Callable[..., GudangProcess],
    mqtt_settings: MqttSettings,
    site_id: str,
) -> None:
    site = make_site()
    with MqttRecorder(mqtt_settings, [f"gudang/v1/{site_id}/edge/+/status"]) as rec:
        _, edge, _ = _start(spawn, site)
        wait_for(lambda: rec.on("status"), what="edge birth")
        edge.kill()
        # keepalive 30 s would be slow; a killed process closes its socket, and
        # the broker publishes the will at once.
        last = wait_for(
            lambda: [s for s in rec.on("status") if s["state"] == "offline"],
            timeout=10,
            what="will",
        )
        assert last[-1]["id"] == "edge-1"


def test_heartbeat_repeats_an_unchanged_value(
    make_site: SiteFactory,
    spawn: Callable[..., GudangProcess],
    mqtt_settings: MqttSettings,
    site_id: str,
) -> None:
    site = make_site()
    with MqttRecorder(mqtt_settings, [f"gudang/v1/{site_id}/device/scale-1/reading"]) as rec:
        _start(spawn, site, heartbeat="1")

        def heartbeats() -> list[dict[str, object]]:
            return [r for r in rec.on("reading") if r["reason"] == "heartbeat"]

        wait_for(lambda: len(heartbeats()) >= 2, timeout=10, what="two heartbeats")
        beats = heartbeats()
        # The same load, give or take the one-division flicker of a real display.
        assert abs(beats[0]["weight"] - beats[1]["weight"]) <= 0.01 + 1e-9  # type: ignore[operator]
        assert beats[1]["seq"] > beats[0]["seq"]


def test_a_device_whose_bytes_never_decode_says_so(
    make_site: SiteFactory,
    spawn: Callable[..., GudangProcess],
    mqtt_settings: MqttSettings,
    site_id: str,
) -> None:
    """scale-2 streams A&D lines but the edge expects Toledo frames (the wrong
    protocol, as a wrong baud rate or parity looks): its status says
    `unreadable` with the reason and the bad frames, from the port opening on."""
    site = make_site()
    edge_site = site.with_name("edge-site.yaml")
    text = site.read_text()
    wrong = text.replace(
        "{id: scale-2, protocol: ad-continuous,", "{id: scale-2, protocol: toledo-continuous,"
    )
    assert wrong != text
    edge_site.write_text(wrong)
    with MqttRecorder(mqtt_settings, [f"gudang/v1/{site_id}/device/+/status"]) as rec:
        control = free_port()
        sim = spawn("sim", "--site", str(site), "--control-port", str(control))
        wait_for(lambda: sim.logged("sim_start"), what="simulator")
        edge = spawn("edge", "--site", str(edge_site))
        bad = wait_for(
            lambda: [s for s in rec.on("scale-2/status") if s["state"] == "unreadable"],
            timeout=20,
            what="unreadable status",
        )[0]
        assert bad["reason"] == "no_valid_frames"
        assert "baud rate, parity and protocol" in bad["detail"]
        assert bad["counters"]["bytes_in"] > 0
        assert bad["counters"]["frames_ok"] == 0
        assert bad["counters"]["frames_malformed"] + bad["counters"]["resyncs"] > 0
        # Seen from the moment its port opened, before any frame:
        states = [s["state"] for s in rec.on("scale-2/status")]
        assert states[0] == "connecting", states
        assert rec.on("scale-2/status")[0]["reason"] == "waiting_for_frames"
        # Every state but online carries a reason; the good scale is online.
        assert all(s["reason"] for s in rec.on("/status") if s["state"] != "online")
        wait_for(lambda: any(s["state"] == "online" for s in rec.on("scale-1/status")),
                 what="scale-1 online")  # fmt: skip
        assert edge.stop() == 0
        assert sim.stop() == 0

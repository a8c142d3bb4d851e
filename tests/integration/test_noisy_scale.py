"""A noisy heavy scale, every part real: the simulator with load-cell noise on a
pty -> edge (plateaus) -> Mosquitto -> collector -> InfluxDB. Picks come out
exact, nothing else is counted, and the scale publishes one reading a pick."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gudang.services import free_port
from gudang.settings import InfluxSettings, MqttSettings
from gudang.sim.control import ControlClient
from gudang.testing import GudangProcess, MqttRecorder, influx_rows, wait_for

SiteFactory = Callable[..., Path]


def test_picks_on_a_noisy_scale_are_exact_and_nothing_else_is_published(
    make_site: SiteFactory,
    spawn: Callable[..., GudangProcess],
    mqtt_settings: MqttSettings,
    influx_settings: InfluxSettings,
    site_id: str,
) -> None:
    # scale-1 has no capacity in the site file: the simulator takes 5 t, so
    # 0.03 % is 1.5 kg of noise (15 divisions) under 7.4 kg rebar.
    site = make_site(division=0.1)
    control = free_port()
    sim = spawn("sim", "--site", str(site), "--control-port", str(control), "--settle", "0.5",
                "--noise", "0.0003")  # fmt: skip
    collector = spawn("collector", "--site", str(site))
    wait_for(lambda: sim.logged("sim_start") and collector.logged("mqtt_subscribed"),
             what="sim+collector")  # fmt: skip

    def moves() -> list[tuple[str, float]]:
        q = """SELECT "kind", "delta_qty" FROM "movement" WHERE "bin" = 'C1'"""
        rows = influx_rows(influx_settings, q)
        return [(r["kind"], r["delta_qty"]) for r in sorted(rows, key=lambda r: r["time"])]

    def levels() -> int:
        q = """SELECT count("net_kg") FROM "bin_stock" WHERE "bin" = 'C1'"""
        rows = influx_rows(influx_settings, q)
        return int(rows[0]["count"]) if rows else 0

    topic = f"gudang/v1/{site_id}/device/scale-1/reading"
    with MqttRecorder(mqtt_settings, [topic]) as rec:
        edge = spawn("edge", "--site", str(site))
        wait_for(lambda: levels() >= 1, timeout=30, what="the first level of C1")
        with ControlClient(control) as sim_ctl:
            for n, picks in enumerate([3, 1, 5], start=1):
                sim_ctl.send(op="take", bin="C1", qty=picks)
                wait_for(lambda n=n: len(moves()) >= n, timeout=30, what=f"movement {n}")
        assert moves() == [("pick", -3.0), ("pick", -1.0), ("pick", -5.0)]
        changes = [r for r in rec.on("reading") if r["reason"] == "change"]
        assert len(changes) == 4, changes  # the first plateau, then one a pick
        assert all(r["samples"] >= 3 and r["noise"] > 0.5 for r in changes)
        assert all(r["reason"] == "heartbeat" for r in rec.on("reading") if r not in changes)
    assert edge.stop() == 0
    assert collector.stop() == 0
    assert sim.stop() == 0

"""A chaos run: seeded picks and puts on simulated scales while the collector,
the broker, the edge and InfluxDB are killed (``kill -9``) and restarted at
random, and the simulator too (restarted with its true load, as a power cut
at the indicators would leave it); then every count is compared with the truth.

Used by tests/integration/test_chaos.py (short, in CI) and bench/chaos.py
(``--steps`` as long as you like). Everything runs on loopback with its own
Mosquitto and InfluxDB; each load loop is bounded in count and time.

The truth is what the simulator was told: every pick and put per bin, and the
final quantity. The run passes when InfluxDB holds exactly those movements
(none lost, none doubled, none of a wrong size), the final stock of every bin,
and every reading of every (device, boot) with no gap in ``seq``.
"""

from __future__ import annotations

import contextlib
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gudang.services import InfluxServer, MosquittoServer, free_port
from gudang.settings import InfluxSettings, MqttSettings
from gudang.testing import GudangProcess, influx_rows, service_env, wait_for

__all__ = ["ChaosResult", "run_chaos"]

BINS = ("B1", "B2", "B3")
FAULTS = ("collector", "broker", "edge", "influxdb", "simulator")
START = 100  # pieces per bin: the simulator starts at 2.5 x the reorder point (40)
_MOVES = 'SELECT "kind", "delta_qty" FROM "movement" GROUP BY "bin"'
_STOCK = 'SELECT last("qty") FROM "bin_stock" GROUP BY "bin"'
_SEQS = 'SELECT "seq", "boot_id" FROM "reading" GROUP BY "device"'


STOCK_PRECISION = 0.01  # pieces: a plateau mean is not a multiple of the division


@dataclass
class ChaosResult:
    steps: int
    faults: Counter[str] = field(default_factory=Counter)
    expected: dict[str, list[float]] = field(default_factory=dict)  # bin -> movements
    found: dict[str, list[float]] = field(default_factory=dict)
    final: dict[str, float] = field(default_factory=dict)  # bin -> true quantity
    stored: dict[str, float] = field(default_factory=dict)
    seq_gaps: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.found == self.expected and self.stock_ok and not self.seq_gaps

    @property
    def stock_ok(self) -> bool:
        """Every bin's stored stock is its true quantity, as precisely as a
        plateau mean measures it (a hundredth of a piece)."""
        return same_stock(self.stored, self.final)


def _site(dev: Path, site_id: str) -> str:
    devices = "\n".join(
        # A fast indicator (0.5 s of stable samples make a plateau): the run's
        # tempo leaves a bin 2.7 s between picks, and a plateau must settle
        # between two picks even on a starved machine, or they merge into one.
        f"  - {{id: scale-{i}, protocol: ad-continuous, port: {dev}/scale-{i}, division_kg: 0.1, "
        "settle_s: 0.5}"
        for i in range(1, 4)
    )
    bins = "\n".join(
        f"  - {{id: {b}, rack: R, device: scale-{i}, sku: RB, tare_kg: 60}}"
        for i, b in enumerate(BINS, 1)
    )
    return f"""\
site: {{id: {site_id}, name: Chaos}}
devices:
{devices}
skus:
  - {{id: RB, name: Rebar, unit: pcs, unit_weight_kg: 7.4, minimum: 10, reorder_point: 40,
      reorder_quantity: 50}}
bins:
{bins}
"""


class _Rig:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.broker = MosquittoServer(work / "mosquitto")
        self.influx = InfluxServer(work / "influxdb")
        self.broker.start()
        self.influx.start()
        self.site = work / "site.yaml"
        self.site.write_text(_site(work / "dev", "chaos"))
        self.influx_s = InfluxSettings(url=self.influx.url, database="chaos")
        self.mqtt = MqttSettings(host=self.broker.host, port=self.broker.port)
        self.env = service_env(
            self.mqtt, self.influx_s,
            GUDANG_EDGE_OUTBOX=str(work / "outbox.db"),
            GUDANG_COLLECTOR_SPOOL=str(work / "spool.db"),
            GUDANG_COLLECTOR_STATE=str(work / "state.db"),
        )  # fmt: skip
        self.control = free_port()
        self.n = 0
        self.sim = self.start_sim(dict.fromkeys(BINS, float(START)))
        self.collector = self.start_collector()
        self.edge = self.start_edge()
        # Every bin's first level recorded: the truth starts from there.
        wait_for(lambda: len(influx_rows(self.influx_s, _STOCK)) == len(BINS), timeout=30,
                 what="every bin's first level")  # fmt: skip

    def start_sim(self, qty: dict[str, float]) -> GudangProcess:
        """The simulator with these quantities on its scales (a scenario's `initial`)."""
        scenario = self.work / f"scenario-{self.n}.yaml"
        scenario.write_text("initial: {" + ", ".join(f"{b}: {q}" for b, q in qty.items()) + "}\n")
        proc = self._start("sim", "--site", str(self.site), "--control-port", str(self.control),
                           "--settle", "0.3", "--scenario", str(scenario))  # fmt: skip
        wait_for(lambda: proc.logged("sim_start") or not proc.running, what="simulator")
        return proc

    def send(self, **op: object) -> None:
        from gudang.sim.control import ControlClient

        with ControlClient(self.control) as sim:
            sim.send(**op)

    def online_again(self, before: int) -> Callable[[], bool]:
        """Every scale has come online since `before` online events."""
        return lambda: self.devices_online() >= before + len(BINS)

    def devices_online(self) -> int:
        return sum(e.get("state") == "online" for e in self.edge.events()
                   if e["event"] == "device_state")  # fmt: skip

    def _start(self, *args: str) -> GudangProcess:
        self.n += 1
        return GudangProcess(list(args), self.env, self.work / f"{args[0]}-{self.n}.log")

    def start_collector(self) -> GudangProcess:
        proc = self._start("collector", "--site", str(self.site))
        wait_for(lambda: proc.logged("mqtt_subscribed") or not proc.running, timeout=30,
                 what="collector")  # fmt: skip
        return proc

    def start_edge(self) -> GudangProcess:
        proc = self._start("edge", "--site", str(self.site), "--heartbeat", "5",
                           "--resend-after", "5")  # fmt: skip

        def level_of_every_scale() -> bool:
            settled = {e.get("device") for e in proc.events() if e["event"] == "first_level"}
            return len(settled) == len(BINS) or not proc.running

        # A settled level of every scale before the next pick: a pick it never
        # saw the level before would have no movement to measure (that is not
        # a fault), and two picks before it would merge into one.
        wait_for(level_of_every_scale, timeout=30, what="edge's first level of every scale")
        return proc

    def close(self) -> None:
        for proc in (self.edge, self.collector, self.sim):
            proc.stop()
        self.influx.stop()
        self.broker.stop()


def same_stock(stored: dict[str, float], final: dict[str, float]) -> bool:
    return stored.keys() == final.keys() and all(
        abs(stored[b] - final[b]) <= STOCK_PRECISION for b in final
    )


def run_chaos(
    steps: int = 30,
    seed: int = 11,
    fault_rate: float = 0.3,
    workdir: Path | None = None,
    say: Callable[[str], None] = lambda _: None,
) -> ChaosResult:
    """`steps` picks or puts, a fault after about `fault_rate` of them."""
    started = time.monotonic()
    rng = random.Random(seed)
    result = ChaosResult(steps, expected={b: [] for b in BINS})
    qty = dict.fromkeys(BINS, float(START))
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        rig = _Rig(Path(tmp))
        influx_down_until = -1
        try:
            for step in range(steps):
                b = BINS[step % len(BINS)]
                n = float(rng.choice([1, 2, 3, 5]))
                put = qty[b] - n < 10 or rng.random() < 0.35
                rig.send(op="put" if put else "take", bin=b, qty=n)
                qty[b] += n if put else -n
                result.expected[b].append(n if put else -n)
                if step == influx_down_until:
                    rig.influx.start()
                if rng.random() < fault_rate:
                    fault = rng.choice(FAULTS)
                    result.faults[fault] += 1
                    say(f"step {step}: kill -9 {fault}")
                    if fault == "collector":
                        rig.collector.kill()
                        rig.collector = rig.start_collector()
                    elif fault == "broker":
                        rig.broker.kill()
                        rig.broker.start()
                    elif fault == "edge":
                        # Killed before or after it read the pick: either way
                        # the next edge reads the level after it, one movement.
                        rig.edge.kill()
                        rig.edge = rig.start_edge()
                    elif fault == "simulator":
                        online = rig.devices_online()
                        rig.sim.kill()
                        rig.sim = rig.start_sim(qty)
                        # Back on every port before the next pick (else two
                        # picks could merge while a scale is unread).
                        wait_for(rig.online_again(online), timeout=30,
                                 what="the edge back on every scale")  # fmt: skip
                    elif rig.influx.running:
                        rig.influx.kill()
                        influx_down_until = step + rng.randint(2, 5)
                # The warehouse's tempo, not a wait for anything: a bin is
                # picked every third step, long after the edge read the last.
                time.sleep(0.9)
            if not rig.influx.running:
                rig.influx.start()
            result.final = qty

            def movements() -> dict[str, list[float]]:
                rows = influx_rows(rig.influx_s, _MOVES)
                out: dict[str, list[float]] = {b: [] for b in BINS}
                for r in sorted(rows, key=lambda r: r["time"]):
                    if r["kind"] != "none":
                        out[r["bin"]].append(round(r["delta_qty"], 6))
                return out

            def stock() -> dict[str, float]:
                rows = influx_rows(rig.influx_s, _STOCK)
                return {r["bin"]: round(r["last"], 6) for r in rows}

            with contextlib.suppress(AssertionError):  # compared below, with the details
                wait_for(lambda: movements() == result.expected and same_stock(stock(), qty),
                         timeout=90, what="counts to converge")  # fmt: skip
            result.found, result.stored = movements(), stock()
            rows = influx_rows(rig.influx_s, _SEQS)
            seqs: dict[tuple[str, str], set[int]] = {}
            for r in rows:
                seqs.setdefault((r["device"], r["boot_id"]), set()).add(r["seq"])
            for (device, boot), got in sorted(seqs.items()):
                missing = set(range(max(got) + 1)) - got
                if missing:
                    result.seq_gaps.append(f"{device}/{boot[:8]}: {sorted(missing)[:10]}")
        finally:
            rig.close()
    result.seconds = time.monotonic() - started
    return result

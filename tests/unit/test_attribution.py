"""RFID attribution: a movement at a bay records the tags that arrived there
within the reader's window, with their labels from the tag registry."""

from __future__ import annotations

from pathlib import Path

from gudang.collector.calibration import Calibration
from gudang.collector.engine import StockEngine
from gudang.contract import TagEvent, WeightReading
from gudang.site import Site, parse_site

T0 = 1_764_000_000_000


def site(window: str = "") -> Site:
    return parse_site(f"""\
site: {{id: s1, name: Test}}
devices:
  - {{id: scale-1, protocol: ad-continuous, port: /dev/ttyUSB0}}
  - {{id: gate-c, protocol: rdm6300, port: /dev/ttyUSB1, bay: C{window}}}
skus:
  - {{id: RB, name: Rebar, unit: pcs, unit_weight_kg: 7.4, minimum: 5, reorder_point: 10, reorder_quantity: 50}}
bins:
  - {{id: C1, rack: C, device: scale-1, sku: RB, tare_kg: 60}}
tags:
  - {{id: "0A00B1C2D3", kind: person, label: 'Budi "shift 2"'}}
  - {{id: "0A00B1C2D4", kind: forklift, label: Forklift 2}}
""")  # fmt: skip


def engine(s: Site, tmp: Path) -> StockEngine:
    return StockEngine(s, Calibration(s, tmp / "state.db"))


def weigh(e: StockEngine, seq: int, pieces: int, ts: int) -> list[str]:
    r = WeightReading(device_id="scale-1", boot_id="b", seq=seq, ts=ts, weight=60 + 7.4 * pieces,
                      unit="kg", stable=True, reason="change")  # fmt: skip
    return [line for line in e.reading(r).lines if line.startswith("movement,")]


def arrive(e: StockEngine, seq: int, tag: str, ts: int) -> None:
    e.tag(TagEvent(device_id="gate-c", boot_id="b", seq=seq, ts=ts, tag=tag, event="arrived"))


def test_a_pick_within_the_window_records_tags_and_labels(tmp_path: Path) -> None:
    e = engine(site(), tmp_path)
    weigh(e, 0, 40, T0)
    arrive(e, 0, "0A00B1C2D3", T0 + 5_000)
    arrive(e, 1, "0A00B1C2D4", T0 + 6_000)
    (move,) = weigh(e, 1, 37, T0 + 20_000)
    assert 'kind="pick"' in move and "delta_qty=-3.0" in move
    assert 'tags="0A00B1C2D3,0A00B1C2D4"' in move
    assert r'labels="Budi \"shift 2\"; Forklift 2"' in move  # escaped label


def test_a_pick_outside_the_window_records_no_tag(tmp_path: Path) -> None:
    e = engine(site(), tmp_path)
    weigh(e, 0, 40, T0)
    arrive(e, 0, "0A00B1C2D3", T0)
    (move,) = weigh(e, 1, 37, T0 + 31_000)
    assert 'tags=""' in move and "labels" not in move


def test_the_window_is_set_per_reader(tmp_path: Path) -> None:
    e = engine(site(", attribution_window_s: 60"), tmp_path)
    weigh(e, 0, 40, T0)
    arrive(e, 0, "0A00B1C2D9", T0)  # not in the registry: labelled with its id
    (move,) = weigh(e, 1, 37, T0 + 59_000)
    assert 'tags="0A00B1C2D9"' in move and 'labels="0A00B1C2D9"' in move

"""Partitions keep a SKU's bins, a bin's scale and a rack's reader together;
rendezvous hashing moves only what a new member takes."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gudang.cli import app
from gudang.partitions import assign, expected_rate, groups, revision
from gudang.site import load_site, parse_site

EXAMPLE = Path(__file__).parents[2] / "examples" / "material-center.yaml"

LINKED = """\
site: {id: s1, name: Test}
devices:
  - {id: s1, protocol: ad-continuous, port: /dev/ttyUSB0}
  - {id: s2, protocol: ad-continuous, port: /dev/ttyUSB1}
  - {id: s3, protocol: ad-continuous, port: /dev/ttyUSB2}
  - {id: s4, protocol: ad-continuous, port: /dev/ttyUSB3}
  - {id: idle, protocol: ad-continuous, port: /dev/ttyUSB4}
  - {id: gate-b, protocol: rdm6300, port: /dev/ttyUSB5, bay: B}
skus:
  - {id: RB, name: Rebar, unit: pcs, unit_weight_kg: 7.4, minimum: 1, reorder_point: 2, reorder_quantity: 5}
  - {id: PL, name: Plate, unit: kg, minimum: 1, reorder_point: 2, reorder_quantity: 5}
  - {id: CU, name: Copper, unit: kg, minimum: 1, reorder_point: 2, reorder_quantity: 5}
bins:
  - {id: A1, rack: A, device: s1, sku: RB}
  - {id: A2, rack: A, device: s2, sku: RB}
  - {id: B1, rack: B, device: s3, sku: PL}
  - {id: C1, rack: C, device: s4, sku: CU}
"""  # fmt: skip


def test_what_must_stay_together_does() -> None:
    found = {g.key: (g.devices, g.bins, g.skus) for g in groups(parse_site(LINKED))}
    assert found == {
        "s1": ({"s1", "s2"}, {"A1", "A2"}, {"RB"}),  # one SKU on two scales
        "gate-b": ({"gate-b", "s3"}, {"B1"}, {"PL"}),  # the reader of rack B with its bins
        "s4": ({"s4"}, {"C1"}, {"CU"}),
        "idle": ({"idle"}, set(), set()),
    }


def test_every_group_once_and_the_same_answer_everywhere() -> None:
    site = load_site(EXAMPLE)
    for n in (1, 2, 3, 5):
        parts = assign(site, n)
        keys = [g.key for p in parts for g in p.groups]
        assert sorted(keys) == sorted(g.key for g in groups(site))
        assert [[g.key for g in p.groups] for p in assign(site, n)] == [
            [g.key for g in p.groups] for p in parts]  # fmt: skip


def _many(n: int) -> str:
    """A site of `n` scales, each with its own bin and SKU: `n` groups."""
    devices = [f"  - {{id: d{i}, protocol: ad-continuous, port: /dev/null/{i}}}" for i in range(n)]
    skus = [f"  - {{id: K{i}, name: K, unit: kg, minimum: 1, reorder_point: 2, "
            "reorder_quantity: 5}" for i in range(n)]  # fmt: skip
    bins = [f"  - {{id: b{i}, rack: R, device: d{i}, sku: K{i}}}" for i in range(n)]
    return "\n".join(["site: {id: big, name: Big}", "devices:", *devices, "skus:", *skus,
                      "bins:", *bins, ""])  # fmt: skip


def test_a_new_member_only_takes_and_the_load_is_even() -> None:
    site = parse_site(_many(300))
    before = {g.key: p.member for p in assign(site, 3) for g in p.groups}
    after = {g.key: p.member for p in assign(site, 4) for g in p.groups}
    moved = {k for k in before if before[k] != after[k]}
    assert moved and all(after[k] == 3 for k in moved)  # only to the new member
    assert 0.15 < len(moved) / 300 < 0.35  # about a quarter
    sizes = [len(p.groups) for p in assign(site, 4)]
    assert min(sizes) > 0.6 * 75 and max(sizes) < 1.4 * 75, sizes


def test_partitions_command_prints_the_assignment() -> None:
    result = CliRunner().invoke(app, ["partitions", "--site", str(EXAMPLE), "--members", "3"],
                                terminal_width=200)  # fmt: skip
    assert result.exit_code == 0, result.output
    text = result.output
    assert "member 0" in text and "member 2" in text
    assert "rfid-bay-a" in text and "scale-a1" in text
    assert f"site revision {revision(load_site(EXAMPLE))}" in text
    bad = CliRunner().invoke(app, ["partitions", "--site", str(EXAMPLE), "--members", "0"])
    assert bad.exit_code == 2


def test_collector_member_and_members_go_together() -> None:
    """Refused before anything starts: a member index alone, members alone,
    an index out of range; shared subscriptions are gone (not correct)."""
    for args in (["--member", "1"], ["--members", "2"], ["--members", "2", "--member", "2"]):
        result = CliRunner().invoke(app, ["collector", "--site", str(EXAMPLE), *args])
        assert result.exit_code == 2, (args, result.output)
        assert "go together" in result.output or "0..1" in result.output, result.output
    gone = CliRunner().invoke(app, ["collector", "--site", str(EXAMPLE), "--share-group", "g"])
    assert gone.exit_code == 2 and "No such option" in gone.output


def test_expected_rate_counts_heartbeats_of_scales_and_changes_of_every_device() -> None:
    site = load_site(EXAMPLE)
    scales = {d.id for d in site.devices if d.kind == "scale"}
    readers = {d.id for d in site.devices if d.kind != "scale"}
    assert scales and readers
    assert expected_rate(site, scales, 30.0, 0.0) == pytest.approx(len(scales) / 30.0)
    assert expected_rate(site, readers, 30.0, 0.0) == 0.0  # readers send only on badges
    both = expected_rate(site, scales | readers, 30.0, 36.0)
    assert both == pytest.approx(len(scales) / 30.0 + len(scales | readers) * 2 * 36 / 3600)
    result = CliRunner().invoke(app, ["partitions", "--site", str(EXAMPLE), "--members", "2",
                                      "--heartbeat-s", "30", "--changes-per-hour", "0"],
                                terminal_width=200)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"expected: {len(scales) / 30:.2f} messages/s in all" in result.output

"""Site files: the shipped example is valid, and every problem names its field and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gudang.cli import app
from gudang.errors import ConfigError
from gudang.site import load_site, parse_site

EXAMPLE = Path(__file__).parents[2] / "examples" / "material-center.yaml"

MINIMAL = """\
site: {id: s1, name: Test}
devices:
  - {id: scale-1, protocol: ad-continuous, port: /dev/ttyUSB0}
skus:
  - {id: RB-D10, name: Rebar, unit: pcs, unit_weight_kg: 7.4, minimum: 5, reorder_point: 10, reorder_quantity: 50}
bins:
  - {id: C1, rack: C, device: scale-1, sku: RB-D10, tare_kg: 10}
"""


def problems(text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(ConfigError) as info:
        parse_site(text, "test.yaml")
    return [(p.line, p.path, p.message) for p in info.value.problems]


def test_example_site_is_valid_and_realistic() -> None:
    site = load_site(EXAMPLE)
    assert len({b.rack for b in site.bins}) == 3
    assert len(site.bins) >= 12
    assert {s.unit for s in site.skus} == {"kg", "pcs", "m"}
    plate = site.sku("PLT-SS400-2")
    # 4x8 ft steel plate, 2 mm: 1.219 m x 2.438 m x 2 mm x 7850 kg/m3
    assert plate.unit_weight_kg == pytest.approx(1.2192 * 2.4384 * 0.002 * 7850, rel=0.01)
    assert site.sku("RB-D10").unit_weight_kg == pytest.approx(0.617 * 12, rel=0.01)
    assert site.warnings == []  # every SKU countable on its scale's division


def test_minimal_site_loads() -> None:
    site = parse_site(MINIMAL)
    assert site.sku("RB-D10").quantity(74.0) == pytest.approx(10)
    assert site.devices[0].line.baudrate == 9600


def test_type_error_names_field_and_line() -> None:
    text = MINIMAL.replace("tare_kg: 10", "tare_kg: lots")
    assert problems(text) == [
        (
            7,
            "bins[0].tare_kg",
            "Input should be a valid number, unable to parse string as a number (got 'lots')",
        )
    ]


def test_every_problem_is_reported_at_once() -> None:
    text = MINIMAL.replace("protocol: ad-continuous", "protocol: telepathy").replace(
        "unit: pcs", "unit: bundles"
    )
    found = problems(text)
    assert [(line, path) for line, path, _ in found] == [
        (3, "devices[0].protocol"),
        (5, "skus[0].unit"),
    ]


def test_structure_and_references_in_one_pass_with_the_bad_values() -> None:
    """Five problems of three kinds (a wrong type, two rules of one SKU, two
    references), all in the first report: fixing two only to meet three
    more is a second trip to the rack."""
    text = (
        MINIMAL.replace("tare_kg: 10", "tare_kg: lots")
        .replace("unit_weight_kg: 7.4, ", "")
        .replace("reorder_point: 10", "reorder_point: 1")
        .replace("sku: RB-D10", "sku: RB-D1O")
        + "  - {id: C2, rack: C, device: scale-9, sku: RB-D10}\n"
    )
    found = problems(text)
    assert [(line, path) for line, path, _ in found] == [
        (5, "skus[0]"),
        (7, "bins[0].sku"),
        (7, "bins[0].tare_kg"),
        (8, "bins[1].device"),
    ]
    messages = [m for _, _, m in found]
    assert "unit_weight_kg is required" in messages[0]
    assert "reorder_point (1) must be at least minimum (5)" in messages[0]
    assert messages[1] == "unknown SKU 'RB-D1O'"
    assert messages[2].endswith("(got 'lots')")
    assert messages[3] == "unknown device 'scale-9'"


def test_a_bad_entry_is_still_known_to_the_others() -> None:
    """A device with a wrong protocol is reported once, not again as an
    unknown device of every bin on it."""
    text = MINIMAL.replace("protocol: ad-continuous", "protocol: telepathy")
    assert [(line, path) for line, path, _ in problems(text)] == [(3, "devices[0].protocol")]


def test_missing_field_points_at_its_entry() -> None:
    text = MINIMAL.replace("name: Rebar, ", "")
    assert problems(text) == [(5, "skus[0].name", "Field required")]


def test_unknown_field_is_refused() -> None:
    text = MINIMAL.replace("tare_kg: 10", "tare_kg: 10, tara: 3")
    assert problems(text) == [(7, "bins[0].tara", "Extra inputs are not permitted")]


def test_cross_references_are_checked() -> None:
    text = MINIMAL.replace("device: scale-1", "device: scale-9").replace("sku: RB-D10", "sku: NOPE")
    assert problems(text) == [
        (7, "bins[0].device", "unknown device 'scale-9'"),
        (7, "bins[0].sku", "unknown SKU 'NOPE'"),
    ]


def test_duplicate_ids_and_shared_channels() -> None:
    text = MINIMAL + "  - {id: C1, rack: C, device: scale-1, sku: RB-D10}\n"
    found = problems(text)
    assert (7, "bins[0].id", "duplicate id 'C1'") in found
    assert (8, "bins[1].channel", "scale-1 channel 0 feeds several bins") in found


def test_unit_weight_required_for_pieces_and_thresholds_ordered() -> None:
    text = MINIMAL.replace("unit_weight_kg: 7.4, ", "").replace(
        "reorder_point: 10", "reorder_point: 1"
    )
    (found,) = problems(text)
    assert found[:2] == (5, "skus[0]")
    assert "unit_weight_kg is required" in found[2]


def test_ports_are_checked() -> None:
    text = MINIMAL.replace("port: /dev/ttyUSB0", 'port: "socket://host"')
    assert problems(text)[0][:2] == (3, "devices[0].port")
    assert parse_site(MINIMAL.replace("/dev/ttyUSB0", '"socket://10.0.0.5:4001"'))


def test_identifiers_cannot_break_topics_or_tags() -> None:
    text = MINIMAL.replace("id: C1", "id: 'C/1 #'")
    assert problems(text)[0][:2] == (7, "bins[0].id")


def test_yaml_syntax_error_has_a_line() -> None:
    found = problems(MINIMAL + "  - {id: [unclosed\n")
    assert found[0][0] == 8
    assert "YAML syntax" in found[0][2]


def test_not_a_mapping() -> None:
    assert problems("- just\n- a list\n") == [(1, "", "the file must be a YAML mapping")]


def test_invalid_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUDANG_MQTT__PORT", "eighty")
    result = CliRunner().invoke(app, ["collector", "--site", str(EXAMPLE)])
    assert result.exit_code == 1
    assert "GUDANG_MQTT__PORT" in result.output
    assert "valid integer" in result.output


def test_check_config_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["check-config", str(EXAMPLE)])
    assert ok.exit_code == 0, ok.output
    assert "12 bins" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(MINIMAL.replace("tare_kg: 10", "tare_kg: -3"))
    result = runner.invoke(app, ["check-config", str(bad)])
    assert result.exit_code == 1
    assert "line 7" in result.output
    assert "bins[0].tare_kg" in result.output
    missing = runner.invoke(app, ["check-config", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1
    assert "cannot read" in missing.output


def test_two_devices_on_one_port_are_an_error() -> None:
    text = """\
site: {id: s1, name: Test}
devices:
  - {id: a, protocol: ad-continuous, port: /dev/ttyUSB0}
  - {id: b, protocol: ad-continuous, port: /dev/ttyUSB0}
  - {id: c, protocol: ad-continuous, port: /dev/ttyUSB0, edge: edge-2}
  - {id: d, protocol: toledo-continuous, port: "socket://10.0.0.5:4001"}
  - {id: e, protocol: toledo-continuous, port: "socket://10.0.0.5:4001", edge: edge-2}
"""
    with pytest.raises(ConfigError) as exc:
        parse_site(text)
    found = {(p.path, p.line) for p in exc.value.problems}
    # c: the same path on another edge machine is another port; e: one network port.
    assert found == {("devices[1].port", 4), ("devices[4].port", 7)}
    assert "also the port of a" in str(exc.value)


COUNTING = """\
site: {id: s1, name: Test}
devices:
  - {id: s1, protocol: ad-continuous, port: /dev/ttyUSB0, division_kg: 1.0}
  - {id: s2, protocol: ad-continuous, port: /dev/ttyUSB1, division_kg: 0.02}
skus:
  - {id: CU-15, name: Copper pipe, unit: pcs, unit_weight_kg: 3.1, minimum: 1, reorder_point: 2, reorder_quantity: 5}
  - {id: CU-M, name: Copper pipe, unit: m, unit_weight_kg: 0.394, minimum: 1, reorder_point: 2, reorder_quantity: 5}
  - {id: PL, name: Plate, unit: pcs, unit_weight_kg: 46.66, minimum: 1, reorder_point: 2, reorder_quantity: 5}
bins:
  - {id: B1, rack: B, device: s1, sku: CU-15}
  - {id: B2, rack: B, device: s1, channel: 1, sku: CU-M}
  - {id: B3, rack: B, device: s2, sku: CU-15}
  - {id: A1, rack: A, device: s1, channel: 2, sku: PL}
"""  # fmt: skip


def test_counting_warnings_name_the_bin_and_line() -> None:
    site = parse_site(COUNTING)
    found = {(w.path, w.line): w.message for w in site.warnings}
    assert set(found) == {("bins[0].sku", 10), ("bins[1].sku", 11)}
    assert found[("bins[0].sku", 10)].startswith(
        "CU-15: one piece is 3.1 kg, the scale's division is 1 kg: single-piece picks "
        "cannot be told apart"
    )
    assert "movements under 2.5 m are not recorded" in found[("bins[1].sku", 11)]


def test_measured_noise_is_judged_on_the_edges_longest_average() -> None:
    site = parse_site(COUNTING)
    quiet = site.counting_warnings({"s2": (0.1, 80)})  # 4 x 0.1 x sqrt(2/80) = 0.063 kg
    assert [loc for loc, _ in quiet] == [("bins", 0, "sku"), ("bins", 1, "sku")]
    noisy = site.counting_warnings({"s2": (1.2, 20)})  # 1.52 kg > 0.3 x 3.1 kg
    assert ("bins", 2, "sku") in [loc for loc, _ in noisy]
    message = dict(noisy)[("bins", 2, "sku")]
    assert "the scale's noise is 1.2 kg (1.52 kg on a plateau of 20 samples)" in message


def test_check_config_prints_warnings_and_still_passes(tmp_path: Path) -> None:
    f = tmp_path / "site.yaml"
    f.write_text(COUNTING)
    result = CliRunner().invoke(app, ["check-config", str(f)])
    assert result.exit_code == 0, result.output
    assert "2 warning(s)" in result.output
    assert "CU-15: one piece is 3.1 kg" in result.output


REPLENISHED = """\
site: {id: s1, name: Test}
devices:
  - {id: scale-1, protocol: ad-continuous, port: /dev/ttyUSB0}
  - {id: scale-2, protocol: ad-continuous, port: /dev/ttyUSB1}
skus:
  - {id: RB-D10, name: Rebar, unit: pcs, unit_weight_kg: 7.4, minimum: 5, reorder_point: 10, reorder_quantity: 50, group: besi, service_level: 0.99}
  - {id: PL, name: Plate, unit: kg, minimum: 5, reorder_point: 10, reorder_quantity: 50}
bins:
  - {id: C1, rack: C, device: scale-1, sku: RB-D10}
  - {id: C2, rack: C, device: scale-2, sku: PL}
replenishment:
  lead_time_days: 10
  closed_weekdays: [sat, sun]
  closed_dates: [2026-12-25]
  groups: {besi: {lead_time_days: 4, review_days: 14}}
"""  # fmt: skip


def test_replenishment_terms_sku_then_group_then_site() -> None:
    from datetime import date

    site = parse_site(REPLENISHED)
    rebar, plate = site.policy(site.sku("RB-D10")), site.policy(site.sku("PL"))
    assert (rebar.lead_time_days, rebar.review_days, rebar.service_level) == (4, 14, 0.99)
    assert (plate.lead_time_days, plate.review_days, plate.service_level) == (10, 7, 0.95)
    cal = site.calendar
    assert not cal.open(date(2026, 12, 25)) and not cal.open(date(2026, 12, 26))
    assert cal.open(date(2026, 12, 28))


def test_replenishment_settings_are_checked() -> None:
    found = problems(MINIMAL.replace("name: Test}", "name: Test, timezone: Mars/Olympus}")
                     + "replenishment: {service_level: 1.5, groups: {nope: {lead_time_days: 3}}}\n")  # fmt: skip
    assert [(path, message.split(" (")[0]) for _, path, message in found] == [
        ("site.timezone", "unknown time zone 'Mars/Olympus'"),
        ("replenishment.service_level", "Input should be less than or equal to 0.999"),
    ]
    unknown_group = problems(MINIMAL + "replenishment: {groups: {nope: {lead_time_days: 3}}}\n")
    assert unknown_group == [(8, "replenishment.groups.nope", "no SKU is in group 'nope'")]

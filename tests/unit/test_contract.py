"""The MQTT contract: topics, payload models, and the exported schema files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from gudang.contract import TOPICS, TopicKind, WeightReading, parse, topic
from gudang.contract.ids import IDENT_PATTERN
from gudang.contract.schema import render_schemas, splice_table
from gudang.contract.topics import subscription

ROOT = Path(__file__).parents[2]
READING = {
    "device_id": "scale-a1",
    "boot_id": "b1",
    "seq": 0,
    "ts": 1_764_000_000_000,
    "weight": 12.34,
    "unit": "kg",
    "stable": True,
    "reason": "change",
}


def test_every_kind_has_one_topic_and_qos1() -> None:
    assert {s.kind for s in TOPICS} == set(TopicKind)
    assert len({s.pattern for s in TOPICS}) == len(TOPICS)
    assert all(s.qos == 1 for s in TOPICS)
    retained = {s.kind for s in TOPICS if s.retain}
    assert retained == {
        TopicKind.DEVICE_STATUS, TopicKind.EDGE_STATUS, TopicKind.COLLECTOR_STATUS,
        TopicKind.ALERT, TopicKind.SKU_SETTINGS,
    }  # fmt: skip
    assert parse("gudang/v1/s/sku/RB-D10/settings").kind is TopicKind.SKU_SETTINGS  # type: ignore[union-attr]
    assert parse("gudang/v1/s/alert/low_stock/RB-D10/ack").kind is TopicKind.ALERT_ACK  # type: ignore[union-attr]
    assert parse("gudang/v1/s/alert/low_stock/RB-D10").kind is TopicKind.ALERT  # type: ignore[union-attr]


def test_topic_build_and_parse() -> None:
    t = topic(TopicKind.READING, "pusat", device_id="scale-a1")
    assert t == "gudang/v1/pusat/device/scale-a1/reading"
    parsed = parse(t)
    assert parsed is not None
    assert (parsed.kind, parsed.site, parsed.levels) == (
        TopicKind.READING,
        "pusat",
        {"device_id": "scale-a1"},
    )
    assert parse("gudang/v1/pusat/device/scale-a1/cmd/reply").kind is TopicKind.COMMAND_REPLY  # type: ignore[union-attr]
    assert subscription(TopicKind.READING, "pusat") == "gudang/v1/pusat/device/+/reading"


@pytest.mark.parametrize("bad", ["a/b", "+", "#", "", "a b", "-x"])
def test_topic_levels_must_be_identifiers(bad: str) -> None:
    with pytest.raises(ValueError):
        topic(TopicKind.READING, "pusat", device_id=bad)


@pytest.mark.parametrize(
    "name",
    [
        "gudang/v2/pusat/device/x/reading",
        "gudang/v1/pusat/device/x/reading/extra",
        "gudang/v1/pusat/device/x y/reading",
        "other/topic",
        "",
    ],
)
def test_foreign_topics_are_not_parsed(name: str) -> None:
    assert parse(name) is None


@given(st.from_regex(IDENT_PATTERN, fullmatch=True), st.from_regex(IDENT_PATTERN, fullmatch=True))
def test_build_parse_round_trip(site: str, device: str) -> None:
    for kind in (TopicKind.READING, TopicKind.TAG, TopicKind.DEVICE_STATUS, TopicKind.COMMAND):
        parsed = parse(topic(kind, site, device_id=device))
        assert parsed is not None and parsed.kind is kind
        assert parsed.site == site and parsed.levels == {"device_id": device}


def test_reading_model_accepts_the_contract_and_refuses_the_rest() -> None:
    r = WeightReading.model_validate(READING)
    assert r.v == 1 and r.mode == "gross" and r.state == "ok"
    assert WeightReading.model_validate_json(r.model_dump_json()) == r
    for change in (
        {"extra": 1},
        {"seq": -1},
        {"ts": 12},  # seconds, not ms: a clock fault
        {"unit": "pc"},
        {"weight": float("nan")},
        {"device_id": "a/b"},
        {"v": 2},
    ):
        with pytest.raises(ValidationError):
            WeightReading.model_validate({**READING, **change})


def test_exported_schema_files_are_current() -> None:
    for name, text in render_schemas().items():
        path = ROOT / "docs" / "schema" / name
        assert path.exists(), f"{path} missing: run `make schema`"
        assert path.read_text() == text, f"{path} is stale: run `make schema`"


def test_contract_doc_topic_table_is_current() -> None:
    doc = (ROOT / "docs" / "contract.md").read_text()
    assert splice_table(doc) == doc, "docs/contract.md topic table is stale: run `make schema`"


def _leaves(node: object, path: str = "") -> list[tuple[str, dict[str, object]]]:
    """Every typed schema node below `node`, with a readable path."""
    out: list[tuple[str, dict[str, object]]] = []
    if isinstance(node, dict):
        if node.get("type") in ("number", "integer", "string"):
            out.append((path, node))
        for key, value in node.items():
            out += _leaves(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _leaves(value, f"{path}[{i}]")
    return out


def test_every_value_in_the_schema_is_bounded() -> None:
    """Numbers have a minimum and a maximum, strings a length limit, pattern or
    fixed set: what the contract admits, InfluxDB can store."""
    for name, text in render_schemas().items():
        for path, node in _leaves(json.loads(text)):
            where = f"{name}{path}"
            if "const" in node or "enum" in node:
                continue
            if node["type"] in ("number", "integer"):
                assert "minimum" in node or "exclusiveMinimum" in node, where
                assert "maximum" in node or "exclusiveMaximum" in node, where
                if node["type"] == "integer":
                    assert node.get("maximum", 0) <= 2**63 - 1, where  # type: ignore[operator]
            else:
                assert {"maxLength", "pattern"} & node.keys(), where

"""Help texts say what they mean: rich markup must not eat a "[default: ...]"."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from gudang.cli import app


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["api", "--help"], ["GUDANG_API__HOST or 127.0.0.1", "GUDANG_API__PORT or 8000"]),
        (["edge", "--help"], ["./gudang-<edge-id>-outbox.db"]),
        (["api-key", "create", "--help"], ["GUDANG_API__STATE_FILE or ./gudang-api.db"]),
    ],
)
def test_defaults_are_shown(args: list[str], shown: list[str]) -> None:
    result = CliRunner().invoke(app, args, env={"COLUMNS": "240", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for expected in shown:
        assert expected in text
    # What the markup left of a swallowed "[default: ...]": "Listen port ."
    assert re.search(r" \.(\s|$)", text) is None

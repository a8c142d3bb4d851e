"""Help texts say what they mean: defaults shown whole, flags without a type."""

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
    result = CliRunner().invoke(app, args, env={"NO_COLOR": "1"}, terminal_width=240)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for expected in shown:
        assert expected in text
    # What the markup left of a swallowed "[default: ...]": "Listen port ."
    assert re.search(r" \.(\s|$)", text) is None


def _commands() -> list[list[str]]:
    """Every command and sub-command of the CLI, as argv prefixes."""
    import typer.main

    group = typer.main.get_command(app)
    found: list[list[str]] = [[]]
    for name, cmd in group.commands.items():  # type: ignore[attr-defined]
        found.append([name])
        for sub in getattr(cmd, "commands", {}):
            found.append([name, sub])
    return found


@pytest.mark.parametrize("argv", _commands(), ids=lambda a: " ".join(a) or "gudang")
def test_help_reads_like_a_command_line(argv: list[str]) -> None:
    """Flags take no value, so no type is shown for them (`--help <bool>`
    read as if --help wanted one); arguments are named in capitals in the
    usage line (`{file}` looked like a template left unfilled)."""
    result = CliRunner().invoke(app, [*argv, "--help"], env={"NO_COLOR": "1"}, terminal_width=240)
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    usage = next(line for line in result.output.splitlines() if "Usage:" in line)
    assert "{" not in usage, usage

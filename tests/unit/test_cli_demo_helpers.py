"""`gudang sim-control` and `api-key --demo`: clear errors before anything is sent."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gudang.cli import app


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no var/demo here
    return tmp_path


@pytest.mark.parametrize(
    ("argv", "code", "said"),
    [
        (["take", "bin=A2", "qty=many", "--port", "1"], 2, "qty: Input should be a valid number"),
        (["take", "binA2", "--port", "1"], 2, "fields are NAME=VALUE"),
        (["explode", "--port", "1"], 2, "does not match any of the expected tags"),
        (["take", "bin=A2", "qty=3"], 1, "no running demo here"),
    ],
)
def test_sim_control_refuses_before_sending(
    elsewhere: Path, argv: list[str], code: int, said: str
) -> None:
    result = CliRunner().invoke(app, ["sim-control", *argv], terminal_width=200)
    assert result.exit_code == code, result.output
    assert said in " ".join(result.output.split())


def test_sim_control_names_a_port_nobody_listens_on(elsewhere: Path) -> None:
    from gudang.services import free_port

    port = free_port()
    result = CliRunner().invoke(app, ["sim-control", "status", "--port", str(port)])
    assert result.exit_code == 1
    assert f"no simulator on 127.0.0.1:{port}" in result.output


def test_api_key_demo_without_a_demo(elsewhere: Path) -> None:
    result = CliRunner().invoke(app, ["api-key", "create", "--name", "x", "--demo"])
    assert result.exit_code == 1
    assert "no demo here" in result.output
    assert not (elsewhere / "gudang-api.db").exists()  # nothing made beside it

"""Packaging and architecture rules that are easy to break without noticing."""

from __future__ import annotations

import ast
import importlib.util
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_package_folder_is_listed() -> None:
    setuptools = PYPROJECT["tool"]["setuptools"]
    mapping: dict[str, str] = setuptools["package-dir"]
    listed = set(setuptools["packages"])
    found = set()
    for pkg, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([pkg, *rel.parts]))
    assert found == listed, f"pyproject packages differ from folders: {found ^ listed}"


@pytest.mark.parametrize("name", ["api", "edge", "collector", "sim", "firmware_sim"])
def test_no_generic_top_level_modules(name: str) -> None:
    assert importlib.util.find_spec(name) is None


def _imports(folder: Path) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for path in folder.rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
        out[str(path.relative_to(ROOT))] = names
    return out


@pytest.mark.parametrize(
    ("folder", "forbidden"),
    [
        ("firmware-sim", "gudang.edge"),
        ("edge", "gudang.sim"),
        ("edge", "gudang.collector"),
        ("api", "gudang.collector"),
        ("collector", "gudang.api"),
    ],
)
def test_independent_witnesses(folder: str, forbidden: str) -> None:
    """Simulators implement devices from the manuals, never from the edge's code;
    components share only the root package (contract, site, influx)."""
    for path, names in _imports(ROOT / folder).items():
        bad = {n for n in names if n == forbidden or n.startswith(forbidden + ".")}
        assert not bad, f"{path} imports {bad}"


def test_cli_has_every_part() -> None:
    from typer.main import get_command

    from gudang.cli import app

    commands = set(get_command(app).commands)  # type: ignore[attr-defined]
    assert {"edge", "collector", "api", "sim", "demo", "check-config", "schema"} <= commands


def _modules() -> list[str]:
    """Every module of the distribution, by pyproject's package-dir mapping
    (pkgutil cannot see the editable install's mapped folders)."""
    mapping: dict[str, str] = PYPROJECT["tool"]["setuptools"]["package-dir"]
    names = set()
    for pkg, folder in mapping.items():
        for path in (ROOT / folder).rglob("*.py"):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            names.add(".".join([pkg, *parts]))
    return sorted(n for n in names if not n.endswith("__main__"))


def test_every_public_exception_is_a_gudang_error() -> None:
    """One tree (gudang.errors): a caller can catch GudangError and know it
    is ours; private control-flow exceptions (a leading _) are exempt."""
    import importlib

    from gudang.errors import GudangError

    modules = _modules()
    assert "gudang.collector.mqtt.connection" in modules and "gudang.sim.site" in modules
    outside: list[str] = []
    for name in modules:
        module = importlib.import_module(name)
        for attr, obj in vars(module).items():
            if (
                isinstance(obj, type)
                and issubclass(obj, BaseException)
                and obj.__module__ == name
                and not attr.startswith("_")
                and not issubclass(obj, GudangError)
            ):
                outside.append(f"{name}.{attr}")
    assert outside == []

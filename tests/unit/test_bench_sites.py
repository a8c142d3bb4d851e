"""The benchmarks' generated site files load cleanly: a benchmark that cannot
start its collector (as after the duplicate-port check) rots unnoticed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from gudang.site.loader import load_site

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _bench(name: str) -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


@pytest.mark.parametrize("name", ["collector_throughput", "api_load"])
def test_bench_site_loads_without_warnings(name: str, tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    _bench(name).write_site(path)
    site = load_site(path)
    assert site.devices
    assert not site.warnings

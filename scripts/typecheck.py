"""Type-check gudang strictly (mypy --strict), as `make test` does.

The repository keeps edge/, collector/, api/ and firmware-sim/ at the top and
installs them as gudang.edge, gudang.collector, gudang.api and gudang.sim
(pyproject's package-dir). The editable install maps them with an import hook
that type checkers cannot follow, so this script lays the package out as it is
installed, with symbolic links in build/typecheck/, and checks that; errors
are printed with the repository's own paths.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREE = ROOT / "build" / "typecheck"
SUBPACKAGES = {"edge": "edge", "collector": "collector", "api": "api", "sim": "firmware-sim"}


def lay_out(tree: Path) -> Path:
    """The package as an install lays it out, in `tree`, with symbolic links
    (tests/unit/test_child_processes.py uses it too); returns `tree`."""
    shutil.rmtree(tree, ignore_errors=True)
    pkg = tree / "gudang"
    pkg.mkdir(parents=True)
    for entry in (ROOT / "gudang").iterdir():
        if entry.name != "__pycache__":
            (pkg / entry.name).symlink_to(entry)
    for name, folder in SUBPACKAGES.items():
        (pkg / name).symlink_to(ROOT / folder)
    return tree


def main() -> int:
    lay_out(TREE)
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), "-p",
         "gudang"],
        cwd=TREE, capture_output=True, text=True, check=False,
    )  # fmt: skip
    out = done.stdout
    for name, folder in SUBPACKAGES.items():
        out = out.replace(f"gudang/{name}/", f"{folder}/")
    sys.stdout.write(out)
    sys.stderr.write(done.stderr)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())

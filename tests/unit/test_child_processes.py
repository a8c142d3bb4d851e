"""Children that gudang starts (servers in tests and the demo, `gudang <command>`
processes): they die with their owner, and they run the installed package
whatever their working directory holds."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

from gudang.services.process import with_parent_death
from gudang.testing import wait_for

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("gudang", "edge", "collector", "api", "firmware-sim")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by init) counts as gone.
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_a_child_dies_with_its_owner_even_by_sigkill(tmp_path: Path) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c",
         "import subprocess, sys\n"
         "from gudang.services.process import with_parent_death\n"
         "child = subprocess.Popen(with_parent_death(['sleep', '300']), start_new_session=True)\n"
         "print(child.pid, flush=True)\n"
         "sys.stdin.read()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert owner.stdout is not None
    child = int(owner.stdout.readline())
    assert _alive(child)
    # setpriv arms the death signal, then becomes `sleep`: an owner killed
    # before that (a busy machine) leaves nothing armed yet.
    comm = Path(f"/proc/{child}/comm")
    wait_for(lambda: comm.read_text().strip() == "sleep", timeout=10, what="setpriv to exec")
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    wait_for(lambda: not _alive(child), timeout=10, what="the orphan to get SIGTERM")


def test_no_preexec_fn_anywhere() -> None:
    """preexec_fn runs Python between fork and exec: unsafe in a process with
    threads (it can deadlock on a lock another thread held at the fork)."""
    users = [
        str(path.relative_to(ROOT))
        for folder in (*FOLDERS, "bench", "tests")
        for path in (ROOT / folder).rglob("*.py")
        if "preexec" + "_fn=" in path.read_text()
    ]
    assert users == []
    assert with_parent_death(["true"])[-1] == "true"


def _installed_layout(tmp: Path) -> Path:
    """The package as a (non-editable) install lays it out."""
    spec = importlib.util.spec_from_file_location("typecheck", ROOT / "scripts" / "typecheck.py")
    assert spec is not None and spec.loader is not None
    typecheck = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(typecheck)
    tree: Path = typecheck.lay_out(tmp / "site")
    return tree


def test_a_child_started_in_a_checkout_runs_the_installed_package(tmp_path: Path) -> None:
    """`python -m gudang.cli` started in the repository root would import the
    checkout's gudang/ folder (only part of the package: no collector) unless
    the safe path is on; GudangProcess and the tests set it."""
    site = _installed_layout(tmp_path)
    deps = sysconfig.get_paths()["purelib"]
    # -S: no .pth files, so no editable-install hook; only the layout above.
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{deps}"}
    # As `python -m gudang.cli collector` does once it starts the collector.
    argv = [sys.executable, "-S", "-c", "import gudang.collector.service, gudang.sim.runner"]
    unsafe = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert "No module named 'gudang.collector'" in unsafe.stderr  # the checkout's gudang/
    safe = subprocess.run(argv, cwd=ROOT, env={**env, "PYTHONSAFEPATH": "1"},
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert safe.returncode == 0, safe.stderr[-2000:]

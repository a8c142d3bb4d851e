"""`gudang demo` (what `make demo` runs): stock served within 60 s, nothing left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from gudang.services import free_port
from gudang.testing import auth, wait_for

ROOT = Path(__file__).parents[2]


def _processes_mentioning(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in cmdline:
                pids.append(int(entry.name))
    return pids


def test_demo_serves_stock_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    workdir = tmp_path / "demo"
    out = (tmp_path / "demo.out").open("wb")
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gudang.cli",
            "demo",
            "--workdir",
            str(workdir),
            "--api-port",
            str(port),
        ],
        cwd=ROOT,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    try:

        def stock() -> list[dict[str, object]]:
            key_file = workdir / "api" / "demo-key.txt"
            if not key_file.exists():
                return []
            headers = auth(key_file.read_text().strip())
            try:
                resp = httpx.get(
                    f"http://127.0.0.1:{port}/api/v1/stock", timeout=2, headers=headers
                )
            except httpx.HTTPError:
                return []
            if resp.status_code != 200:
                return []
            items = resp.json()["items"]
            return items if all(i["quantity"] is not None for i in items) else []

        items = wait_for(stock, timeout=60, interval=0.5, what="demo stock")
        assert len(items) == 12
        out.flush()
        wait_for(
            lambda: "gudang is running" in (tmp_path / "demo.out").read_text(), what="ready line"
        )
        assert _processes_mentioning(str(workdir)), "the demo's children should be running"
    finally:
        demo.send_signal(signal.SIGTERM)
        code = demo.wait(60)
        out.close()
    output = (tmp_path / "demo.out").read_text()
    assert code == 0, output
    assert f"http://127.0.0.1:{port}/api/v1/stock" in output
    assert f"http://127.0.0.1:{port}/#key=gk_" in output  # the dashboard, signed in
    assert "nothing left running" in output
    assert _processes_mentioning(str(workdir)) == []

"""`gudang demo` (what `make demo` runs): stock served within 60 s, the whole
story a visitor should see (pick, who, alert, acknowledge, delivery, cleared)
driven by `gudang sim-control`, links printed whole, nothing left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

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
        env={**os.environ, "GUDANG_API__CONSUMPTION_REFRESH_S": "1"},
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
        # A month of history behind every SKU: each has a consumption rate.
        forecasts = wait_for(
            lambda: all((i.get("replenishment") or {}).get("rate_per_day") for i in stock())
            and stock(), timeout=30, what="a rate for every SKU",
        )  # fmt: skip
        covers = [i["replenishment"]["days_of_cover"] for i in forecasts]
        assert all(c is not None and c > 0 for c in covers), covers
        _story(workdir, port)
    finally:
        demo.send_signal(signal.SIGTERM)
        code = demo.wait(60)
        out.close()
    output = (tmp_path / "demo.out").read_text()
    assert code == 0, output
    assert f"http://127.0.0.1:{port}/api/v1/stock" in output
    # The dashboard link, signed in, whole on one line (a wrapped one copies
    # as a broken key), and a command to act on the racks with the real port.
    key = (workdir / "api" / "demo-key.txt").read_text().strip()
    assert f"http://127.0.0.1:{port}/#key={key}\n" in output
    control = (workdir / "sim-control-port").read_text().strip()
    assert f"sim-control take bin=A2 qty=3 --port {control}\n" in output
    assert "nc " not in output
    assert "nothing left running" in output
    assert _processes_mentioning(str(workdir)) == []


def _sim(control: str, *argv: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gudang.cli", "sim-control", *argv, "--port", control],
        cwd=ROOT, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert '"ok": true' in done.stdout


def _story(workdir: Path, port: int) -> None:
    """Budi badges in at rack A and takes 22 sheets from A2 (25 -> 3, under
    its minimum of 5): the movement names him, a low-stock alert is raised
    (the demo's 5 s dwell), acknowledged with a note, and cleared by a
    delivery."""
    control = (workdir / "sim-control-port").read_text().strip()
    headers = auth((workdir / "api" / "demo-key.txt").read_text().strip())
    api = httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", headers=headers, timeout=5)

    def get(path: str, **params: str) -> Any:
        resp = api.get(path, params=params)
        assert resp.status_code == 200, resp.text
        return resp.json()

    _sim(control, "tag_enter", "device=rfid-bay-a", "tag=010D0F2B3E")
    # Only movements from now on: the demo's month of history has picks from
    # A2 in the last day too (just after midnight, yesterday's are within it).
    since = str(int(time.time() * 1000))
    _sim(control, "take", "bin=A2", "qty=22")
    pick = wait_for(
        lambda: [m for m in get("/movements", bin="A2", start=since)["items"]
                 if m["kind"] == "pick"],
        timeout=30, what="the pick from A2",
    )  # fmt: skip
    assert pick[0]["delta_qty"] == -22
    assert pick[0]["labels"] == ["Budi (gudang)"]

    def low() -> list[dict[str, Any]]:
        return [a for a in get("/alerts")["items"]
                if (a["kind"], a["subject"]) == ("low_stock", "PLT-SS400-3")]  # fmt: skip

    (alert,) = wait_for(low, timeout=40, what="a low-stock alert for A2's plate")
    assert alert["state"] == "raised"
    resp = api.post("/alerts/low_stock/PLT-SS400-3/ack", json={"by": "Budi", "note": "dipesan"})
    assert resp.status_code == 202, resp.text
    (acked,) = wait_for(lambda: [a for a in low() if a["state"] == "acknowledged"],
                        timeout=20, what="the acknowledgement")  # fmt: skip
    assert (acked["acknowledged_by"], acked["note"]) == ("Budi", "dipesan")
    _sim(control, "put", "bin=A2", "qty=22")
    wait_for(lambda: not low(), timeout=40, what="the delivery to clear the alert")
    api.close()
    # A key made beside the running demo works at once (the README's way).
    made = subprocess.run(
        [sys.executable, "-m", "gudang.cli", "api-key", "create", "--name", "ordering",
         "--state-file", str(workdir / "api" / "state.db")],
        cwd=ROOT, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    resp = httpx.get(f"http://127.0.0.1:{port}/api/v1/stock", headers=auth(made.stdout.strip()))
    assert resp.status_code == 200, resp.text

"""State, outbox, spool and key files are private (0600 in a 0700 folder)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from structlog.testing import capture_logs

from gudang.sqlite import open_db


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_files_and_folders_gudang_creates_are_private(tmp_path: Path) -> None:
    path = tmp_path / "var" / "gudang" / "state.db"
    db = open_db(path, "normal", "CREATE TABLE IF NOT EXISTS t (x);")
    db.execute("INSERT INTO t VALUES (1)")
    assert mode(tmp_path / "var") == 0o700
    assert mode(tmp_path / "var" / "gudang") == 0o700
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["state.db", "state.db-shm", "state.db-wal"]
    assert all(mode(path.parent / f) == 0o600 for f in files)
    db.close()


def test_a_file_found_open_to_others_is_logged(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    open_db(path, "normal", "").close()
    os.chmod(path, 0o644)
    with capture_logs() as logs:
        open_db(path, "normal", "").close()
    [event] = [e for e in logs if e["event"] == "loose_permissions"]
    assert event["path"] == str(path) and event["mode"] == "0o644"
    assert event["fix"] == f"chmod 600 {path}"

"""Alert state on disk (SQLite), so that it survives collector restarts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from gudang.contract import Alert

__all__ = ["AlertStore"]


class AlertStore:
    def __init__(self, path: Path | str) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS alert (kind TEXT NOT NULL, subject TEXT NOT NULL,"
            " body TEXT NOT NULL, PRIMARY KEY (kind, subject))"
        )

    def save(self, alert: Alert) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO alert (kind, subject, body) VALUES (?, ?, ?)",
            (alert.kind, alert.subject, alert.model_dump_json()),
        )

    def load(self) -> list[Alert]:
        rows = self._db.execute("SELECT body FROM alert").fetchall()
        return [Alert.model_validate_json(r[0]) for r in rows]

    def close(self) -> None:
        self._db.close()

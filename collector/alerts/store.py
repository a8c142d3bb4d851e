"""Alert state on disk (SQLite), so that it survives collector restarts."""

from __future__ import annotations

from pathlib import Path

from gudang.contract import Alert
from gudang.sqlite import open_db

__all__ = ["AlertStore"]


class AlertStore:
    def __init__(self, path: Path | str) -> None:
        self._db = open_db(
            path,
            "full",
            "CREATE TABLE IF NOT EXISTS alert (kind TEXT NOT NULL, subject TEXT NOT NULL,"
            " body TEXT NOT NULL, PRIMARY KEY (kind, subject));",
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

"""Alert state on disk (SQLite), so that it survives collector restarts: each
alert's newest state, and what is pending (dwell timers, bins whose count is
off) as one document.

Saves are gathered and written in one transaction by ``flush()``, which the
collector calls before it acknowledges the messages that caused them: one
fsync per received batch, not one per alert transition (an alert storm would
otherwise stall ingestion on the disk).
"""

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
            " body TEXT NOT NULL, PRIMARY KEY (kind, subject));"
            "CREATE TABLE IF NOT EXISTS alert_pending (id INTEGER PRIMARY KEY CHECK (id = 0),"
            " body TEXT NOT NULL);",
        )
        self._unsaved: dict[tuple[str, str], Alert] = {}
        self._pending: str | None = None  # not yet saved
        row = self._db.execute("SELECT body FROM alert_pending").fetchone()
        self._saved_pending: str = row[0] if row else "{}"

    def save(self, alert: Alert) -> None:
        """Remember the newest state of (kind, subject); durable at ``flush()``."""
        self._unsaved[(alert.kind, alert.subject)] = alert

    def save_pending(self, body: str) -> None:
        """What is pending now (a JSON document); durable at ``flush()``,
        written only when it differs from what is on disk."""
        self._pending = None if body == self._saved_pending else body

    def pending(self) -> str:
        """The pending document last saved ("{}" when none)."""
        return self._saved_pending

    def flush(self) -> None:
        if not self._unsaved and self._pending is None:
            return
        rows = [(a.kind, a.subject, a.model_dump_json()) for a in self._unsaved.values()]
        with self._db:  # one transaction
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO alert (kind, subject, body) VALUES (?, ?, ?)", rows
            )
            if self._pending is not None:
                self._db.execute("INSERT OR REPLACE INTO alert_pending (id, body) VALUES (0, ?)",
                                 (self._pending,))  # fmt: skip
        self._unsaved.clear()
        if self._pending is not None:
            self._saved_pending, self._pending = self._pending, None

    def latest(self) -> list[Alert]:
        """The newest state of every alert ever raised, saved or not yet."""
        newest: dict[tuple[str, str], Alert] = {(a.kind, a.subject): a for a in self.load()}
        newest.update(self._unsaved)
        return list(newest.values())

    def load(self) -> list[Alert]:
        rows = self._db.execute("SELECT body FROM alert").fetchall()
        return [Alert.model_validate_json(r[0]) for r in rows]

    def close(self) -> None:
        self.flush()
        self._db.close()

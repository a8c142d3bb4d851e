"""Alert state on disk (SQLite), so that it survives collector restarts: each
alert's newest state, and what is pending (dwell timers, bins whose count is
off) as one document.

What the file holds must be the state as of the last batch whose readings
are durable and acknowledged: after a crash the broker sends the rest again,
and they are judged again from exactly that state (so the same transitions
come out, and the alert points of a batch that never reached InfluxDB are
made again). Hence ``stage()`` at the end of a batch (taken out of what is
unsaved, kept in memory) and ``commit()`` when the writer has the batch's
points durable, before their messages are acknowledged.

Saves are gathered and written in one transaction by ``flush()``, which the
collector calls before it acknowledges the messages that caused them: one
fsync per received batch, not one per alert transition (an alert storm would
otherwise stall ingestion on the disk).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gudang.contract import Alert
from gudang.sqlite import open_db

__all__ = ["AlertStore", "Staged"]


@dataclass
class Staged:
    """Alert state as of one batch, to be saved when its points are durable."""

    alerts: dict[tuple[str, str], Alert] = field(default_factory=dict)
    pending: str | None = None  # the pending document, when it changed
    levels: dict[str, tuple[int, float]] = field(default_factory=dict)  # bin -> (ts, net kg)


class AlertStore:
    def __init__(self, path: Path | str) -> None:
        self._db = open_db(
            path,
            "full",
            "CREATE TABLE IF NOT EXISTS alert (kind TEXT NOT NULL, subject TEXT NOT NULL,"
            " body TEXT NOT NULL, PRIMARY KEY (kind, subject));"
            "CREATE TABLE IF NOT EXISTS alert_pending (id INTEGER PRIMARY KEY CHECK (id = 0),"
            " body TEXT NOT NULL);"
            # Each bin's level the alert state was judged on (not the engine's,
            # which InfluxDB seeds, possibly ahead of what was acknowledged).
            "CREATE TABLE IF NOT EXISTS alert_level (bin TEXT PRIMARY KEY, ts INTEGER NOT NULL,"
            " net_kg REAL NOT NULL);",
        )
        self._unsaved: dict[tuple[str, str], Alert] = {}
        self._staged: dict[tuple[str, str], Alert] = {}  # staged, not yet committed
        self._pending: str | None = None  # not yet staged
        row = self._db.execute("SELECT body FROM alert_pending").fetchone()
        self._saved_pending: str = row[0] if row else "{}"  # on disk
        self._last_pending = self._saved_pending  # last staged

    def save(self, alert: Alert) -> None:
        """Remember the newest state of (kind, subject); durable at ``flush()``."""
        self._unsaved[(alert.kind, alert.subject)] = alert

    def save_pending(self, body: str) -> None:
        """What is pending now (a JSON document); staged with the alerts,
        written only when it differs from the last one."""
        self._pending = None if body == self._last_pending else body

    def pending(self) -> str:
        """The pending document last saved ("{}" when none)."""
        return self._saved_pending

    def stage(self, levels: dict[str, tuple[int, float]] | None = None) -> Staged:
        """What changed since the last stage, to commit once durable."""
        staged = Staged(self._unsaved, self._pending, levels or {})
        self._staged.update(self._unsaved)
        if self._pending is not None:
            self._last_pending = self._pending
        self._unsaved, self._pending = {}, None
        return staged

    def commit(self, staged: Staged) -> None:
        """Write one stage (in one transaction: one fsync)."""
        if not staged.alerts and staged.pending is None and not staged.levels:
            return
        rows = [(a.kind, a.subject, a.model_dump_json()) for a in staged.alerts.values()]
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO alert (kind, subject, body) VALUES (?, ?, ?)", rows
            )
            if staged.pending is not None:
                self._db.execute("INSERT OR REPLACE INTO alert_pending (id, body) VALUES (0, ?)",
                                 (staged.pending,))  # fmt: skip
            if staged.levels:
                self._db.executemany(
                    "INSERT OR REPLACE INTO alert_level (bin, ts, net_kg) VALUES (?, ?, ?)",
                    [(b, ts, kg) for b, (ts, kg) in staged.levels.items()],
                )
        for key, alert in staged.alerts.items():
            if self._staged.get(key) is alert:  # not superseded by a later stage
                del self._staged[key]
        if staged.pending is not None:
            self._saved_pending = staged.pending

    def flush(self) -> None:
        """Stage and commit at once (at close; the ingest path stages per batch)."""
        self.commit(self.stage())

    def latest(self) -> list[Alert]:
        """The newest state of every alert ever raised, saved or not yet."""
        newest: dict[tuple[str, str], Alert] = {(a.kind, a.subject): a for a in self.load()}
        newest.update(self._staged)
        newest.update(self._unsaved)
        return list(newest.values())

    def levels(self) -> dict[str, tuple[int, float]]:
        """Each bin's level as of the last commit."""
        rows = self._db.execute("SELECT bin, ts, net_kg FROM alert_level").fetchall()
        return {b: (int(ts), float(kg)) for b, ts, kg in rows}

    def load(self) -> list[Alert]:
        rows = self._db.execute("SELECT body FROM alert").fetchall()
        return [Alert.model_validate_json(r[0]) for r in rows]

    def close(self) -> None:
        self.flush()
        self._db.close()

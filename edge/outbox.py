"""The edge's store-and-forward outbox: SQLite on disk, so nothing is lost.

Every message is written here before it is published and deleted only after
the broker's PUBACK, so it survives a broker outage and an edge crash
(``kill -9``): after a restart the rows are published again, in order, with
their original payloads (same ``boot_id`` and ``seq``).

Durability: WAL journal with ``synchronous=NORMAL``; a committed row survives
a process crash; on power loss the last few commits may be lost (use
``sync="full"`` for an fsync per message).

Bounded size, with a documented policy applied when ``max_messages`` is reached:

1. merge heartbeats: keep only the newest heartbeat of each device (a newer
   absolute value supersedes an older one);
2. merge status messages: keep only the newest per topic;
3. drop the oldest remaining heartbeat;
4. only then drop the oldest message of any kind (counted as ``dropped``).

Stable changes, tag events and command replies are therefore kept longest.
Merging leaves gaps in ``seq`` of heartbeats only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gudang.sqlite import open_db

__all__ = ["POLICY", "Outbox", "OutboxRow", "RowKind"]

RowKind = Literal["change", "heartbeat", "status", "tag", "reply"]
POLICY = "merge-heartbeats,merge-status,drop-heartbeats,drop-oldest"


@dataclass(frozen=True)
class OutboxRow:
    id: int
    topic: str
    payload: bytes
    retain: bool


class Outbox:
    def __init__(
        self,
        path: Path | str,
        max_messages: int = 100_000,
        sync: Literal["normal", "full"] = "normal",
    ) -> None:
        if max_messages < 10:
            raise ValueError("max_messages must be at least 10")
        self.path = Path(path)
        self.max_messages = max_messages
        self._db = open_db(
            self.path,
            sync,
            "CREATE TABLE IF NOT EXISTS outbox ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " topic TEXT NOT NULL, payload BLOB NOT NULL, retain INTEGER NOT NULL,"
            " kind TEXT NOT NULL, subject TEXT NOT NULL);"
            "CREATE INDEX IF NOT EXISTS outbox_kind ON outbox (kind, subject, id);",
        )
        self.depth = int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
        self.merged = 0
        self.dropped = 0

    def put(self, topic: str, payload: bytes, *, retain: bool, kind: RowKind, subject: str) -> int:
        if self.depth >= self.max_messages:
            self._make_room()
        cur = self._db.execute(
            "INSERT INTO outbox (topic, payload, retain, kind, subject) VALUES (?, ?, ?, ?, ?)",
            (topic, payload, int(retain), kind, subject),
        )
        self.depth += 1
        return int(cur.lastrowid or 0)

    def peek(self, limit: int = 100) -> list[OutboxRow]:
        rows = self._db.execute(
            "SELECT id, topic, payload, retain FROM outbox ORDER BY id LIMIT ?", (limit,)
        ).fetchall()
        return [OutboxRow(r[0], r[1], bytes(r[2]), bool(r[3])) for r in rows]

    def ack(self, row_id: int) -> None:
        """The broker has it: forget it (a row already merged away is fine)."""
        if self._db.execute("DELETE FROM outbox WHERE id = ?", (row_id,)).rowcount:
            self.depth -= 1

    def _delete(self, sql: str, counter: Literal["merged", "dropped"]) -> int:
        n = self._db.execute(sql).rowcount
        self.depth -= n
        setattr(self, counter, getattr(self, counter) + n)
        return n

    def _make_room(self) -> None:
        keep_newest = (
            "DELETE FROM outbox WHERE kind = '{k}' AND id NOT IN "
            "(SELECT MAX(id) FROM outbox WHERE kind = '{k}' GROUP BY {g})"
        )
        if self._delete(keep_newest.format(k="heartbeat", g="subject"), "merged"):
            return
        if self._delete(keep_newest.format(k="status", g="topic"), "merged"):
            return
        if self._delete(
            "DELETE FROM outbox WHERE id = (SELECT MIN(id) FROM outbox WHERE kind = 'heartbeat')",
            "dropped",
        ):
            return
        self._delete("DELETE FROM outbox WHERE id = (SELECT MIN(id) FROM outbox)", "dropped")

    def close(self) -> None:
        self._db.close()

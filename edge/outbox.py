"""The edge's store-and-forward outbox: SQLite on disk, so nothing is lost.

Every message is written here before it is published, so it survives a broker
outage and an edge crash (``kill -9``): after a restart the rows are published
again, in order, with their original payloads (same ``boot_id`` and ``seq``).

When is a row forgotten? A status or command reply: after the broker's PUBACK.
A reading or tag event (with ``confirm``): only when the collector confirms it
has the message durably (``confirm()``); the broker's PUBACK only marks it
sent. A broker keeps its store in memory between autosaves, so a crash can
lose what it acknowledged; the edge therefore sends every unconfirmed row
again after each reconnection (``unsend_all()``), and again after
``resend_after_s`` (doubling per attempt, up to 32x) should a confirmation
never come (``expire()``). Re-sends are harmless: the collector drops or
overwrites copies.

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

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gudang.sqlite import open_db

__all__ = ["POLICY", "Outbox", "OutboxRow", "RowKind"]

RowKind = Literal["change", "heartbeat", "status", "tag", "reply"]
POLICY = "merge-heartbeats,merge-status,drop-heartbeats,drop-oldest"


_COLUMNS = {  # added after the first release: existing files get them at open
    "boot": "TEXT",
    "seq": "INTEGER",
    "sent": "INTEGER NOT NULL DEFAULT 0",
    "resend_at": "REAL",
    "resends": "INTEGER NOT NULL DEFAULT 0",
}


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
        *,
        confirm: bool = False,
        resend_after_s: float = 300.0,
    ) -> None:
        if max_messages < 10:
            raise ValueError("max_messages must be at least 10")
        if resend_after_s <= 0:
            raise ValueError("resend_after_s must be positive")
        self.path = Path(path)
        self.max_messages = max_messages
        self.confirm = confirm
        self.resend_after_s = resend_after_s
        self._db = open_db(
            self.path,
            sync,
            "CREATE TABLE IF NOT EXISTS outbox ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " topic TEXT NOT NULL, payload BLOB NOT NULL, retain INTEGER NOT NULL,"
            " kind TEXT NOT NULL, subject TEXT NOT NULL);"
            "CREATE INDEX IF NOT EXISTS outbox_kind ON outbox (kind, subject, id);",
        )
        have = {r[1] for r in self._db.execute("PRAGMA table_info(outbox)")}
        for name, decl in _COLUMNS.items():
            if name not in have:
                self._db.execute(f"ALTER TABLE outbox ADD COLUMN {name} {decl}")
        self._db.executescript(
            "CREATE INDEX IF NOT EXISTS outbox_stream ON outbox (subject, boot, seq);"
            "CREATE INDEX IF NOT EXISTS outbox_sent ON outbox (sent, id);"
        )
        self.depth = int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
        self.merged = 0
        self.dropped = 0

    def put(
        self,
        topic: str,
        payload: bytes,
        *,
        retain: bool,
        kind: RowKind,
        subject: str,
        boot: str | None = None,
        seq: int | None = None,
    ) -> int:
        """`boot` and `seq`: a device message the collector will confirm."""
        if self.depth >= self.max_messages:
            self._make_room()
        cur = self._db.execute(
            "INSERT INTO outbox (topic, payload, retain, kind, subject, boot, seq)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (topic, payload, int(retain), kind, subject, boot, seq),
        )
        self.depth += 1
        return int(cur.lastrowid or 0)

    def peek(self, limit: int = 100) -> list[OutboxRow]:
        """The oldest rows not sent yet (or to send again), in order."""
        rows = self._db.execute(
            "SELECT id, topic, payload, retain FROM outbox WHERE sent = 0 ORDER BY id LIMIT ?",
            (limit,),
        ).fetchall()
        return [OutboxRow(r[0], r[1], bytes(r[2]), bool(r[3])) for r in rows]

    def ack(self, row_id: int, now: float | None = None) -> None:
        """The broker has it. A device message waits for the collector's
        confirmation (with ``confirm``); anything else is forgotten now (a row
        already merged away is fine)."""
        if self.confirm:
            at = time.time() if now is None else now
            marked = self._db.execute(
                "UPDATE outbox SET sent = 1, resend_at = ? + ? * (1 << MIN(resends, 5))"
                " WHERE id = ? AND seq IS NOT NULL",
                (at, self.resend_after_s, row_id),
            ).rowcount
            if marked:
                return
        if self._db.execute("DELETE FROM outbox WHERE id = ?", (row_id,)).rowcount:
            self.depth -= 1

    def confirmed(self, subject: str, boot: str, ranges: list[tuple[int, int]]) -> int:
        """The collector has these (inclusive seq ranges) durably: forget them."""
        n = 0
        for lo, hi in ranges:
            n += self._db.execute(
                "DELETE FROM outbox WHERE subject = ? AND boot = ? AND seq BETWEEN ? AND ?",
                (subject, boot, lo, hi),
            ).rowcount
        self.depth -= n
        return n

    def unsend_all(self) -> int:
        """After a reconnection: what was sent but never confirmed goes again
        (the broker that acknowledged it may have lost it)."""
        return int(self._db.execute("UPDATE outbox SET sent = 0 WHERE sent = 1").rowcount)

    def expire(self, now: float | None = None) -> int:
        """Rows sent long ago and still unconfirmed go again, later each time."""
        at = time.time() if now is None else now
        return int(
            self._db.execute(
                "UPDATE outbox SET sent = 0, resends = resends + 1"
                " WHERE sent = 1 AND resend_at <= ?",
                (at,),
            ).rowcount
        )

    @property
    def unconfirmed(self) -> int:
        """Sent, and waiting for the collector's confirmation."""
        return int(self._db.execute("SELECT COUNT(*) FROM outbox WHERE sent = 1").fetchone()[0])

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

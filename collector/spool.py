"""The collector's disk spool: batches InfluxDB could not take, kept in order.

When InfluxDB is down or too slow, a batch of line protocol is written here
(SQLite, ``synchronous=FULL``: on disk before the MQTT messages are
acknowledged) and drained, oldest first, when InfluxDB answers again. Bounded
by ``max_bytes`` (default 512 MiB, about 5 million readings compressed); when
full, the collector stops acknowledging and the broker keeps the messages in
the collector's session instead: backpressure, not loss.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from gudang.sqlite import open_db

__all__ = ["MIN_SPOOL_BYTES", "Pushed", "Spool"]

# The writer spools at most MAX_SPOOL_POINTS lines at a time (writer.py): a
# few MiB compressed. A spool smaller than this could not take one of them.
MIN_SPOOL_BYTES = 16 * 1024 * 1024

Pushed = Literal["stored", "full", "too_big"]


class Spool:
    def __init__(self, path: Path | str, max_bytes: int = 512 * 1024 * 1024) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._db = open_db(
            self.path,
            "full",
            "CREATE TABLE IF NOT EXISTS spool (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " body BLOB NOT NULL, points INTEGER NOT NULL);",
        )
        row = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(points), 0), COALESCE(SUM(LENGTH(body)), 0) FROM spool"
        ).fetchone()
        self.batches, self.points, self.bytes = int(row[0]), int(row[1]), int(row[2])

    @property
    def empty(self) -> bool:
        return self.batches == 0

    def push(self, body: bytes, points: int) -> Pushed:
        """Store a batch of line protocol: ``stored``; ``full`` (nothing stored,
        room may come as the spool drains); ``too_big`` (it would not fit even
        an empty spool: split it)."""
        packed = gzip.compress(body, compresslevel=1)
        if len(packed) > self.max_bytes:
            return "too_big"
        if self.bytes + len(packed) > self.max_bytes:
            return "full"
        self._db.execute("INSERT INTO spool (body, points) VALUES (?, ?)", (packed, points))
        self.batches += 1
        self.points += points
        self.bytes += len(packed)
        return "stored"

    def oldest(self) -> tuple[int, bytes, int] | None:
        row = self._db.execute("SELECT id, body, points FROM spool ORDER BY id LIMIT 1").fetchone()
        if row is None:
            return None
        return int(row[0]), gzip.decompress(row[1]), int(row[2])

    def bodies(self) -> Iterator[bytes]:
        """Every spooled batch, oldest first (read at start-up)."""
        last = 0
        while True:
            row = self._db.execute(
                "SELECT id, body FROM spool WHERE id > ? ORDER BY id LIMIT 1", (last,)
            ).fetchone()
            if row is None:
                return
            last = int(row[0])
            yield gzip.decompress(row[1])

    def remove(self, row_id: int) -> None:
        row = self._db.execute(
            "SELECT points, LENGTH(body) FROM spool WHERE id = ?", (row_id,)
        ).fetchone()
        if row is None:
            return
        self._db.execute("DELETE FROM spool WHERE id = ?", (row_id,))
        self.batches -= 1
        self.points -= int(row[0])
        self.bytes -= int(row[1])

    def close(self) -> None:
        self._db.close()

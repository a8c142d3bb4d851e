"""Opening the small SQLite files gudang keeps (outbox, spool, state)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Literal

__all__ = ["open_db"]


def open_db(path: Path | str, sync: Literal["normal", "full"], schema: str) -> sqlite3.Connection:
    """WAL journal, autocommit, the given durability, and the schema created."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={sync.upper()}")
    db.executescript(schema)
    return db

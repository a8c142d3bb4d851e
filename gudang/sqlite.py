"""Opening the small SQLite files gudang keeps (outbox, spool, state, keys).

They hold secrets (webhook secrets, key hashes) and data in flight, so they are
private: a folder gudang creates is 0700, a file it creates is 0600 (SQLite
gives the -wal and -shm files the database file's mode). A file found open to
others is logged at start (`loose_permissions`), not changed: the operator may
share it on purpose.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import stat
from pathlib import Path
from typing import IO, Literal

from gudang import logs

__all__ = ["hold_exclusive", "open_db"]

log = logs.get("storage")

_FILE_MODE = 0o600
_DIR_MODE = 0o700


def open_db(path: Path | str, sync: Literal["normal", "full"], schema: str) -> sqlite3.Connection:
    """WAL journal, autocommit, the given durability, and the schema created."""
    path = Path(path)
    _private_dir(path.parent)
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        _check(file, _FILE_MODE)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, _FILE_MODE))
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={sync.upper()}")
    db.executescript(schema)
    return db


def _private_dir(folder: Path) -> None:
    missing = []
    for parent in (folder, *folder.parents):
        if parent.exists():
            break
        missing.append(parent)
    for created in reversed(missing):
        created.mkdir(mode=_DIR_MODE, exist_ok=True)


def _check(path: Path, allowed: int) -> None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & ~allowed & 0o077:  # group or others may read, write or enter
        log.warning("loose_permissions", path=str(path), mode=oct(mode),
                    fix=f"chmod {oct(allowed)[2:]} {path}")  # fmt: skip


def hold_exclusive(path: Path | str) -> IO[str] | None:
    """Lock `path` + ".lock" for this process (released when it ends, even by
    SIGKILL); None when another process holds it. Two processes on one spool
    or state file would each take the other's rows for their own."""
    lock = Path(f"{path}.lock")
    _private_dir(lock.parent)
    handle = lock.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle

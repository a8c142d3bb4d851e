"""API keys: random secrets shown once, stored only as SHA-256 hashes, each
with a scope. Managed with ``gudang api-key``; checked on every request.

A key looks like ``gk_<id>_<secret>``: the id finds the row, the secret is
compared by hash in constant time. The secret is 256 random bits, so a plain
SHA-256 (not a slow password hash) is enough: there is nothing to guess.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gudang.contract import now_ms
from gudang.sqlite import open_db

__all__ = ["SCOPES", "ApiKey", "KeyStore", "Scope", "allows"]

Scope = Literal["read", "staff", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "staff", "admin")  # each includes the ones before it


def allows(have: Scope, need: Scope) -> bool:
    return SCOPES.index(have) >= SCOPES.index(need)


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    scope: Scope
    created_at: int  # epoch ms
    revoked_at: int | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyStore:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._db = open_db(
            path,
            "full",
            "CREATE TABLE IF NOT EXISTS api_key (id TEXT PRIMARY KEY, name TEXT NOT NULL,"
            " scope TEXT NOT NULL, hash TEXT NOT NULL, created_at INTEGER NOT NULL,"
            " revoked_at INTEGER);",
        )

    def create(self, name: str, scope: Scope) -> tuple[ApiKey, str]:
        """A new key and its token (the only time the secret is seen)."""
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
        key_id = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        now = now_ms()
        self._db.execute(
            "INSERT INTO api_key (id, name, scope, hash, created_at) VALUES (?, ?, ?, ?, ?)",
            (key_id, name, scope, _hash(secret), now),
        )
        return ApiKey(key_id, name, scope, now, None), f"gk_{key_id}_{secret}"

    def list(self) -> list[ApiKey]:
        rows = self._db.execute(
            "SELECT id, name, scope, created_at, revoked_at FROM api_key ORDER BY created_at"
        ).fetchall()
        return [ApiKey(*row) for row in rows]

    def revoke(self, key_id: str) -> bool:
        cur = self._db.execute(
            "UPDATE api_key SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (now_ms(), key_id),
        )
        return cur.rowcount == 1

    def verify(self, token: str) -> ApiKey | None:
        """The active key this token belongs to, or None."""
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != "gk" or not parts[1] or not parts[2]:
            return None
        row = self._db.execute(
            "SELECT id, name, scope, created_at, revoked_at, hash FROM api_key WHERE id = ?",
            (parts[1],),
        ).fetchone()
        if row is None or not hmac.compare_digest(row[5], _hash(parts[2])):
            return None
        key = ApiKey(*row[:5])
        return key if key.active else None

    def close(self) -> None:
        self._db.close()

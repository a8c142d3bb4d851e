"""Async InfluxDB adapter over the v1-compatible HTTP API: /ping, /write, /query.

The same three endpoints are served by InfluxDB 1.x, 2.x (v1 compatibility
API, token auth) and 3.x (token auth, databases created on write), so this is
the one adapter for all of them; it is tested against a real 1.6.7.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx

from gudang.errors import DatabaseNotFound, StorageError
from gudang.influx.influxql import quote_ident
from gudang.influx.lineprotocol import Point, encode_points
from gudang.settings import InfluxSettings

__all__ = ["InfluxClient", "Series"]

_GZIP_OVER = 4096  # bytes; below this gzip costs more than it saves


@dataclass(frozen=True)
class Series:
    name: str
    tags: dict[str, str]
    columns: list[str]
    values: list[list[Any]]

    def rows(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, v, strict=False)) for v in self.values]


class InfluxClient:
    """``async with InfluxClient(settings) as db: await db.write(points)``."""

    def __init__(self, settings: InfluxSettings, *, timeout: float | None = None):
        self.settings = settings
        headers: dict[str, str] = {}
        auth: httpx.BasicAuth | None = None
        if settings.token is not None:
            headers["Authorization"] = f"{settings.auth_scheme} {settings.token.get_secret_value()}"
        elif settings.username is not None:
            pw = settings.password.get_secret_value() if settings.password else ""
            auth = httpx.BasicAuth(settings.username, pw)
        self._http = httpx.AsyncClient(
            base_url=settings.url,
            headers=headers,
            auth=auth,
            timeout=timeout or settings.timeout_s,
            limits=httpx.Limits(max_connections=4),
        )
        self.version: str | None = None
        self._compress = settings.compress_writes

    async def __aenter__(self) -> InfluxClient:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            resp = await self._http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise StorageError(f"InfluxDB {method} {path}: {type(exc).__name__}: {exc}") from exc
        if resp.status_code >= 300:
            try:
                message = resp.json().get("error", resp.text)
            except ValueError:
                message = resp.text
            # 4xx (bad line, bad auth, unknown database) will fail again unchanged;
            # 5xx and throttling are worth a retry.
            retryable = resp.status_code >= 500 or resp.status_code == 429
            raise StorageError(
                f"InfluxDB {method} {path} -> {resp.status_code}: {message.strip()[:300]}",
                status=resp.status_code,
                retryable=retryable,
            )
        return resp

    async def ping(self) -> str:
        """The server version; raises StorageError when it does not answer."""
        resp = await self._request("GET", "/ping")
        self.version = resp.headers.get("X-Influxdb-Version", "unknown")
        return self.version

    async def ensure_database(self) -> None:
        """CREATE DATABASE on 1.x only: 2.x maps buckets (DBRP), 3.x creates on write."""
        version = self.version or await self.ping()
        if version.lstrip("v").startswith("1."):
            await self.query(f"CREATE DATABASE {quote_ident(self.settings.database)}", post=True)

    async def write(self, points: Iterable[Point]) -> int:
        """Write points at ms precision; returns the number of bytes sent."""
        return await self.write_lines(encode_points(points))

    async def write_lines(self, body: bytes) -> int:
        """Write encoded line protocol (ms precision); returns the bytes sent."""
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if len(body) > _GZIP_OVER and self._compress:
            body = gzip.compress(body, compresslevel=5)
            headers["Content-Encoding"] = "gzip"
        await self._request(
            "POST",
            "/write",
            params={"db": self.settings.database, "precision": "ms"},
            content=body,
            headers=headers,
        )
        return len(body)

    async def query(
        self,
        q: str,
        params: Mapping[str, str | int | float | bool] | None = None,
        *,
        post: bool = False,
    ) -> list[Series]:
        """Run one InfluxQL statement; values only through `params` ($name)."""
        data: dict[str, str] = {"db": self.settings.database, "q": q, "epoch": "ms"}
        if params:
            data["params"] = json.dumps(dict(params))
        if post:
            resp = await self._request("POST", "/query", data=data)
        else:
            resp = await self._request("GET", "/query", params=data)
        payload = resp.json()
        results = payload.get("results", [])
        if not results:
            return []
        first = results[0]
        if "error" in first:
            error = str(first["error"])
            cls = DatabaseNotFound if error.startswith("database not found") else StorageError
            raise cls(f"InfluxQL error: {error}", status=400, retryable=False)
        return [
            Series(s.get("name", ""), s.get("tags", {}) or {}, s["columns"], s.get("values", []))
            for s in first.get("series", [])
        ]

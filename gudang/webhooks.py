"""Signed webhook delivery, shared by the collector (site-file webhooks) and
the API (subscriptions made by integrators).

Request: ``POST <url>`` with a JSON body and headers ``X-Gudang-Timestamp``
(epoch ms) and, when there is a key, ``X-Gudang-Signature: sha256=<hex>``, the
HMAC-SHA256 of ``<timestamp>.<body>``. A receiver checks the signature and
refuses old timestamps (replays). Retries with exponential backoff on network
errors and on any answer other than 2xx.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from dataclasses import dataclass

import httpx

from gudang.contract import now_ms

__all__ = ["Attempt", "deliver", "sign"]


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    return (
        "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    )


@dataclass(frozen=True)
class Attempt:
    number: int
    at: int  # epoch ms
    ok: bool
    status: int | None  # HTTP status, None when no answer
    error: str | None


async def deliver(
    http: httpx.AsyncClient,
    url: str,
    body: bytes,
    secret: bytes | None,
    *,
    attempts: int = 5,
    retry_base_s: float = 1.0,
) -> list[Attempt]:
    """POST until a 2xx or `attempts` tries; every try, in order."""
    out: list[Attempt] = []
    for n in range(1, attempts + 1):
        ts = str(now_ms())
        headers = {"Content-Type": "application/json", "X-Gudang-Timestamp": ts}
        if secret is not None:
            headers["X-Gudang-Signature"] = sign(secret, ts, body)
        status: int | None = None
        try:
            resp = await http.post(url, content=body, headers=headers)
            status = resp.status_code
            error = None if status < 300 else f"HTTP {status}"
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        out.append(Attempt(n, int(ts), error is None, status, error))
        if error is None:
            break
        if n < attempts:
            await asyncio.sleep(retry_base_s * 2 ** (n - 1))
    return out

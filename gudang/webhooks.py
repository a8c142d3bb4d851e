"""Signed webhook delivery, shared by the collector (site-file webhooks) and
the API (subscriptions made by integrators).

Request: ``POST <url>`` with a JSON body and headers ``X-Gudang-Timestamp``
(epoch ms) and, when there is a key, ``X-Gudang-Signature: sha256=<hex>``, the
HMAC-SHA256 of ``<timestamp>.<body>``. A receiver checks the signature and
refuses old timestamps (replays). Retries with exponential backoff on network
errors and on any answer other than 2xx. Where a request may go at all:
``gudang.webtargets``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from gudang.contract import now_ms
from gudang.webtargets import TargetPolicy, TargetRefused

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
    policy: TargetPolicy,
    attempts: int = 5,
    retry_base_s: float = 1.0,
) -> list[Attempt]:
    """POST until a 2xx or `attempts` tries; every try, in order. Each try
    checks the target again (`policy`) and goes to the address it checked; a
    refused target ends the delivery (no retry). Redirects are not followed."""
    out: list[Attempt] = []
    for n in range(1, attempts + 1):
        ts = str(now_ms())
        headers = {"Content-Type": "application/json", "X-Gudang-Timestamp": ts}
        if secret is not None:
            headers["X-Gudang-Signature"] = sign(secret, ts, body)
        try:
            target = await policy.check(url)
        except TargetRefused as exc:
            out.append(Attempt(n, int(ts), False, None, f"refused: {exc}"))
            break
        parts = urlsplit(url)
        headers["Host"] = parts.netloc.rsplit("@", 1)[-1]
        status: int | None = None
        try:
            resp = await http.post(target.url, content=body, headers=headers,
                                   extensions={"sni_hostname": target.host},
                                   follow_redirects=False)  # fmt: skip
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

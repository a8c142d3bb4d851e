"""Bounds on what a client can make the API hold: body size, time, connections.

- A request with a body must say its size (Content-Length, else 411), at most
  ``max_body_bytes`` (else 413), and be authenticated (else 401), all before a
  byte of the body is read; then the body must arrive within
  ``request_timeout_s`` (else 408). Bodies are small JSON: the middleware reads
  it and hands it to the app whole.
- A connection must complete each request's headers within
  ``request_timeout_s`` of opening (or of its previous response), or it is
  closed: half-sent requests cannot pile up until the process runs out of files.
- ``max_connections`` (uvicorn's limit_concurrency) answers 503 beyond it, and
  idle kept-alive connections close after ``keep_alive_s``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["BodyLimits", "TimedH11Protocol"]

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BodyLimits:
    """Pure ASGI middleware: size, authentication and time, before the body."""

    def __init__(
        self,
        app: Any,
        max_bytes: int,
        timeout_s: float,
        authenticated: Callable[[str], bool],
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.authenticated = authenticated

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v for k, v in scope["headers"]}
        length = headers.get("content-length")
        if length is None:
            if headers.get("transfer-encoding") is None:
                length = b"0"  # no body at all
            else:
                await _answer(send, 411, "length_required",
                              "send the body with a Content-Length header")  # fmt: skip
                return
        if not length.isdigit() or len(length) > 12:
            await _answer(send, 400, "invalid_request", "Content-Length is not a number")
            return
        if int(length) > self.max_bytes:
            await _answer(send, 413, "too_large",
                          f"the body may be at most {self.max_bytes} bytes")  # fmt: skip
            return
        if scope["path"].startswith("/api/") and not self.authenticated(_token(headers)):
            await _answer(send, 401, "unauthorized", "an API key is required (Authorization: "
                          "Bearer) and must be valid")  # fmt: skip
            return
        try:
            body = await asyncio.wait_for(_read(receive, int(length)), self.timeout_s)
        except TimeoutError:
            await _answer(send, 408, "request_timeout",
                          f"the body did not arrive within {self.timeout_s:g} s")  # fmt: skip
            return
        except _Disconnected:
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            message: Message = await receive()  # http.disconnect, when it comes
            return message

        await self.app(scope, replay, send)


class _Disconnected(Exception):
    pass


async def _read(receive: Receive, length: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > length:  # more than it said: refuse what it said was the body
            raise _Disconnected
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _token(headers: dict[str, bytes]) -> str:
    auth = headers.get("authorization", b"").decode("latin-1")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return headers.get("x-api-key", b"").decode("latin-1").strip()


async def _answer(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"code": code, "message": message}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


class TimedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with a deadline for each request's headers."""

    header_timeout_s = 10.0  # set by run_server from the settings

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:
            self._arm()  # part of a request's headers: they must complete in time
        else:
            self._disarm()

    def on_response_complete(self) -> None:
        self._disarm()  # idle now: uvicorn's keep-alive timeout takes over
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _too_slow(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()

"""Runs the ASGI app under uvicorn, stopped by our own stop event.

uvicorn normally installs its own signal handlers and re-raises the signal
after shutdown (exit status -15); gudang services share one shutdown path
(gudang.runtime.serve) and exit 0 after a clean stop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator

import uvicorn
from fastapi import FastAPI

from gudang.api.limits import TimedH11Protocol
from gudang.settings import ApiSettings

__all__ = ["run_server"]


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def run_server(
    app: FastAPI, host: str, port: int, stop: asyncio.Event, limits: ApiSettings | None = None
) -> None:
    limits = limits or ApiSettings()
    TimedH11Protocol.header_timeout_s = limits.request_timeout_s
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False, lifespan="on",
        http=TimedH11Protocol, limit_concurrency=limits.max_connections,
        timeout_keep_alive=limits.keep_alive_s,
    )  # fmt: skip
    server = _Server(config)

    async def watch() -> None:
        await stop.wait()
        server.should_exit = True

    watcher = asyncio.create_task(watch())
    try:
        await server.serve()
    finally:
        watcher.cancel()

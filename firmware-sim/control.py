"""Runtime control of a running simulator: JSON lines over TCP on loopback.

Request ``{"op": "take", "bin": "B2", "qty": 3}``, answer ``{"ok": true, ...}``
or ``{"ok": false, "error": "..."}``; one request per line. The vocabulary is
``gudang.sim.ops``.
"""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

from pydantic import ValidationError

from gudang import logs
from gudang.sim.ops import OP_ADAPTER
from gudang.sim.site import SimError, SimSite

__all__ = ["ControlClient", "serve_control"]

log = logs.get("sim.control")


async def serve_control(sim: SimSite, host: str, port: int) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                answer: dict[str, Any]
                try:
                    op = OP_ADAPTER.validate_json(line)
                    answer = {"ok": True, **await sim.apply(op)}
                except ValidationError as exc:
                    answer = {"ok": False, "error": exc.errors(include_url=False)[0]["msg"]}
                except SimError as exc:
                    answer = {"ok": False, "error": str(exc)}
                writer.write(json.dumps(answer).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, port)
    log.info("control_listening", host=host, port=port)
    return server


class ControlClient:
    """A blocking client, for tests and scripts: ``ControlClient(port).send(op="take", ...)``."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 5.0) -> None:
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._file = self._sock.makefile("rwb")

    def send(self, **op: Any) -> dict[str, Any]:
        self._file.write(json.dumps(op).encode() + b"\n")
        self._file.flush()
        answer: dict[str, Any] = json.loads(self._file.readline())
        if not answer.get("ok"):
            raise RuntimeError(f"simulator refused {op}: {answer.get('error')}")
        return answer

    def close(self) -> None:
        self._file.close()
        self._sock.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

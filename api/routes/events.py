"""Server-sent events for the dashboard: bin levels, alerts and device states
as they change. Authenticated like every other endpoint (the dashboard reads
the stream with fetch(), so the key travels in a header, never in a URL)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from gudang.api.auth import need
from gudang.api.context import ctx

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["live"], dependencies=[Depends(need("read"))])

KEEPALIVE_S = 15.0


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "an event stream"}},
)
async def events(request: Request) -> StreamingResponse:
    """`text/event-stream`: events `bin` (a bin's level changed), `alert` (an
    alert's state) and `status` (a device or edge state). Each `data:` is JSON."""
    hub = ctx(request).hub
    queue = hub.subscribe()

    async def stream() -> AsyncIterator[bytes]:
        try:
            yield b"retry: 2000\n\n"
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield b": keepalive\n\n"
                    continue
                if event is None:
                    return
                body = json.dumps(event, separators=(",", ":"))
                yield f"event: {event['type']}\ndata: {body}\n\n".encode()
        finally:
            hub.unsubscribe(queue)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

"""Fan-out of live events (bin levels, alerts, device states) to the
dashboard's server-sent event streams. A client that stops reading is dropped
rather than allowed to hold memory; its browser reconnects and reloads."""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["Event", "EventHub"]

Event = dict[str, Any]


class EventHub:
    def __init__(self, queue_size: int = 256) -> None:
        self.queue_size = queue_size
        self._queues: set[asyncio.Queue[Event | None]] = set()

    def publish(self, event: Event) -> None:
        for q in list(self._queues):
            if q.qsize() >= self.queue_size - 1:
                self._queues.discard(q)
                q.put_nowait(None)  # tells the stream to end
            else:
                q.put_nowait(event)

    def subscribe(self) -> asyncio.Queue[Event | None]:
        q: asyncio.Queue[Event | None] = asyncio.Queue()
        self._queues.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[Event | None]) -> None:
        self._queues.discard(q)

    def close(self) -> None:
        """End every stream (shutdown)."""
        for q in self._queues:
            q.put_nowait(None)
        self._queues.clear()

    @property
    def clients(self) -> int:
        return len(self._queues)

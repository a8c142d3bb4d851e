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
        self._unbounded: set[asyncio.Queue[Event | None]] = set()  # in-process consumers

    def publish(self, event: Event) -> None:
        for q in list(self._queues):
            if q.qsize() >= self.queue_size - 1:
                self._queues.discard(q)
                q.put_nowait(None)  # tells the stream to end
            else:
                q.put_nowait(event)
        for q in self._unbounded:
            q.put_nowait(event)

    def subscribe(self, *, unbounded: bool = False) -> asyncio.Queue[Event | None]:
        """A queue of events; `unbounded` for consumers in this process that
        must see every event (webhook delivery), never for network clients."""
        q: asyncio.Queue[Event | None] = asyncio.Queue()
        (self._unbounded if unbounded else self._queues).add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[Event | None]) -> None:
        self._queues.discard(q)
        self._unbounded.discard(q)

    def close(self) -> None:
        """End every stream (shutdown)."""
        for q in self._queues | self._unbounded:
            q.put_nowait(None)
        self._queues.clear()
        self._unbounded.clear()

    @property
    def clients(self) -> int:
        return len(self._queues)

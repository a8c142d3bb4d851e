"""A message on its way out of the edge, with what the outbox policy needs to know."""

from __future__ import annotations

from dataclasses import dataclass

from gudang.edge.outbox import RowKind

__all__ = ["Outgoing", "RowKind"]


@dataclass(frozen=True)
class Outgoing:
    topic: str
    payload: bytes
    retain: bool
    kind: RowKind  # change, heartbeat, status, tag, reply
    subject: str  # device id (merge key for heartbeats)
    seq: int | None = None  # a device message's seq: the collector confirms it

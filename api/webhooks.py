"""Webhook subscriptions for integrators: which alert transitions to POST
where, signed with a per-subscription secret; delivered with retries, every
attempt kept in a delivery log.

Alert transitions come from the collector's retained alert topics (via the
bridge and the event hub). The same transition arrives again whenever the API
reconnects or restarts (retained messages), so each (subscription, alert
kind, subject, state, time) is delivered once: the log is the memory. Run
one API process with subscriptions per site, or each would deliver.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import httpx

from gudang import logs
from gudang.api.hub import Event, EventHub
from gudang.contract import Alert, now_ms
from gudang.sqlite import open_db
from gudang.webhooks import deliver
from gudang.webtargets import TargetPolicy

__all__ = ["Dispatcher", "Subscription", "WebhookStore"]

log = logs.get("api.webhooks")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook (id TEXT PRIMARY KEY, url TEXT NOT NULL,
  kinds TEXT NOT NULL, states TEXT NOT NULL, secret TEXT NOT NULL,
  created_at INTEGER NOT NULL, created_by TEXT NOT NULL, deleted_at INTEGER);
CREATE TABLE IF NOT EXISTS delivery (webhook TEXT NOT NULL, event TEXT NOT NULL,
  kind TEXT NOT NULL, subject TEXT NOT NULL, state TEXT NOT NULL, at INTEGER NOT NULL,
  attempts INTEGER NOT NULL, ok INTEGER NOT NULL, status INTEGER, error TEXT,
  PRIMARY KEY (webhook, event));
"""


@dataclass(frozen=True)
class Subscription:
    id: str
    url: str
    kinds: list[str]  # empty: every kind
    states: list[str]  # empty: every state
    created_at: int
    created_by: str

    def wants(self, alert: Alert) -> bool:
        return (not self.kinds or alert.kind in self.kinds) and (
            not self.states or alert.state in self.states
        )


class WebhookStore:
    def __init__(self, path: Path | str) -> None:
        self._db = open_db(path, "full", _SCHEMA)

    def create(
        self, url: str, kinds: list[str], states: list[str], by: str
    ) -> tuple[Subscription, str]:
        sub_id, secret = secrets.token_hex(4), secrets.token_urlsafe(32)
        now = now_ms()
        self._db.execute(
            "INSERT INTO webhook (id, url, kinds, states, secret, created_at, created_by)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (sub_id, url, json.dumps(kinds), json.dumps(states), secret, now, by),
        )
        return Subscription(sub_id, url, kinds, states, now, by), secret

    def active(self) -> list[tuple[Subscription, str]]:
        rows = self._db.execute(
            "SELECT id, url, kinds, states, created_at, created_by, secret FROM webhook"
            " WHERE deleted_at IS NULL ORDER BY created_at"
        ).fetchall()
        return [
            (Subscription(r[0], r[1], json.loads(r[2]), json.loads(r[3]), r[4], r[5]), r[6])
            for r in rows
        ]

    def delete(self, sub_id: str) -> bool:
        cur = self._db.execute(
            "UPDATE webhook SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL",
            (now_ms(), sub_id),
        )
        return cur.rowcount == 1

    def exists(self, sub_id: str) -> bool:
        row = self._db.execute("SELECT 1 FROM webhook WHERE id = ?", (sub_id,)).fetchone()
        return row is not None

    def exists_active(self, sub_id: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM webhook WHERE id = ? AND deleted_at IS NULL", (sub_id,)
        ).fetchone()
        return row is not None

    def delivered(self, sub_id: str, event: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM delivery WHERE webhook = ? AND event = ?", (sub_id, event)
        ).fetchone()
        return row is not None

    def record(
        self, sub_id: str, event: str, alert: Alert, at: int, attempts: int, ok: bool,
        status: int | None, error: str | None,
    ) -> None:  # fmt: skip
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO delivery VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (sub_id, event, alert.kind, alert.subject, alert.state, at, attempts, int(ok),
                 status, error),
            )  # fmt: skip
        except sqlite3.Error as exc:  # the delivery happened; a lost log line is not fatal
            log.error("delivery_log_failed", webhook=sub_id, error=str(exc))

    def deliveries(self, sub_id: str, limit: int = 100) -> list[dict[str, object]]:
        rows = self._db.execute(
            "SELECT at, kind, subject, state, attempts, ok, status, error FROM delivery"
            " WHERE webhook = ? ORDER BY at DESC LIMIT ?",
            (sub_id, limit),
        ).fetchall()
        keys = ("at", "kind", "subject", "state", "attempts", "ok", "status", "error")
        return [dict(zip(keys, r, strict=True)) | {"ok": bool(r[5])} for r in rows]

    def close(self) -> None:
        self._db.close()


class Dispatcher:
    """Follows the event hub; hands each new alert transition to a worker per
    subscription that wants it: in order within a subscription (raised before
    cleared, retries included), independent across subscriptions."""

    def __init__(
        self,
        store: WebhookStore,
        hub: EventHub,
        policy: TargetPolicy,
        *,
        attempts: int = 5,
        retry_base_s: float = 1.0,
    ) -> None:
        self.store = store
        self.hub = hub
        self.policy = policy
        self.attempts = attempts
        self.retry_base_s = retry_base_s
        self.delivered = 0
        self.failed = 0
        self._queues: dict[str, asyncio.Queue[tuple[str, Alert]]] = {}
        self._workers: list[asyncio.Task[None]] = []

    async def run(self, stop: asyncio.Event) -> None:
        queue = self.hub.subscribe(unbounded=True)
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                self._http = http
                while not stop.is_set():
                    event = await queue.get()
                    if event is None:
                        return
                    if event.get("type") == "alert":
                        try:
                            self._dispatch(event)
                        except Exception as exc:  # a bug must not stop every delivery
                            log.exception("webhook_dispatch_failed", error=repr(exc))
        finally:
            self.hub.unsubscribe(queue)
            for w in self._workers:
                w.cancel()

    def _dispatch(self, event: Event) -> None:
        alert = Alert.model_validate({k: v for k, v in event.items() if k != "type"})
        key = f"{alert.kind}/{alert.subject}/{alert.state}/{alert.updated_at}"
        for sub, secret in self.store.active():
            # Retained alerts come again after every reconnect: only what
            # happened since the subscription began, and only once.
            if alert.updated_at < sub.created_at or not sub.wants(alert):
                continue
            if self.store.delivered(sub.id, key):
                continue
            q = self._queues.get(sub.id)
            if q is None:
                q = self._queues[sub.id] = asyncio.Queue()
                self._workers.append(asyncio.create_task(self._worker(sub, secret, q)))
            q.put_nowait((key, alert))

    async def _worker(
        self, sub: Subscription, secret: str, q: asyncio.Queue[tuple[str, Alert]]
    ) -> None:
        while True:
            key, alert = await q.get()
            if not self.store.exists_active(sub.id) or self.store.delivered(sub.id, key):
                continue
            tries = await deliver(self._http, sub.url, alert.model_dump_json().encode(),
                                  secret.encode(), policy=self.policy, attempts=self.attempts,
                                  retry_base_s=self.retry_base_s)  # fmt: skip
            last = tries[-1]
            self.store.record(sub.id, key, alert, tries[0].at, len(tries), last.ok, last.status,
                              last.error)  # fmt: skip
            if last.ok:
                self.delivered += 1
                log.info("webhook_delivered", webhook=sub.id, kind=alert.kind,
                         subject=alert.subject, state=alert.state, attempts=len(tries))  # fmt: skip
            else:
                self.failed += 1
                log.error("webhook_failed", webhook=sub.id, kind=alert.kind,
                          subject=alert.subject, attempts=len(tries), error=last.error)  # fmt: skip

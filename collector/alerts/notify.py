"""Alert notifications beyond MQTT: HMAC-signed webhooks and apprise targets.

Delivery runs beside ingestion (never blocks it), with retries and backoff;
every delivery and failure is one log line and a counter. Secrets (webhook
keys, apprise URLs with tokens) come from environment variables named in the
site file and are never logged.

Webhook request: ``POST <url>`` with the alert JSON (the contract's ``Alert``)
and headers ``X-Gudang-Timestamp`` (epoch ms) and ``X-Gudang-Signature:
sha256=<hex>``, the HMAC-SHA256 of ``<timestamp>.<body>`` with the key.
"""

from __future__ import annotations

import asyncio
import os

import httpx

from gudang import logs
from gudang.contract import Alert
from gudang.site import Site
from gudang.webhooks import deliver, sign
from gudang.webtargets import TargetPolicy, redact

__all__ = ["Notifier", "sign"]

log = logs.get("collector.notify")

_ATTEMPTS = 5


class Notifier:
    def __init__(self, site: Site, policy: TargetPolicy, *, retry_base_s: float = 1.0) -> None:
        self.site = site
        self.policy = policy
        self.retry_base_s = retry_base_s
        self._queue: asyncio.Queue[Alert] = asyncio.Queue(maxsize=10_000)
        self.delivered = 0
        self.failed = 0

    @property
    def configured(self) -> bool:
        cfg = self.site.alerts
        return bool(cfg.webhooks or cfg.apprise)

    def submit(self, alert: Alert) -> None:
        if not self.configured:
            return
        try:
            self._queue.put_nowait(alert)
        except asyncio.QueueFull:
            self.failed += 1
            log.error("notify_queue_full", kind=alert.kind, subject=alert.subject)

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            while True:
                alert = await self._queue.get()
                await asyncio.gather(
                    *(self._webhook(http, w.url, w.secret_env, alert)
                      for w in self.site.alerts.webhooks if not w.kinds or alert.kind in w.kinds),
                    *(self._apprise(t.urls_env, t.language, alert)
                      for t in self.site.alerts.apprise if self._wants(t, alert)),
                )  # fmt: skip

    def _wants(self, target, alert: Alert) -> bool:  # type: ignore[no-untyped-def]
        if target.kinds and alert.kind not in target.kinds:
            return False
        if target.groups:
            sku = self.site.find_sku(alert.subject)
            return sku is not None and sku.group in target.groups
        return True

    async def _webhook(
        self, http: httpx.AsyncClient, url: str, secret_env: str | None, alert: Alert
    ) -> None:
        secret: bytes | None = None
        shown = redact(url)  # a password in the URL never reaches a log line
        if secret_env:
            secret = os.environ.get(secret_env, "").encode()
            if not secret:
                log.error("webhook_secret_missing", url=shown, variable=secret_env)
                self.failed += 1
                return
        tries = await deliver(http, url, alert.model_dump_json().encode(), secret,
                              policy=self.policy, attempts=_ATTEMPTS,
                              retry_base_s=self.retry_base_s)  # fmt: skip
        for t in tries[:-1]:
            log.warning("webhook_retry", url=shown, attempt=t.number, error=t.error)
        if tries[-1].ok:
            self.delivered += 1
            log.info("webhook_delivered", url=shown, kind=alert.kind, subject=alert.subject,
                     state=alert.state, attempt=len(tries))  # fmt: skip
        else:
            self.failed += 1
            log.error("webhook_failed", url=shown, kind=alert.kind, subject=alert.subject,
                      error=tries[-1].error)  # fmt: skip

    async def _apprise(self, urls_env: str, language: str, alert: Alert) -> None:
        urls = os.environ.get(urls_env, "").split()
        if not urls:
            log.error("apprise_urls_missing", variable=urls_env)
            self.failed += 1
            return
        import apprise  # imported only where configured: it is large

        notifier = apprise.Apprise()
        for u in urls:
            notifier.add(u)
        text = alert.text.id if language == "id" else alert.text.en
        title = f"gudang: {alert.kind} {alert.state}"
        ok = await asyncio.to_thread(notifier.notify, body=text, title=title)
        if ok:
            self.delivered += 1
            log.info("apprise_delivered", kind=alert.kind, subject=alert.subject, targets=len(urls))
        else:
            self.failed += 1
            log.error("apprise_failed", kind=alert.kind, subject=alert.subject, variable=urls_env)

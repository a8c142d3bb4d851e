"""What the request handlers share: the site, InfluxDB, the live view, the
MQTT bridge and the key store. One per app, on ``app.state.ctx``."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from gudang.api.bridge import Bridge
from gudang.api.hub import EventHub
from gudang.api.keys import KeyStore
from gudang.api.live import LiveStock
from gudang.api.webhooks import WebhookStore
from gudang.consumption import ConsumptionView
from gudang.influx import InfluxClient
from gudang.site import Site

__all__ = ["Context", "ctx"]


@dataclass
class Context:
    site: Site
    db: InfluxClient
    live: LiveStock
    bridge: Bridge
    keys: KeyStore
    hub: EventHub
    webhooks: WebhookStore
    consumption: ConsumptionView


def ctx(request: Request) -> Context:
    return request.app.state.ctx  # type: ignore[no-any-return]

"""Webhook subscriptions (scope admin): an integrator's URL receives the
alert transitions it asks for, signed with the secret returned at creation."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from gudang.api.auth import ApiError, need
from gudang.api.context import ctx
from gudang.api.keys import ApiKey
from gudang.api.webhooks import Subscription
from gudang.contract.messages import AlertKind, AlertState
from gudang.webtargets import TargetRefused, redact

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


class WebhookRequest(BaseModel):
    url: str = Field(
        pattern=r"^https?://[^\s]{1,2000}$", examples=["https://erp.example/hooks/gudang"]
    )
    kinds: list[AlertKind] = Field(
        default_factory=lambda: list[AlertKind](["low_stock", "reorder_point"]),
        max_length=5,
        description="Alert kinds to send; empty: every kind.",
    )
    states: list[AlertState] = Field(
        default_factory=lambda: list[AlertState](["raised", "cleared"]),
        max_length=3,
        description="Transitions to send; empty: every transition.",
    )


class WebhookOut(BaseModel):
    id: str
    url: str
    kinds: list[str]
    states: list[str]
    created_at: int
    created_by: str = Field(description="The name of the API key that created it.")


class WebhookCreated(WebhookOut):
    secret: str = Field(
        description="HMAC-SHA256 key for X-Gudang-Signature. Shown only now: store it."
    )


class Delivery(BaseModel):
    at: int = Field(description="First attempt, epoch ms.")
    kind: str
    subject: str
    state: str
    attempts: int
    ok: bool
    status: int | None = Field(description="HTTP status of the last attempt.")
    error: str | None


class WebhookList(BaseModel):
    items: list[WebhookOut]


class DeliveryList(BaseModel):
    items: list[Delivery] = Field(description="Newest first.")


def _out(s: Subscription) -> WebhookOut:
    return WebhookOut(id=s.id, url=redact(s.url), kinds=s.kinds, states=s.states,
                      created_at=s.created_at, created_by=s.created_by)  # fmt: skip


@router.post("", response_model=WebhookCreated, status_code=201)
async def create(
    request: Request, body: WebhookRequest, key: ApiKey = Depends(need("admin"))
) -> WebhookCreated:
    """Subscribe a URL to alert transitions. The answer carries the signing
    secret, once. The URL must reach the internet, not the plant's own network
    (loopback, private, link-local... addresses are refused unless the operator
    allows their network with GUDANG_WEBHOOK_ALLOW), nor gudang's API or InfluxDB."""
    try:
        await request.app.state.webhook_policy.check(body.url)
    except TargetRefused as exc:
        raise ApiError(422, "target_refused", f"url: {exc}") from None
    sub, secret = ctx(request).webhooks.create(body.url, list(body.kinds), list(body.states),
                                               key.name)  # fmt: skip
    return WebhookCreated(**_out(sub).model_dump(), secret=secret)


@router.get("", response_model=WebhookList, dependencies=[Depends(need("admin"))])
async def list_webhooks(request: Request) -> WebhookList:
    """Active subscriptions (never their secrets)."""
    return WebhookList(items=[_out(s) for s, _ in ctx(request).webhooks.active()])


@router.delete("/{webhook_id}", status_code=204, dependencies=[Depends(need("admin"))])
async def delete(request: Request, webhook_id: str) -> None:
    """Stop sending to this subscription."""
    if not ctx(request).webhooks.delete(webhook_id):
        raise ApiError(404, "not_found", f"no active webhook {webhook_id[:64]!r}")


@router.get(
    "/{webhook_id}/deliveries", response_model=DeliveryList, dependencies=[Depends(need("admin"))]
)
async def deliveries(
    request: Request, webhook_id: str, limit: int = Query(100, ge=1, le=1000)
) -> DeliveryList:
    """The delivery log: each transition sent, attempts, outcome."""
    store = ctx(request).webhooks
    if not store.exists(webhook_id):
        raise ApiError(404, "not_found", f"no webhook {webhook_id[:64]!r}")
    return DeliveryList(
        items=[Delivery.model_validate(d) for d in store.deliveries(webhook_id, limit)]
    )

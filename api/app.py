"""The FastAPI application: /api/v1 for the ordering system, the dashboard at
/, health and metrics for operators."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException as StarletteHTTPException

from gudang import __version__, logs
from gudang.api.auth import ApiError
from gudang.api.bridge import Bridge
from gudang.api.context import Context, ctx
from gudang.api.hub import EventHub
from gudang.api.keys import KeyStore
from gudang.api.limits import BodyLimits
from gudang.api.live import LiveStock
from gudang.api.models import ErrorBody, Health
from gudang.api.routes import admin, alerts, devices, events, stock
from gudang.api.routes import webhooks as webhook_routes
from gudang.api.webhooks import Dispatcher, WebhookStore
from gudang.consumption import ConsumptionView
from gudang.errors import StorageError
from gudang.influx import InfluxClient
from gudang.settings import Settings
from gudang.site import Site

__all__ = ["create_app"]

log = logs.get("api")

DASHBOARD = Path(__file__).parent / "dashboard"

_COMMON = {
    401: {"model": ErrorBody, "description": "missing, unknown or revoked API key"},
    403: {"model": ErrorBody, "description": "the key's scope does not allow this"},
    404: {"model": ErrorBody, "description": "no such SKU, bin, alert or path"},
    422: {"model": ErrorBody, "description": "invalid parameters"},
    503: {"model": ErrorBody, "description": "InfluxDB or the broker is unavailable"},
}


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(ErrorBody(code=code, message=message).model_dump(), status_code=status)


class _Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("gudang_api_requests", "HTTP requests answered",
                                ["route", "status"], registry=self.registry)  # fmt: skip
        self.seconds = Histogram(
            "gudang_api_request_seconds", "Time to answer", ["route"], registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
        )  # fmt: skip
        self.streams = Gauge("gudang_api_event_streams", "Open event streams",
                             registry=self.registry)  # fmt: skip
        self.bins = Gauge("gudang_api_live_bins", "Bins with a level in the live view",
                          registry=self.registry)  # fmt: skip


# The dashboard runs only its own script and style (no inline code: a value an
# attacker slips into a SKU name can never run), is never framed (no
# clickjacking of the acknowledge button), and sends no Referer (a key in a
# link fragment stays in the browser).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def create_app(site: Site, settings: Settings) -> FastAPI:
    metrics = _Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub = EventHub()
        keys = KeyStore(settings.api.state_file)
        webhooks = WebhookStore(settings.api.state_file)
        stop = asyncio.Event()
        async with InfluxClient(settings.influx) as db:
            live = LiveStock(db, site.site.id, hub, poll_s=settings.api.live_poll_s,
                             full_every_s=settings.api.live_full_s,
                             max_ahead_s=site.ingest.max_clock_ahead_s,
                             rounding={k.id: site.rounding(k) for k in site.skus})  # fmt: skip
            owners = {d.id: d.edge for d in site.devices}
            bridge = Bridge(settings.mqtt, site.site.id, hub, owners)
            consumption = ConsumptionView(db, site, refresh_s=settings.api.consumption_refresh_s)
            app.state.ctx = Context(site=site, db=db, live=live, bridge=bridge, keys=keys, hub=hub,
                                    webhooks=webhooks, consumption=consumption)  # fmt: skip
            dispatcher = Dispatcher(webhooks, hub, policy,
                                    retry_base_s=settings.api.webhook_retry_s)  # fmt: skip
            tasks = [asyncio.create_task(t.run(stop))
                     for t in (live, bridge, dispatcher, consumption)]  # fmt: skip
            mqtt = f"{settings.mqtt.host}:{settings.mqtt.port}"
            log.info("api_start", site=site.site.id, influx=settings.influx.url, mqtt=mqtt,
                     keys=str(keys.path))  # fmt: skip
            try:
                yield
            finally:
                stop.set()
                hub.close()
                await asyncio.gather(*tasks, return_exceptions=True)
                keys.close()
                webhooks.close()
        log.info("api_stop")

    app = FastAPI(
        title="gudang API",
        version=__version__,
        description="Live stock of a metal warehouse, for ordering systems and staff. "
        "Authenticate with `Authorization: Bearer <key>` (keys: `gudang api-key create`).",
        lifespan=lifespan,
        responses=_COMMON,  # type: ignore[arg-type]
    )

    policy = settings.webhook_policy(api=True)
    app.state.webhook_policy = policy

    def authenticated(token: str) -> bool:
        state = getattr(app.state, "ctx", None)
        return bool(token) and state is not None and state.keys.verify(token) is not None

    # Outermost: nothing of a body is read before its size and key are checked.
    app.add_middleware(
        BodyLimits, max_bytes=settings.api.max_body_bytes,
        timeout_s=settings.api.request_timeout_s, authenticated=authenticated,
    )  # fmt: skip

    @app.middleware("http")
    async def protect(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.middleware("http")
    async def measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        name = getattr(route, "path", "other")
        metrics.requests.labels(name, str(response.status_code)).inc()
        metrics.seconds.labels(name).observe(time.perf_counter() - started)
        return response

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message)

    @app.exception_handler(StorageError)
    async def storage_error(request: Request, exc: StorageError) -> JSONResponse:
        log.warning("storage_error", path=request.url.path, error=str(exc))
        return _error(503, "storage_unavailable", "the stock database is not answering")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        return _error(422, "invalid_request", f"{where}: {first['msg']}")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("api_error", path=request.url.path, error=repr(exc))
        return _error(500, "internal_error", "an unexpected error; it has been logged")

    @app.get("/healthz", response_model=Health, tags=["health"])
    async def healthz() -> Health:
        """The process is up (no dependency checked)."""
        return Health(status="ok")

    @app.get("/readyz", response_model=Health, tags=["health"], responses={503: {"model": Health}})
    async def readyz(request: Request) -> JSONResponse:
        """InfluxDB answers, the live view has loaded, the broker is connected."""
        c = ctx(request)
        checks: dict[str, str] = {}
        ok = True
        try:
            checks["influxdb"] = f"ok ({await c.db.ping()})"
        except StorageError as exc:
            checks["influxdb"], ok = str(exc), False
        checks["live"] = "ok" if c.live.ready else (c.live.error or "loading")
        checks["mqtt"] = "ok" if c.bridge.connected else "not connected"
        ok = ok and c.live.ready and c.bridge.connected
        body = Health(status="ok" if ok else "unavailable", checks=checks)
        return JSONResponse(body.model_dump(), status_code=200 if ok else 503)

    @app.get("/metrics", tags=["health"], response_class=Response)
    async def prometheus(request: Request) -> Response:
        """Prometheus text format: requests, latency, event streams, live bins."""
        c = ctx(request)
        metrics.streams.set(c.hub.clients)
        metrics.bins.set(len(c.live.levels))
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    routers = (stock.router, alerts.router, devices.router, admin.router, webhook_routes.router,
               events.router)  # fmt: skip
    for r in routers:
        app.include_router(r)
    if DASHBOARD.is_dir():

        @app.get("/favicon.ico", include_in_schema=False)
        async def favicon() -> FileResponse:
            # Browsers and bookmark tools ask for /favicon.ico whatever the page says.
            return FileResponse(DASHBOARD / "favicon.svg", media_type="image/svg+xml")

        app.mount("/", StaticFiles(directory=DASHBOARD, html=True), name="dashboard")
    return app

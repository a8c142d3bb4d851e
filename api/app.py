"""The FastAPI application: /api/v1 for the ordering system, health for operators."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from gudang.api.models import ErrorBody, Health, StockList
from gudang.api.stock import current_stock
from starlette.exceptions import HTTPException as StarletteHTTPException

from gudang import __version__, logs
from gudang.errors import StorageError
from gudang.influx import InfluxClient
from gudang.settings import InfluxSettings
from gudang.site import Site

__all__ = ["create_app"]

log = logs.get("api")

_ERRORS = {
    503: {"model": ErrorBody, "description": "InfluxDB is unavailable"},
}


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(ErrorBody(code=code, message=message).model_dump(), status_code=status)


def create_app(site: Site, influx: InfluxSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with InfluxClient(influx) as db:
            app.state.db = db
            log.info("api_start", site=site.site.id, influx=influx.url)
            yield
        log.info("api_stop")

    app = FastAPI(
        title="gudang API",
        version=__version__,
        description="Live stock of a metal warehouse, for ordering systems and staff.",
        lifespan=lifespan,
    )

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

    @app.get("/healthz", response_model=Health, tags=["health"])
    async def healthz() -> Health:
        """The process is up (no dependency checked)."""
        return Health(status="ok")

    @app.get("/readyz", response_model=Health, tags=["health"], responses={503: {"model": Health}})
    async def readyz(request: Request) -> JSONResponse:
        """InfluxDB answers."""
        try:
            version = await request.app.state.db.ping()
            body = Health(status="ok", checks={"influxdb": f"ok ({version})"})
            return JSONResponse(body.model_dump(), status_code=200)
        except StorageError as exc:
            body = Health(status="unavailable", checks={"influxdb": str(exc)})
            return JSONResponse(body.model_dump(), status_code=503)

    @app.get("/api/v1/stock", response_model=StockList, tags=["stock"], responses=_ERRORS)
    async def stock(request: Request) -> StockList:
        """Current stock per SKU: quantity in the SKU's unit, per-bin detail, status."""
        return await current_stock(request.app.state.db, site)

    return app

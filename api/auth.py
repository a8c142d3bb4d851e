"""Who may call what: an API key in ``Authorization: Bearer <key>`` (or
``X-API-Key``) with a scope of read, staff (read + acknowledge alerts) or
admin. Missing or wrong key: 401; a key without the scope: 403. Keys never
reach a log line (the access log is off; errors name the key id at most)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from gudang.api.context import ctx
from gudang.api.keys import ApiKey, Scope, allows
from gudang.errors import GudangError

__all__ = ["ApiError", "need"]

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer gk_...`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="Or `X-API-Key: gk_...`")


class ApiError(GudangError):
    """An error answered as JSON: status, stable code, message for people."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def need(scope: Scope) -> Callable[..., Awaitable[ApiKey]]:
    async def check(
        request: Request,
        bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
        header: str | None = Depends(_header),
    ) -> ApiKey:
        token = bearer.credentials if bearer is not None else header
        if not token:
            raise ApiError(401, "unauthorized", "an API key is required (Authorization: Bearer)")
        key = ctx(request).keys.verify(token)
        if key is None:
            raise ApiError(401, "unauthorized", "unknown or revoked API key")
        if not allows(key.scope, scope):
            raise ApiError(403, "forbidden", f"key {key.id} has scope {key.scope}; needs {scope}")
        return key

    return check

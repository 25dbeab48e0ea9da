"""Errors as RFC 9457 problem details (``application/problem+json``), never a traceback.

One handler maps the :mod:`supplynet.errors` tree to HTTP (by the error's ``code`` first, then its
class); the framework's own errors (unknown route, invalid request) and anything unexpected are
rendered the same way.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from ..errors import (
    ConfigError,
    DataError,
    DecisionError,
    EventError,
    IngestError,
    ModelError,
    ParameterError,
    SecurityError,
    SimulationError,
    StoreError,
    StoreUnavailable,
    SupplynetError,
)

__all__ = ["COMMON_RESPONSES", "Busy", "Conflict", "NotFound", "install", "problem", "status_for"]

log = logging.getLogger("supplynet.api")

_BY_CODE = {"unauthenticated": 401, "forbidden": 403, "not_found": 404, "conflict": 409, "busy": 429}
_BY_CLASS: list[tuple[type[SupplynetError], int]] = [
    (StoreUnavailable, 503), (StoreError, 503), (SecurityError, 403), (DecisionError, 409),
    (SimulationError, 422), (ParameterError, 422), (EventError, 422), (ModelError, 422), (DataError, 422), (IngestError, 422),
    (ConfigError, 500),
]
_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           409: "Conflict", 413: "Content Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Content",
           429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}

_PROBLEM = {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
            "model": None}


def _resp(desc: str) -> dict[str, Any]:
    from .schemas import Problem

    return {"description": desc, "model": Problem,
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _resp("Bad request"), 401: _resp("No valid API token"), 403: _resp("The token's role may not do this"),
    404: _resp("Not found"), 409: _resp("Conflict with the resource's state"), 413: _resp("Request too large"),
    422: _resp("Invalid request"), 429: _resp("Rate limit exceeded"), 503: _resp("Store unavailable"),
}


def status_for(exc: SupplynetError) -> int:
    code = getattr(exc, "code", "")
    if code in _BY_CODE:
        return _BY_CODE[code]
    for cls, status in _BY_CLASS:
        if isinstance(exc, cls):
            return status
    return 400


def problem(status: int, detail: str, *, code: str | None = None, instance: str | None = None,
            errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": _TITLES.get(status, "Error"), "status": status,
                            "detail": detail}
    if code:
        body["code"] = code
    if instance:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = errors
    hdrs = dict(headers or {})
    if status == 401:
        hdrs.setdefault("WWW-Authenticate", 'Bearer realm="supplynet"')
    return Response(orjson.dumps(body), status_code=status, media_type="application/problem+json", headers=hdrs)


def install(app: FastAPI) -> None:
    @app.exception_handler(SupplynetError)
    async def _supplynet(request: Request, exc: SupplynetError) -> Response:
        status = status_for(exc)
        if status >= 500:
            log.warning("%s %s: %s", request.method, request.url.path, exc)
        return problem(status, str(exc) or type(exc).__name__, code=exc.code, instance=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [{"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type", "")}
                  for e in exc.errors()[:20]]
        detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5])
        return problem(422, detail or "invalid request", code="invalid", instance=request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return problem(exc.status_code, str(exc.detail), instance=request.url.path,
                       headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem(500, "internal error (logged on the server)", code="internal", instance=request.url.path)


class NotFound(DataError):
    """The resource named in the path does not exist (HTTP 404)."""

    code = "not_found"


class Conflict(DataError):
    """The request conflicts with the resource's state (HTTP 409)."""

    code = "conflict"


class Busy(DataError):
    """Try again later (HTTP 429)."""

    code = "busy"

"""Idempotency keys for state-changing requests: a repeated key returns the first answer and changes
nothing; the same key with a different request is refused (409)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from ..problems import Conflict

__all__ = ["idempotent"]


def idempotent(state: Any, key: str | None, actor: str, request: dict[str, Any], status: int,
               run: Callable[[], Any]) -> JSONResponse:
    fp = hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()
    scoped = f"{actor}|{key}" if key else None
    if scoped is not None:
        seen = state.decisions.idempotent_response(scoped)
        if seen is not None:
            _, old_fp, old_status, body = seen
            if old_fp != fp:
                raise Conflict(f"Idempotency-Key {key!r} was used for a different request")
            return JSONResponse(body, status_code=old_status, headers={"Idempotent-Replayed": "true"})
    try:
        body = jsonable_encoder(run())
    finally:
        state.twins.invalidate()  # what this request appended to the log is seen by the next read
    if scoped is not None:
        state.decisions.remember_response(scoped, actor, fp, status, body)
    return JSONResponse(body, status_code=status)

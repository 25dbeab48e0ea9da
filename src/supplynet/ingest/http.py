"""HTTP batch ingest: ``POST /v1/ingest`` with sealed envelopes as a JSON array (or one object) or as
NDJSON (``Content-Type: application/x-ndjson``, one envelope per line).

The same gate as MQTT. The answer comes after the gate's commit, so a 2xx means durable. Under
overload (more requests in the gate than ``max_inflight``) the answer is 429 with ``Retry-After``
and nothing is read; a request whose every message is over its device's rate limit is also a 429.
The response lists each message's outcome and, per device, the acknowledged high-water sequence.
"""

from __future__ import annotations

import threading
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ..errors import StoreError
from .gate import Gate

__all__ = ["HttpIngest", "router"]

router = APIRouter(tags=["ingest"])


class HttpIngest:
    """What the route needs: the gate, the request size limit and the in-flight bound."""

    def __init__(self, gate: Gate, *, max_request_bytes: int = 32 << 20, max_inflight: int = 4):
        if max_request_bytes <= 0 or max_inflight <= 0:
            raise ValueError("max_request_bytes and max_inflight must be > 0")
        self.gate = gate
        self.max_request_bytes = max_request_bytes
        self._slots = threading.BoundedSemaphore(max_inflight)

    def try_enter(self) -> bool:
        return self._slots.acquire(blocking=False)

    def leave(self) -> None:
        self._slots.release()


def _json(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json", headers=headers)


def _problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}),
                    status_code=status, media_type="application/problem+json", headers=headers)


def _items(raw: bytes, content_type: str) -> list[bytes | dict[str, Any]]:
    if "ndjson" in content_type or "jsonlines" in content_type:
        return [line for line in raw.split(b"\n") if line.strip()]
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"body is not valid JSON: {str(exc)[:200]}") from None
    if isinstance(doc, dict):
        return [doc]
    if isinstance(doc, list):
        return [x if isinstance(x, dict) else orjson.dumps(x) for x in doc]
    raise ValueError("body must be a JSON array of envelopes, one envelope object, or NDJSON")


@router.post("/v1/ingest", summary="Ingest sealed device envelopes (JSON array or NDJSON)", responses={
    **{code: {"description": desc, "content": {"application/problem+json": {"schema": {
        "type": "object", "required": ["type", "title", "status", "detail"],
        "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                       "detail": {"type": "string"}}}}}}
       for code, desc in ((400, "Not a JSON array or object of envelopes, nor NDJSON; or no envelopes"),
                          (413, "Request body over the size limit"),
                          (503, "Not stored: the store is unavailable (Retry-After)"))},
    **{code: {"description": desc, "content": {
        "application/json": {"schema": {
            "type": "object", "required": ["stored", "late", "quarantined", "refused", "results", "acked"],
            "properties": {**{k: {"type": "integer"} for k in ("stored", "late", "quarantined", "refused")},
                           "results": {"type": "array", "items": {"type": "object", "properties": {
                               "status": {"type": "string"}, "reason": {"type": ["string", "null"]},
                               "device": {"type": ["string", "null"]}, "seq": {"type": ["integer", "null"]},
                               "retry": {"type": "boolean", "description": "send it again (sealed anew if its "
                                                                          "time was off the clock)"}}}},
                           "acked": {"type": "object", "additionalProperties": {"type": ["integer", "null"]}}}}},
        **({"application/problem+json": {"schema": {"type": "object", "required": ["status", "detail"]}}}
           if code == 429 else {})}}
       for code, desc in ((200, "Each message's outcome and the acknowledged sequence per device (durable)"),
                          (429, "Every message over its device's rate limit, or the gateway at capacity "
                                "(Retry-After)"))}})
async def ingest(request: Request) -> Response:
    svc: HttpIngest = request.app.state.ingest
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > svc.max_request_bytes:
        return _problem(413, "Payload Too Large", f"request body over {svc.max_request_bytes} bytes")
    if not svc.try_enter():
        return _problem(429, "Too Many Requests", "the gateway is at capacity; retry later", {"Retry-After": "1"})
    try:
        raw = bytearray()
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > svc.max_request_bytes:
                return _problem(413, "Payload Too Large", f"request body over {svc.max_request_bytes} bytes")
        try:
            items = _items(bytes(raw), request.headers.get("content-type", ""))
        except ValueError as exc:
            return _problem(400, "Bad Request", str(exc))
        if not items:
            return _problem(400, "Bad Request", "no envelopes in the request")
        try:
            outcomes = await run_in_threadpool(svc.gate.submit, items, "http")
        except StoreError as exc:
            return _problem(503, "Service Unavailable", f"not stored: {exc}", {"Retry-After": "2"})
    finally:
        svc.leave()
    counts = {"stored": 0, "late": 0, "quarantined": 0, "refused": 0}
    results = []
    acked: dict[str, int | None] = {}
    retry = 0.0
    for o in outcomes:
        counts[o.status] += 1
        results.append({"status": o.status, "reason": o.reason, "device": o.device, "seq": o.seq, "retry": o.retry})
        if o.status == "refused":
            retry = max(retry, svc.gate.retry_after(o.device))
        elif o.seq is not None:
            acked[o.device] = svc.gate.acked(o.device)
    payload = {**counts, "results": results, "acked": acked}
    if counts["refused"]:
        headers = {"Retry-After": str(max(1, round(retry + 0.5)))}
        return _json(429 if counts["refused"] == len(outcomes) else 200, payload, headers)
    return _json(200, payload)

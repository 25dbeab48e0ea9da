"""HTTP batch ingest: ``POST /v1/ingest`` with sealed envelopes as a JSON array (or one object) or as
NDJSON (``Content-Type: application/x-ndjson``, one envelope per line).

The same gate as MQTT. The answer comes after the gate's commit, so a 2xx means durable. The response
lists each message's outcome and, per device, the acknowledged high-water sequence; a request whose
every message is over its device's rate limit is a 429.

The route is unauthenticated, so the edge defends itself before the gate does any work:

* **admission** -- at most ``max_admitted`` requests are past the door at once (``max_per_client``
  of them from one client address); the rest get 429 with ``Retry-After`` *before anything is
  read* (:class:`IngestShedding`, the outermost ASGI layer, so a shed request costs no routing).
  ``Retry-After`` is the time the admitted requests take at the rate the gate has been serving
  (times a random factor in [1, 2), so clients shed together do not return together), so clients
  that honour it come back about when there is room (goodput holds under overload); the shed answer
  closes the connection (its body was never read). An
  admitted request waits (at most ``slot_wait_s``) for a reading slot: ``max_reading`` in all,
  ``max_reading_per_client`` per address, so slow uploads from one address hold only its own (the
  bodies in memory at once are at most ``max_reading`` x ``max_request_bytes``);
* **slow bodies** -- the body must arrive within ``body_timeout_s``, with no pause longer than
  ``body_idle_s``: a client sending one byte every few seconds is cut off (408). The
  ``max_inflight`` gate slots are taken only once a body is in;
* **junk** -- at most ``max_items`` envelopes per request (and a bounded count of JSON values, checked
  before parsing: 413); an item that is not an envelope (the outer, unauthenticated shape) fails the
  whole request with one 400 naming the first such item, and nothing is quarantined for it;
* quarantine rows of unauthenticated messages are bounded per client address by the gate
  (:class:`~supplynet.ingest.gate.GateConfig` ``quarantine_per_origin_s``).
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
import time
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ..errors import ConfigError, DataError, IngestError, StoreError
from .envelope import open_outer
from .gate import Gate

__all__ = ["HttpIngest", "IngestShedding", "router"]

router = APIRouter(tags=["ingest"])
PATH = "/v1/ingest"


class HttpIngest:
    """What the route needs: the gate and the edge's bounds (see the module docstring)."""

    def __init__(self, gate: Gate, *, max_request_bytes: int = 32 << 20, max_inflight: int = 4,
                 max_admitted: int = 1024, max_per_client: int = 512, max_reading: int = 16,
                 max_reading_per_client: int = 4, max_items: int = 10_000, max_json_values: int = 1_000_000,
                 body_timeout_s: float = 15.0, body_idle_s: float = 2.0, slot_wait_s: float = 20.0):
        for name, v in (("max_request_bytes", max_request_bytes), ("max_inflight", max_inflight),
                        ("max_admitted", max_admitted), ("max_per_client", max_per_client),
                        ("max_reading", max_reading), ("max_reading_per_client", max_reading_per_client),
                        ("max_items", max_items), ("max_json_values", max_json_values),
                        ("body_timeout_s", body_timeout_s), ("body_idle_s", body_idle_s),
                        ("slot_wait_s", slot_wait_s)):
            if not v > 0:
                raise ConfigError(f"{name} must be > 0, got {v}")
        self.gate = gate
        self.max_request_bytes = max_request_bytes
        self.max_inflight = max_inflight
        self.max_admitted = max_admitted
        self.max_per_client = max_per_client
        self.max_reading = max_reading
        self.max_reading_per_client = max_reading_per_client
        self.max_items = max_items
        self.max_json_values = max_json_values
        self.body_timeout_s = body_timeout_s
        self.body_idle_s = body_idle_s
        self.slot_wait_s = slot_wait_s
        self._lock = threading.Lock()
        self._admitted = 0
        self._per_client: dict[str, int] = {}
        # made in the serving loop on first use: gate slots, reading slots, reading slots per client
        self._slots: asyncio.Semaphore | None = None
        self._reading: asyncio.Semaphore | None = None
        self._reading_by: dict[str, list[Any]] = {}  # client -> [semaphore, holders + waiters]
        #: requests shed (429 before reading), served (answered after the gate) and cut off (slow body)
        self.shed = self.served = self.cut_off = 0
        self._window = [time.monotonic(), 0]  # start, served in it
        self._rate = 50.0  # served requests/s (moving average; a prior until measured)

    # -- admission ---------------------------------------------------------------------------------
    def try_enter(self, client: str = "?") -> bool:
        """Admit a request from ``client`` (an address) unless the door is full; pair with :meth:`leave`."""
        with self._lock:
            n = self._per_client.get(client, 0)
            if self._admitted >= self.max_admitted or n >= self.max_per_client:
                self.shed += 1
                return False
            self._admitted += 1
            self._per_client[client] = n + 1
            return True

    def leave(self, client: str = "?") -> None:
        with self._lock:
            self._admitted -= 1
            n = self._per_client.get(client, 1) - 1
            if n > 0:
                self._per_client[client] = n
            else:
                self._per_client.pop(client, None)

    def retry_after(self) -> int:
        """Seconds a shed client should wait: how long the requests already admitted take at the rate
        the gate has been serving them, times a random factor in [1, 2) so the clients shed together
        do not come back together (1..60 s): clients that honour it return about when there is room,
        and the gate stays busy without waves of refusals."""
        with self._lock:
            base = self._admitted / max(self._rate, 1.0)
        return int(min(60, max(1, math.ceil(base * (1.0 + random.random())))))

    def _served(self) -> None:
        with self._lock:
            self.served += 1
            now = time.monotonic()
            start, n = self._window
            if now - start >= 5.0:  # idle since: a new window, the rate as it was
                self._window = [now, 1]
            elif now - start >= 1.0:
                self._rate = 0.5 * self._rate + 0.5 * (n / (now - start))
                self._window = [now, 1]
            else:
                self._window[1] = n + 1

    def slots(self) -> asyncio.Semaphore:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_inflight)
        return self._slots

    async def start_reading(self, client: str) -> bool:
        """Wait (up to ``slot_wait_s``) for a reading slot: one of ``max_reading``, and one of the
        client's ``max_reading_per_client`` (so slow uploads from one address hold only its own);
        False when none came. Pair a True with :meth:`done_reading`."""
        if self._reading is None:
            self._reading = asyncio.Semaphore(self.max_reading)
        mine = self._reading_by.get(client)
        if mine is None:
            mine = self._reading_by[client] = [asyncio.Semaphore(self.max_reading_per_client), 0]
        mine[1] += 1
        deadline = time.monotonic() + self.slot_wait_s
        try:
            await asyncio.wait_for(mine[0].acquire(), self.slot_wait_s)
        except BaseException as exc:  # timed out, or the client went away (cancelled)
            self._drop(client, mine)
            if isinstance(exc, TimeoutError):
                return False
            raise
        try:
            await asyncio.wait_for(self._reading.acquire(), max(0.001, deadline - time.monotonic()))
        except BaseException as exc:
            mine[0].release()
            self._drop(client, mine)
            if isinstance(exc, TimeoutError):
                return False
            raise
        return True

    def done_reading(self, client: str) -> None:
        mine = self._reading_by[client]
        assert self._reading is not None
        self._reading.release()
        mine[0].release()
        self._drop(client, mine)

    def _drop(self, client: str, mine: list[Any]) -> None:
        mine[1] -= 1
        if mine[1] == 0:
            del self._reading_by[client]

    def stats(self) -> dict[str, int]:
        return {"admitted": self._admitted, "shed": self.shed, "served": self.served, "cut_off": self.cut_off}


def _problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}),
                    status_code=status, media_type="application/problem+json", headers=headers)


_SHED_BODY = orjson.dumps({"type": "about:blank", "title": "Too Many Requests", "status": 429,
                           "detail": "the gateway is at capacity; retry after the Retry-After seconds"})


def client_address(scope: dict[str, Any]) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "?"


class IngestShedding:
    """The outermost layer for ``POST /v1/ingest``: admits the request (:meth:`HttpIngest.try_enter`)
    or answers 429 with ``Retry-After`` without reading it; releases the admission when the
    request is done. Other requests pass through untouched."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        svc: HttpIngest | None = getattr(getattr(scope.get("app"), "state", None), "ingest", None)
        if svc is None:  # not started yet
            await self.app(scope, receive, send)
            return
        client = client_address(scope)
        if not svc.try_enter(client):
            await send({"type": "http.response.start", "status": 429, "headers": [
                (b"content-type", b"application/problem+json"), (b"retry-after", str(svc.retry_after()).encode()),
                (b"content-length", str(len(_SHED_BODY)).encode()), (b"connection", b"close")]})
            await send({"type": "http.response.body", "body": _SHED_BODY})
            return
        scope.setdefault("state", {})["ingest_admitted"] = True
        try:
            await self.app(scope, receive, send)
        finally:
            svc.leave(client)


def _value_count(raw: bytes) -> int:
    """An upper bound of the containers and values a JSON text can make (what parsing may allocate)."""
    return raw.count(b",") + raw.count(b"{") + raw.count(b"[") + 1


def _envelope(doc: Any, where: str) -> dict[str, Any]:
    try:
        open_outer(doc if isinstance(doc, dict) else orjson.dumps(doc))
    except IngestError as exc:
        raise DataError(f"{where} is not a sealed envelope: {exc.detail[:300]}; nothing was stored") from None
    return doc


def _items(raw: bytes, content_type: str, max_items: int) -> list[dict[str, Any]]:
    """The request's envelopes as outer objects; ``ValueError`` (400) naming the first item that is
    not one, ``OverflowError`` (413) for more than ``max_items``."""
    if "ndjson" in content_type or "jsonlines" in content_type:
        if raw.count(b"\n") > max_items + 1:
            raise OverflowError(f"more than {max_items} lines in the request")
        docs: list[dict[str, Any]] = []
        for n, line in enumerate(raw.split(b"\n"), 1):
            if not line.strip():
                continue
            try:
                doc = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise DataError(f"line {n} is not valid JSON: {str(exc)[:200]}; nothing was stored") from None
            docs.append(_envelope(doc, f"line {n}"))
            if len(docs) > max_items:
                raise OverflowError(f"more than {max_items} envelopes in the request")
        return docs
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DataError(f"body is not valid JSON: {str(exc)[:200]}") from None
    if isinstance(doc, dict):
        return [_envelope(doc, "the body")]
    if not isinstance(doc, list):
        raise DataError("body must be a JSON array of envelopes, one envelope object, or NDJSON")
    if len(doc) > max_items:
        raise OverflowError(f"{len(doc)} items in the request, over the limit of {max_items}")
    return [_envelope(d, f"item {k}") for k, d in enumerate(doc)]


async def _read_body(request: Request, svc: HttpIngest) -> bytes | Response:
    """The body, or the response that ends the request: 413 over the size limit, 408 too slow."""
    raw = bytearray()
    deadline = time.monotonic() + svc.body_timeout_s
    while True:
        left = deadline - time.monotonic()
        try:
            msg = await asyncio.wait_for(request.receive(), min(svc.body_idle_s, max(left, 0.001)))
        except TimeoutError:
            svc.cut_off += 1
            return _problem(408, "Request Timeout", f"the body did not arrive in time (at most {svc.body_idle_s:g} s "
                            f"between chunks and {svc.body_timeout_s:g} s in all)", {"Connection": "close"})
        if msg["type"] != "http.request":
            return _problem(400, "Bad Request", "the client went away")
        raw += msg.get("body", b"")
        if len(raw) > svc.max_request_bytes:
            return _problem(413, "Payload Too Large", f"request body over {svc.max_request_bytes} bytes",
                            {"Connection": "close"})
        if not msg.get("more_body", False):
            return bytes(raw)


@router.post(PATH, summary="Ingest sealed device envelopes (JSON array or NDJSON)", responses={
    **{code: {"description": desc, "content": {"application/problem+json": {"schema": {
        "type": "object", "required": ["type", "title", "status", "detail"],
        "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                       "detail": {"type": "string"}}}}}}
       for code, desc in ((400, "Not a JSON array or object of envelopes, nor NDJSON; an item that is not a sealed "
                                "envelope (the first is named; nothing was stored); or no envelopes"),
                          (408, "The body came too slowly"),
                          (413, "Request body over the size limit, or too many envelopes"),
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
    client = client_address(request.scope)
    admitted = request.scope.get("state", {}).get("ingest_admitted", False)
    if not admitted and not svc.try_enter(client):  # mounted without IngestShedding
        return _problem(429, "Too Many Requests", "the gateway is at capacity; retry later",
                        {"Retry-After": str(svc.retry_after())})
    try:
        return await _ingest(request, svc, client)
    finally:
        if not admitted:
            svc.leave(client)


async def _ingest(request: Request, svc: HttpIngest, client: str) -> Response:
    if not await svc.start_reading(client):
        return _problem(429, "Too Many Requests", "the gateway is at capacity; retry later",
                        {"Retry-After": str(svc.retry_after())})
    try:
        return await _read_and_submit(request, svc, client)
    finally:
        svc.done_reading(client)


async def _read_and_submit(request: Request, svc: HttpIngest, client: str) -> Response:
    raw = await _read_body(request, svc)
    if isinstance(raw, Response):
        return raw
    if _value_count(raw) > svc.max_json_values:
        return _problem(413, "Payload Too Large", f"more than {svc.max_json_values} JSON values in the request")
    try:
        items = _items(raw, request.headers.get("content-type", ""), svc.max_items)
    except OverflowError as exc:
        return _problem(413, "Payload Too Large", str(exc))
    except ValueError as exc:
        return _problem(400, "Bad Request", str(exc))
    del raw
    if not items:
        return _problem(400, "Bad Request", "no envelopes in the request")
    slots = svc.slots()
    try:
        await asyncio.wait_for(slots.acquire(), svc.slot_wait_s)
    except TimeoutError:
        return _problem(429, "Too Many Requests", "the gateway is at capacity; retry later",
                        {"Retry-After": str(svc.retry_after())})
    try:
        outcomes = await run_in_threadpool(svc.gate.submit, items, "http", origin=client)
    except StoreError as exc:
        return _problem(503, "Service Unavailable", f"not stored: {exc}", {"Retry-After": "2"})
    finally:
        slots.release()
    svc._served()
    return _answer(svc, outcomes)


def _answer(svc: HttpIngest, outcomes: list[Any]) -> Response:
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
    headers = None
    if counts["refused"]:
        headers = {"Retry-After": str(max(1, round(retry + 0.5)))}
    status = 429 if counts["refused"] and counts["refused"] == len(outcomes) else 200
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json", headers=headers)

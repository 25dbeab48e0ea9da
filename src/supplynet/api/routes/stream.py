"""Live updates over server-sent events: what changed in the log, the decisions, the audit chain and
the quarantine, checked once a second (``event: update``) with a heartbeat comment in between."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..deps import StateDep, Viewer

router = APIRouter(tags=["live"])


def _snapshot(state: StateDep) -> dict:
    return {"log_offset": state.store.log.last_offset() or 0, "decisions": list(state.decisions.version()),
            "audit_seq": state.store.audit.head()[0],
            "quarantined": sum(state.store.ingest.quarantine_counts().values()),
            "scenarios": state.scenarios.live()}


@router.get("/v1/stream", summary="Server-sent events: one 'update' message whenever something changed",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}})
async def stream(request: Request, state: StateDep, _: Viewer,
                 interval: Annotated[float, Query(ge=0.2, le=30)] = 1.0,
                 max_messages: Annotated[int | None, Query(ge=1, le=100000, description="close after this many")] = None
                 ) -> StreamingResponse:
    async def gen() -> AsyncIterator[bytes]:
        last: dict | None = None
        sent = 0
        idle = 0.0
        yield b"retry: 2000\n\n"
        while True:
            snap = await run_in_threadpool(_snapshot, state)
            if snap != last:
                changed = [k for k in snap if last is None or snap[k] != last[k]]
                last = snap
                sent += 1
                yield f"event: update\ndata: {json.dumps({**snap, 'changed': changed})}\n\n".encode()
                if max_messages is not None and sent >= max_messages:
                    return
                idle = 0.0
            else:
                idle += interval
                if idle >= 15:
                    idle = 0.0
                    yield b": keep-alive\n\n"
            if await request.is_disconnected():
                return
            await asyncio.sleep(interval)

    return StreamingResponse(gen(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

"""The outbox: actions waiting for their sinks, delivered, or dead letters; an admin re-sends."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from ..deps import Admin, StateDep, Viewer
from ..problems import Conflict, NotFound

router = APIRouter(tags=["outbox"])
ActionId = Annotated[str, Path(min_length=1, max_length=256)]


class OutboxItem(BaseModel):
    id: int
    action_id: str
    sink: str
    action: str
    decision_id: str | None
    status: Literal["pending", "delivered", "dead"]
    attempts: int
    next_at_us: int
    created_at_us: int
    updated_at_us: int
    last_error: str | None
    resends: int


class OutboxPage(BaseModel):
    items: list[OutboxItem]
    counts: dict[str, int]


class Resent(BaseModel):
    action_id: str
    resent: int
    items: list[OutboxItem]


@router.get("/v1/outbox", response_model=OutboxPage, summary="Outbox rows, newest first, and counts by status")
def list_outbox(state: StateDep, _: Viewer,
                status: Literal["pending", "delivered", "dead"] | None = None,
                sink: Annotated[str | None, Query(max_length=64)] = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> OutboxPage:
    box = state.store.outbox
    return OutboxPage(items=[OutboxItem(**r.to_json()) for r in box.list(status=status, sink=sink, limit=limit)],
                      counts=box.counts())


@router.post("/v1/outbox/{action_id}/resend", response_model=Resent,
             summary="Send a dead letter again (admin): back to pending, due now, attempts reset")
def resend(state: StateDep, who: Admin, action_id: ActionId,
           sink: Annotated[str | None, Query(max_length=64, description="only to this sink")] = None) -> Resent:
    box = state.store.outbox
    n = box.resend(action_id, sink, actor=who.actor)
    rows = box.list(action_id=action_id, sink=sink)
    if not rows:
        raise NotFound(f"no outbox row for action {action_id!r}" + (f" and sink {sink!r}" if sink else ""))
    if n == 0:
        raise Conflict(f"action {action_id!r} is not a dead letter (" + ", ".join(
            f"{r.sink}: {r.status}" for r in sorted(rows, key=lambda r: r.sink)) + ")")
    return Resent(action_id=action_id, resent=n, items=[OutboxItem(**r.to_json()) for r in rows])

"""Decisions: the queue, approve (executes at once) and reject with a reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from ...decide import decision as dec
from ...decide import groups
from ...security.tokens import person_of
from ..deps import IdemKey, Planner, StateDep, Viewer
from ..schemas import (
    ApproveBody,
    BulkBody,
    BulkResults,
    DecisionGroups,
    DecisionOutcome,
    DecisionPage,
    DecisionPublic,
    RejectBody,
)
from ._idem import idempotent

router = APIRouter(tags=["decisions"])
#: the most decisions one groups listing reads
GROUPS_SCAN = 100_000
DecisionId = Annotated[str, Path(min_length=2, max_length=32, pattern=r"^D[0-9]+$")]


def public(d: dec.Decision) -> dict:
    return d.model_dump(mode="json", exclude={"idempotency_key"})


def outcome(res: dec.Submitted) -> dict:
    return {"decision": public(res.decision),
            "events": [e.model_dump(mode="json", exclude_none=True) for e in res.events]}


#: how far the twin's clock may run ahead of the wall clock and still date an action (accelerated
#: demos run ahead; a reading dated 2999 that reached the log some other way must not date an order)
MAX_AHEAD = timedelta(days=366)


def sim_now(state: StateDep) -> datetime:
    """The time of the action: the twin's clock (the latest event time), never before the wall clock
    when the twin is in the past... unless the log runs ahead of it (accelerated demos), by at most
    :data:`MAX_AHEAD`."""
    with state.twins.read() as twin:
        last = twin.state.last_event_at
    now = datetime.now(UTC)
    if last is not None and last > now + MAX_AHEAD:
        return now
    return last if last is not None and last > now else (last or now)


@router.get("/v1/decisions", response_model=DecisionPage, summary="Decisions, newest first")
def list_decisions(state: StateDep, _: Viewer,
                   status: Literal["proposed", "approved", "rejected", "executed", "noted"] | None = None,
                   kind: Literal["replenish", "rebalance", "maintain", "reroute", "quality"] | None = None,
                   before: Annotated[int | None, Query(ge=1, le=2**62, description="page: decisions numbered below")] = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 50) -> DecisionPage:
    rows = state.decisions.list(status=status, kind=kind, before_no=before, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    items = [DecisionPublic(**public(dec.decision_from_row(r))) for r in rows]
    return DecisionPage(items=items, next_before=rows[-1].no if more else None)


@router.get("/v1/decisions/groups", response_model=DecisionGroups,
            summary="Decisions grouped per site, kind and day, most money at stake first")
def decision_groups(state: StateDep, _: Viewer,
                    status: Literal["proposed", "approved", "rejected", "executed", "noted"] = "proposed"
                    ) -> DecisionGroups:
    rows = state.decisions.list(status=status, limit=GROUPS_SCAN)
    return DecisionGroups(groups=groups.groups(rows, state.network))


@router.post("/v1/decisions/bulk", response_model=BulkResults,
             summary="Approve or reject many proposals at once (planner); the single approve's rules per id")
def bulk_decisions(state: StateDep, who: Planner, body: BulkBody, idem: IdemKey = None) -> BulkResults:
    def run() -> dict:
        tokens = state.tokens.table
        results = groups.bulk(state.store, list(body.ids), body.action, who.actor, note=body.note,
                              now=sim_now(state), policy=state.policy, sponsors=tokens.sponsors(who.token_id),
                              proposer_sponsors=lambda p: tokens.sponsors(person=person_of(p)))
        return {"results": results}

    return idempotent(state, idem, who.actor, {"op": "bulk", **body.model_dump()}, 200, run)


@router.get("/v1/decisions/{decision_id}", response_model=DecisionPublic, summary="One decision, with its trail")
def get_decision(state: StateDep, _: Viewer, decision_id: DecisionId) -> DecisionPublic:
    return DecisionPublic(**public(dec.get(state.store, decision_id)))


@router.post("/v1/decisions/{decision_id}/approve", response_model=DecisionOutcome,
             summary="Approve a proposed decision (planner); it is executed at once")
def approve_decision(state: StateDep, who: Planner, decision_id: DecisionId, idem: IdemKey = None,
                     body: ApproveBody | None = None) -> DecisionOutcome:
    note = body.note if body else ""

    def run() -> dict:
        tokens = state.tokens.table  # who issued whose tokens: one person cannot be both sides
        proposer = person_of(dec.get(state.store, decision_id).proposer)
        return outcome(dec.approve(state.store, decision_id, who.actor, note=note, now=sim_now(state),
                                   policy=state.policy, sponsors=tokens.sponsors(who.token_id),
                                   proposer_sponsors=tokens.sponsors(person=proposer)))

    return idempotent(state, idem, who.actor, {"op": "approve", "id": decision_id, "note": note}, 200, run)


@router.post("/v1/decisions/{decision_id}/reject", response_model=DecisionPublic,
             summary="Reject a proposed decision with a reason (planner)")
def reject_decision(state: StateDep, who: Planner, decision_id: DecisionId, body: RejectBody,
                    idem: IdemKey = None) -> DecisionPublic:
    return idempotent(state, idem, who.actor, {"op": "reject", "id": decision_id, "reason": body.reason}, 200,
                      lambda: public(dec.reject(state.store, decision_id, who.actor, body.reason)))

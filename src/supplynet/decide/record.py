"""Exactly once in effect: the loop's decisions, their action events, their outbox rows, the alerts it
raised and its checkpoint, committed in ONE transaction.

Every decision the loop makes carries a deterministic ``dedupe_key`` (:func:`dedupe_key`: kind,
subject, trigger), unique in the decisions table. The loop decides at fixed points of the log's event
time, so after a crash it re-makes the decisions of the log tail it folds again; each one whose key is
already stored is that stored row (nothing is inserted, executed or sent twice), the others are new.
A kill before the commit leaves nothing of the batch; a kill after it leaves all of it.

:func:`record` runs the autonomy policy (:func:`supplynet.decide.autonomy.evaluate`, spend read inside
the transaction) and writes, under the store's write lock: new decision rows (executed at once when
the policy allows, proposed or noted otherwise) with their audit entries, the action events of the
executed ones (``(source, seq)`` from the decision's number, so the log keeps them once), the alerts
given, one outbox row per action and subscribing sink (``action_id`` derived from the decision id or
the alert's event id, so a re-send carries the same idempotency key and body), and the checkpoint.
``guard(tx)`` runs last, before the commit: the leader lease check (a process that lost the lease
commits nothing).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..events import Alert, EventBase, ts_to_us
from ..store import Store
from ..store.decisions import DecisionRow, DecisionTable
from .autonomy import KINDS, AutonomyPolicy, evaluate
from .decision import (
    PLATFORM,
    Approval,
    Decision,
    DecisionError,
    OrderAction,
    RerouteAction,
    Submitted,
    WorkOrderAction,
    _record,
    action_events,
    decision_from_row,
)

__all__ = ["ACTIONS", "Outbox", "Recorded", "action_name", "alert_body", "decision_body", "dedupe_key", "record",
           "subject_of"]

#: what sinks subscribe to
ACTIONS = ("order", "transfer", "work_order", "reroute", "expedite", "alert", "production_order")

#: ``outbox(tx, action_id=, action=, body=, decision_id=, at_us=)``: write the rows of one action
Outbox = Callable[..., Any]


def subject_of(d: Decision) -> str:
    """What a decision is about: ``site/sku`` for orders and transfers, the asset, the shipment."""
    a = d.action
    if isinstance(a, OrderAction):
        return f"{a.site}/{a.sku}"
    if isinstance(a, WorkOrderAction):
        return a.asset_id
    return a.shipment_id


def dedupe_key(kind: str, subject: str, trigger: str) -> str:
    """``kind:subject:trigger``, e.g. ``replenish:DC1/SKU-A:2026-01-05T10:00:00Z``."""
    return f"{kind}:{subject}:{trigger}"


def action_name(d: Decision) -> str:
    """The sink action an executed decision is: order, transfer, production_order (a plant makes it: the MES's),
    work_order, reroute or expedite."""
    a = d.action
    if isinstance(a, OrderAction):
        return {"transfer": "transfer", "production": "production_order"}.get(a.order_type, "order")
    if isinstance(a, WorkOrderAction):
        return "work_order"
    return "expedite" if isinstance(a, RerouteAction) and a.option == "expedite" else "reroute"


def decision_body(d: Decision, events: Sequence[EventBase]) -> dict[str, Any]:
    """What a sink receives for an executed decision (deterministic for a stored decision); ``executed_at``:
    when it was carried out (a person's approval comes later than the decision's ``created_at``)."""
    executed = (d.executed or {}).get("at")
    return {"action_id": f"act-{d.id}", "action": action_name(d), "decision_id": d.id, "kind": d.kind,
            "dedupe_key": d.dedupe_key, "created_at": d.created_at.isoformat(),
            "executed_at": executed or d.created_at.isoformat(), "why": d.why, "cost": d.cost,
            "detail": d.action.model_dump(mode="json"), "event_ids": [e.event_id for e in events]}


def alert_body(a: Alert) -> dict[str, Any]:
    return {"action_id": f"alert-{a.event_id}", "action": "alert", "code": a.code, "subject": a.subject,
            "severity": a.severity, "message": a.message, "at": a.ts.isoformat(), "data": a.data,
            "event_id": a.event_id}


@dataclass
class Recorded:
    """What :func:`record` did: one :class:`Submitted` per decision given (``created`` False when its
    dedupe key was already stored), the events it wrote (or found written), the outbox actions."""

    submitted: list[Submitted] = field(default_factory=list)
    events: list[EventBase] = field(default_factory=list)
    actions: int = 0

    @property
    def new(self) -> list[Decision]:
        return [s.decision for s in self.submitted if s.created]


def _wire(events: Sequence[EventBase]) -> list[tuple[str, list[tuple[int, int, str, str]]]]:
    """Events as the log's wire runs: per source, ``(seq, ts_us, kind, json)`` by seq, without repeats."""
    by_source: dict[str, dict[int, tuple[int, int, str, str]]] = {}
    for e in events:
        js = type(e).__pydantic_serializer__.to_json(e, exclude_none=True, warnings=False).decode()
        by_source.setdefault(e.source, {})[e.seq] = (e.seq, ts_to_us(e.ts), e.kind, js)  # type: ignore[attr-defined]
    return [(src, [items[k] for k in sorted(items)]) for src, items in sorted(by_source.items())]


def _decide_status(table: DecisionTable, tx: Any, d: Decision, policy: AutonomyPolicy,
                   spent: dict[tuple[str, str], float]) -> tuple[str, dict[str, Any], list[Approval]]:
    at = d.created_at
    day = at.date().isoformat()
    key = (d.kind, day)
    if key not in spent:
        spent[key] = table.spent_tx(tx, d.kind, day)
    v = evaluate(kind=d.kind, cost=d.cost, quantity=d.quantity, lane_id=d.lane_id, supplier=d.supplier,
                 sources=d.independent_sources(), at=at, spent_today=spent[key], policy=policy)
    if v.status == "auto":
        spent[key] += d.cost
    autonomy = {"level": v.level, "status": v.status, "guardrails_broken": list(v.broken), "reason": v.reason,
                "distinct_approver": v.distinct_approver}
    approvals = [Approval(by="autonomy-policy", at=at, automatic=True, note=f"{d.kind} level auto")] \
        if v.status == "auto" else []
    return {"auto": "executed", "proposed": "proposed", "noted": "noted"}[v.status], autonomy, approvals


def record(store: Store, batch: Sequence[Decision], policy: AutonomyPolicy, *, alerts: Sequence[Alert] = (),
           outbox: Outbox | None = None, checkpoint: tuple[str, int, int] | None = None,
           guard: Callable[[Any], None] | None = None, folded: Sequence[tuple[str, str, dict[str, Any],
                                                                              str | None]] = ()) -> Recorded:
    """Record ``batch`` (platform decisions, each with a ``dedupe_key``), ``alerts``, the outbox rows of
    both, the outbox rows of ``folded`` actions ``(action_id, action, body, decision_id)`` (actions
    others executed, seen in the log) and ``checkpoint`` ``(name, offset, clock_us)``, in one
    transaction (see the module doc)."""
    for d in batch:
        if d.kind not in KINDS:
            raise DecisionError(f"unknown decision kind {d.kind!r}")
        if d.proposer != PLATFORM or not d.dedupe_key:
            raise DecisionError("record() takes platform decisions that carry a dedupe_key")
    out = Recorded()
    now = time.time_ns() // 1000
    table = store.decisions
    with store.transaction() as tx:
        known = table.by_dedupe_tx(tx, sorted({d.dedupe_key for d in batch}))  # type: ignore[misc]
        no = table.next_no_tx(tx)
        spent: dict[tuple[str, str], float] = {}
        events: list[EventBase] = []
        executed: list[tuple[Decision, list[EventBase]]] = []
        for d in batch:
            row = known.get(d.dedupe_key)  # type: ignore[arg-type]
            if row is not None:  # made before (a restart folded its trigger again): the same decision
                stored = decision_from_row(row)
                evs = action_events(stored, stored.created_at) if stored.status == "executed" else []
                out.submitted.append(Submitted(decision=stored, events=evs, created=False))
                continue
            status, autonomy, approvals = _decide_status(table, tx, d, policy, spent)
            new = d.model_copy(update={"id": f"D{no:07d}", "no": no, "status": status, "autonomy": autonomy,
                                       "approvals": approvals})
            evs = action_events(new, new.created_at) if status == "executed" else []
            audit = [(PLATFORM, {"executed": "decision.auto", "proposed": "decision.propose",
                                 "noted": "decision.note"}[status],
                      {"kind": d.kind, "cost": d.cost, "autonomy": autonomy, "triggers": d.trigger_event_ids[:20],
                       "dedupe_key": d.dedupe_key})]
            if evs:
                new = new.model_copy(update={"executed": {"at": new.created_at.isoformat(), "by": PLATFORM,
                                                          "event_ids": [e.event_id for e in evs]}})
                audit.append((PLATFORM, "decision.execute", {"events": [e.event_id for e in evs]}))
                executed.append((new, evs))
            table.insert_tx(tx, DecisionRow(no, new.id, new.kind, status, new.cost, now, now,
                                                    new.created_at.date().isoformat(), None, _record(new),
                                                    new.dedupe_key), audit)
            known[d.dedupe_key] = DecisionRow(no, new.id, new.kind, status, new.cost, now, now, "", None, {},  # type: ignore
                                              new.dedupe_key)
            events += evs
            out.submitted.append(Submitted(decision=new, events=evs, created=True))
            no += 1
        events += list(alerts)
        if events:
            store.log.append_wire_batches_tx(tx, _wire(events))
        out.events = events
        if outbox is not None:
            for d, evs in executed:
                outbox(tx, action_id=f"act-{d.id}", action=action_name(d), body=decision_body(d, evs),
                       decision_id=d.id, at_us=now)
                out.actions += 1
            for a in alerts:
                outbox(tx, action_id=f"alert-{a.event_id}", action="alert", body=alert_body(a), decision_id=None,
                       at_us=now)
                out.actions += 1
            for action_id, action, body, decision_id in folded:
                outbox(tx, action_id=action_id, action=action, body=body, decision_id=decision_id, at_us=now)
                out.actions += 1
        if checkpoint is not None:
            store.brain.set_checkpoint_tx(tx, *checkpoint)
        if guard is not None:
            guard(tx)
    return out

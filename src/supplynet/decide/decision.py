"""The Decision record and the executor.

Every decision carries what triggered it (event ids), the model output it used, the options it weighed
with their cost and time, the one chosen and why, and who or what approved it (DESIGN.md).

* :func:`submit` persists a new decision, applies the autonomy policy (auto, proposed or noted), writes
  the audit entries and executes auto decisions; it returns the decision and the action events.
* :func:`approve` / :func:`reject` are a person's answer to a proposal; a high-impact decision needs an
  approver other than its proposer.
* :func:`execute` refuses any decision without an approval record and turns an approved one into its
  action events (an ``OrderEvent`` created, a work order opened, a reroute alert), appended to the log.
  The events' ``(source, seq)`` derive from the decision's number, so executing twice stores them once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import DecisionError
from ..events import Alert, EventBase, Maintenance, OrderEvent
from ..security.tokens import people_behind, person_of
from ..store.decisions import DecisionRow, DecisionTable
from .autonomy import KINDS, AutonomyPolicy, evaluate
from .people import person_verdict, window_days

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["DECIDE_SOURCE", "Approval", "Decision", "DecisionNotFound", "OrderAction", "Option", "QualityAction",
           "RerouteAction",
           "Submitted", "WorkOrderAction", "approve", "decision_from_row", "execute", "from_order_proposal",
           "get", "reject", "submit", "submit_many", "approve_many"]

#: the source of the action events the executor writes (distinct from the loop's own source)
DECIDE_SOURCE = "supplynet.decide"
PLATFORM = "supplynet"
_SEQ_STRIDE = 16

Kind = Literal["replenish", "rebalance", "maintain", "reroute", "quality"]
Status = Literal["proposed", "approved", "rejected", "executed", "noted"]


class DecisionNotFound(DecisionError):
    code = "not_found"


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Option(_Base):
    label: str
    cost: float
    time_days: float | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class OrderAction(_Base):
    type: Literal["order"] = "order"
    site: str
    sku: str
    quantity: Annotated[float, Field(gt=0)]
    origin: str | None = None
    lane_id: str | None = None
    order_type: Literal["purchase", "transfer", "production"] = "purchase"


class WorkOrderAction(_Base):
    type: Literal["work_order"] = "work_order"
    asset_id: str
    detail: str = ""


class RerouteAction(_Base):
    """Answer to a late shipment: ``option`` is the alternative's kind (``wait``, ``expedite``,
    ``reroute`` move the same load - unless ``moves_load`` is False: then they, like ``transfer`` and
    ``alt_supplier``, send ``lines`` from ``origin`` as a new shipment and the late load still comes),
    ``arrival_days`` its planned time from the decision to arrival at the destination."""

    type: Literal["reroute"] = "reroute"
    shipment_id: str
    to_lane: str
    from_lane: str | None = None
    option: str | None = None
    arrival_days: float | None = None
    origin: str | None = None
    destination: str | None = None
    lines: list[tuple[str, float]] = Field(default_factory=list)
    moves_load: bool | None = None  # None: as ``option`` says (expedite and reroute move the load)


class QualityAction(_Base):
    """A lot put at risk in transit (a cold-chain excursion): ``option`` is ``inspect`` (hold the lot at
    ``destination`` for inspection on arrival), ``write_off`` (divert it to disposal) or ``release``."""

    type: Literal["quality"] = "quality"
    shipment_id: str
    option: Literal["inspect", "write_off", "release"]
    destination: str | None = None
    skus: list[str] = Field(default_factory=list)


Action = Annotated[OrderAction | WorkOrderAction | RerouteAction | QualityAction, Field(discriminator="type")]


class Approval(_Base):
    by: str
    at: datetime
    automatic: bool = False
    note: str = ""


class Decision(_Base):
    """One decision, from its trigger to its execution."""

    id: str = ""
    no: int = 0
    kind: Kind
    status: Status = "proposed"
    created_at: datetime
    proposer: str = PLATFORM
    trigger_event_ids: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    model_output: dict[str, Any] = Field(default_factory=dict)
    options: list[Option] = Field(default_factory=list)
    chosen: str = ""
    why: str = ""
    action: Action
    cost: float = 0.0
    autonomy: dict[str, Any] = Field(default_factory=dict)
    approvals: list[Approval] = Field(default_factory=list)
    rejection: dict[str, Any] | None = None
    executed: dict[str, Any] | None = None
    idempotency_key: str | None = None
    #: the platform's key of the decision: kind, subject and trigger (unique in the store; see
    #: :mod:`supplynet.decide.record`)
    dedupe_key: str | None = None

    @property
    def quantity(self) -> float | None:
        return getattr(self.action, "quantity", None)

    @property
    def lane_id(self) -> str | None:
        return getattr(self.action, "lane_id", None) or getattr(self.action, "to_lane", None)

    @property
    def supplier(self) -> str | None:
        a = self.action
        return a.origin if isinstance(a, OrderAction) and a.order_type == "purchase" else None

    def independent_sources(self) -> list[str]:
        """Distinct sources of the evidence: named ones plus the sources of the triggering events."""
        out = set(self.sources)
        out.update(e.rsplit(":", 1)[0] for e in self.trigger_event_ids if ":" in e)
        return sorted(out)


class Submitted(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    decision: Decision
    events: list[Any] = Field(default_factory=list)
    created: bool = True


def _utc(t: datetime | None) -> datetime:
    t = t or datetime.now(UTC)
    if t.tzinfo is None:
        raise DecisionError("decision times must carry a timezone")
    return t.astimezone(UTC)


def from_order_proposal(p: Any, *, now: datetime, kind: str = "replenish", trigger_event_ids: list[str] | None = None,
                        sources: list[str] | None = None, model_output: dict[str, Any] | None = None,
                        proposer: str = PLATFORM) -> Decision:
    """A Decision from :class:`supplynet.decide.replenish.OrderProposal` (options, cost, reason kept)."""
    if kind not in ("replenish", "rebalance"):
        raise DecisionError(f"an order proposal makes a replenish or rebalance decision, not {kind!r}")
    options = [Option(label=o["lane_id"], cost=float(o["cost"]), time_days=o.get("lead_time_days"),
                      detail={k: v for k, v in o.items() if k not in ("lane_id", "cost", "lead_time_days")})
               for o in p.options]
    out = {"policy": p.policy, "position": p.position, **(model_output or {})}
    return Decision(kind=kind, created_at=_utc(now), proposer=proposer, trigger_event_ids=list(trigger_event_ids or []),
                    sources=list(sources or []), model_output=out, options=options, chosen=p.lane_id,
                    why=p.reason, cost=float(p.cost),
                    action=OrderAction(site=p.site, sku=p.sku, quantity=float(p.quantity), origin=p.origin,
                                       lane_id=p.lane_id, order_type=p.order_type))


def decision_from_row(row: DecisionRow) -> Decision:
    return Decision.model_validate({**row.record, "id": row.id, "no": row.no, "status": row.status})


def _table(store: Store) -> DecisionTable:
    return store.decisions


def get(store: Store, decision_id: str) -> Decision:
    row = _table(store).get(decision_id)
    if row is None:
        raise DecisionNotFound(f"no decision {decision_id!r}")
    return decision_from_row(row)


def _record(d: Decision) -> dict[str, Any]:
    return d.model_dump(mode="json", exclude={"id", "no", "status"})


def submit(store: Store, decision: Decision, policy: AutonomyPolicy, *, actor: str | None = None,
           now: datetime | None = None) -> Submitted:
    """Persist and audit a new decision, apply autonomy, and execute it if it is auto.

    A decision proposed by a person (``proposer`` other than the platform) counts as approved by that
    person unless it is high-impact, which waits for someone else. Returns the stored decision and the
    events written (none unless it was executed). A repeated ``idempotency_key`` returns the decision
    made the first time (``created=False``) and writes nothing.
    """
    if decision.kind not in KINDS:
        raise DecisionError(f"unknown decision kind {decision.kind!r}")
    actor = actor or decision.proposer
    at = _utc(decision.created_at)
    table = _table(store)
    day = at.date().isoformat()
    human = decision.proposer != PLATFORM
    if human:  # the rules that need a second person are checked in the insert's transaction
        def make_person(no: int, peers: list[DecisionRow]) -> tuple[str, str, dict[str, Any], Any]:
            autonomy = person_verdict(decision, peers, policy, at)
            status = autonomy["status"]
            approvals = [Approval(by=decision.proposer, at=at, note="proposer")] if status == "approved" else []
            d = decision.model_copy(update={"autonomy": autonomy, "approvals": approvals, "status": status,
                                            "created_at": at})
            action = "decision.place" if status == "approved" else "decision.propose"
            return f"D{no:07d}", status, _record(d), (actor, action, {
                "kind": d.kind, "cost": d.cost, "autonomy": autonomy, "triggers": d.trigger_event_ids[:20]})

        row, created = table.insert(make_person, kind=decision.kind, cost=decision.cost, day=day,
                                    idem_key=decision.idempotency_key, audit=None,
                                    peers_days=window_days(at, policy))
    else:
        v = evaluate(kind=decision.kind, cost=decision.cost, quantity=decision.quantity, lane_id=decision.lane_id,
                     supplier=decision.supplier, sources=decision.independent_sources(), at=at,
                     spent_today=table.spent(decision.kind, day), policy=policy)
        status = {"auto": "approved", "proposed": "proposed", "noted": "noted"}[v.status]
        autonomy = {"level": v.level, "status": v.status, "guardrails_broken": list(v.broken), "reason": v.reason,
                    "distinct_approver": v.distinct_approver}
        approvals = [Approval(by="autonomy-policy", at=at, automatic=True, note=f"{decision.kind} level auto")] \
            if v.status == "auto" else []
        d = decision.model_copy(update={"autonomy": autonomy, "approvals": approvals, "status": status,
                                        "created_at": at})

        def make(no: int) -> tuple[str, str, dict[str, Any]]:
            return f"D{no:07d}", status, _record(d)

        action = {"approved": "decision.auto", "proposed": "decision.propose", "noted": "decision.note"}[status]
        row, created = table.insert(make, kind=d.kind, cost=d.cost, day=day, idem_key=d.idempotency_key,
                                    audit=(actor, action, {"kind": d.kind, "cost": d.cost, "autonomy": autonomy,
                                                           "triggers": d.trigger_event_ids[:20]}))
    stored = decision_from_row(row)
    if not created:
        return Submitted(decision=stored, events=[], created=False)
    if stored.status == "approved":
        return execute(store, stored, actor=actor, now=at)
    return Submitted(decision=stored, events=[])


def submit_many(store: Store, batch: list[Decision], policy: AutonomyPolicy, *, now: datetime | None = None
                ) -> list[Submitted]:
    """:func:`submit` for many platform decisions at once, with three durable commits in all (the
    decisions, their action events, their execution) instead of three each. Guardrails see the spend
    of the earlier decisions of the same batch, as they would one by one."""
    if not batch:
        return []
    table = _table(store)
    spent: dict[tuple[str, str], float] = {}
    staged = []
    for decision in batch:
        if decision.kind not in KINDS:
            raise DecisionError(f"unknown decision kind {decision.kind!r}")
        if decision.proposer != PLATFORM or decision.idempotency_key is not None:
            raise DecisionError("submit_many takes platform decisions without idempotency keys; use submit()")
        at = _utc(decision.created_at or now)
        day = at.date().isoformat()
        key = (decision.kind, day)
        if key not in spent:
            spent[key] = table.spent(decision.kind, day)
        v = evaluate(kind=decision.kind, cost=decision.cost, quantity=decision.quantity, lane_id=decision.lane_id,
                     supplier=decision.supplier, sources=decision.independent_sources(), at=at,
                     spent_today=spent[key], policy=policy)
        status = {"auto": "approved", "proposed": "proposed", "noted": "noted"}[v.status]
        if status == "approved":
            spent[key] += decision.cost
        autonomy = {"level": v.level, "status": v.status, "guardrails_broken": list(v.broken), "reason": v.reason,
                    "distinct_approver": v.distinct_approver}
        approvals = [Approval(by="autonomy-policy", at=at, automatic=True, note=f"{decision.kind} level auto")] \
            if v.status == "auto" else []
        d = decision.model_copy(update={"autonomy": autonomy, "approvals": approvals, "status": status,
                                        "created_at": at})
        action = {"approved": "decision.auto", "proposed": "decision.propose", "noted": "decision.note"}[status]

        def make(no: int, d: Decision = d, status: str = status) -> tuple[str, str, dict[str, Any]]:
            return f"D{no:07d}", status, _record(d)

        staged.append((make, d.kind, d.cost, day, (d.proposer, action, {
            "kind": d.kind, "cost": d.cost, "autonomy": autonomy, "triggers": d.trigger_event_ids[:20]})))
    stored = [decision_from_row(r) for r in table.insert_many(staged)]
    run = [d for d in stored if d.status == "approved"]
    events_of: dict[str, list[EventBase]] = {d.id: action_events(d, d.created_at) for d in run}
    all_events = [e for evs in events_of.values() for e in evs]
    if all_events:
        store.log.append(all_events)
    done_rows = table.update_many([
        (table_row, "approved", "executed", _record(d.model_copy(update={"status": "executed", "executed": {
            "at": d.created_at.isoformat(), "by": PLATFORM, "event_ids": [e.event_id for e in events_of[d.id]]}})),
         (PLATFORM, "decision.execute", {"events": [e.event_id for e in events_of[d.id]]}))
        for d, table_row in ((d, _as_row(d)) for d in run)])
    executed = {r.id: decision_from_row(r) for r in done_rows}
    return [Submitted(decision=executed.get(d.id, d), events=events_of.get(d.id, [])) for d in stored]


def _as_row(d: Decision) -> DecisionRow:
    return DecisionRow(d.no, d.id, d.kind, d.status, d.cost, 0, 0, d.created_at.date().isoformat(),
                       d.idempotency_key, _record(d))


def approve(store: Store, decision_id: str, by: str, *, now: datetime | None = None, note: str = "",
            policy: AutonomyPolicy | None = None, sponsors: set[str] | frozenset[str] = frozenset(),
            proposer_sponsors: set[str] | frozenset[str] = frozenset()) -> Submitted:
    """A person approves a proposal; it is executed at once. High-impact decisions (``autonomy``
    recorded ``distinct_approver``) refuse their own proposer -- the person, whichever token she uses
    -- and anyone on either side whose tokens the other issued (``sponsors``: who issued the approver's
    token, and theirs; ``proposer_sponsors``: the same for the proposer's tokens; see
    :func:`supplynet.security.tokens.people_behind`): an admin cannot mint a second person."""
    d = get(store, decision_id)
    if d.status != "proposed":
        raise DecisionError(f"decision {decision_id} is {d.status}; only a proposed decision can be approved")
    high = bool(d.autonomy.get("distinct_approver")) or (policy is not None and d.cost >= policy.high_impact_cost)
    proposer = person_of(d.proposer)
    if high and person_of(by) == proposer:
        raise DecisionError(f"decision {decision_id} needs approval by someone other than its proposer "
                            f"{proposer} (cost {d.cost:,.2f}; {d.autonomy.get('reason', 'high-impact')}); "
                            f"another token of the same person does not count")
    shared = people_behind(by, sponsors) & people_behind(d.proposer, proposer_sponsors)
    if high and shared:
        raise DecisionError(f"decision {decision_id} needs approval by someone other than its proposer "
                            f"{proposer}: {person_of(by)}'s and {proposer}'s tokens were issued by the same person "
                            f"({', '.join(sorted(shared))}), so {person_of(by)} does not count as a second person")
    at = _utc(now) if now else max(d.created_at, datetime.now(UTC))
    approved = d.model_copy(update={"status": "approved",
                                    "approvals": [*d.approvals, Approval(by=by, at=datetime.now(UTC), note=note)]})
    row = _table(store).update(decision_id, expect_status="proposed", status="approved", record=_record(approved),
                               audit=(by, "decision.approve", {"note": note, "cost": d.cost}))
    return execute(store, decision_from_row(row), actor=by, now=at)


def approve_many(store: Store, decision_ids: list[str], by: str, *, now: datetime | None = None, note: str = ""
                 ) -> list[Submitted]:
    """:func:`approve` for several proposals, with three durable commits in all. The same rules: only
    proposed decisions, and a high-impact one never by its proposer."""
    table = _table(store)
    current = [get(store, i) for i in decision_ids]
    for d in current:
        if d.status != "proposed":
            raise DecisionError(f"decision {d.id} is {d.status}; only a proposed decision can be approved")
        if d.autonomy.get("distinct_approver") and person_of(by) == person_of(d.proposer):
            raise DecisionError(f"decision {d.id} needs approval by someone other than its proposer "
                                f"{person_of(d.proposer)} (cost {d.cost:,.2f}); another token of the same person "
                                f"does not count")
    if not current:
        return []
    stamp = datetime.now(UTC)
    approved = [d.model_copy(update={"status": "approved", "approvals": [*d.approvals, Approval(by=by, at=stamp,
                                                                                            note=note)]})
                for d in current]
    table.update_many([(_as_row(d), "proposed", "approved", _record(d), (by, "decision.approve",
                                                                        {"note": note, "cost": d.cost}))
                       for d in approved])
    at = {d.id: _utc(now) if now else max(d.created_at, stamp) for d in approved}
    events_of = {d.id: action_events(d, at[d.id]) for d in approved}
    all_events = [e for evs in events_of.values() for e in evs]
    if all_events:
        store.log.append(all_events)
    rows = table.update_many([
        (_as_row(d), "approved", "executed", _record(d.model_copy(update={"status": "executed", "executed": {
            "at": at[d.id].isoformat(), "by": by, "event_ids": [e.event_id for e in events_of[d.id]]}})),
         (by, "decision.execute", {"events": [e.event_id for e in events_of[d.id]]})) for d in approved])
    return [Submitted(decision=decision_from_row(r), events=events_of[r.id]) for r in rows]


def reject(store: Store, decision_id: str, by: str, reason: str, *, now: datetime | None = None) -> Decision:
    """A proposal turned down (by a person, or by the platform when a newer one supersedes it)."""
    if not reason or not reason.strip():
        raise DecisionError("a rejection needs a reason")
    d = get(store, decision_id)
    if d.status != "proposed":
        raise DecisionError(f"decision {decision_id} is {d.status}; only a proposed decision can be rejected")
    rejected = d.model_copy(update={"status": "rejected",
                                    "rejection": {"by": by, "at": (now or datetime.now(UTC)).isoformat(),
                                                  "reason": reason}})
    row = _table(store).update(decision_id, expect_status="proposed", status="rejected", record=_record(rejected),
                               audit=(by, "decision.reject", {"reason": reason}))
    return decision_from_row(row)


def action_events(d: Decision, at: datetime) -> list[EventBase]:
    """The events that carry out decision ``d`` (pure)."""
    base = d.no * _SEQ_STRIDE
    a = d.action
    if isinstance(a, OrderAction):
        return [OrderEvent(source=DECIDE_SOURCE, seq=base, ts=at, order_id=f"PO-{d.id}", order_type=a.order_type,
                           status="created", site=a.site, sku=a.sku, quantity=a.quantity, origin=a.origin,
                           lane_id=a.lane_id, decision_id=d.id)]
    if isinstance(a, WorkOrderAction):
        return [Maintenance(source=DECIDE_SOURCE, seq=base, ts=at, asset_id=a.asset_id, action="work_order_opened",
                            work_order_id=f"WO-{d.id}", detail=(a.detail or d.why)[:2000])]
    if isinstance(a, QualityAction):
        return [Alert(source=DECIDE_SOURCE, seq=base, ts=at, code="quality_hold", subject=a.shipment_id,
                      severity="critical", message=d.why[:2000],
                      data={"decision_id": d.id, "option": a.option, "destination": a.destination,
                            "skus": list(a.skus)})]
    return [Alert(source=DECIDE_SOURCE, seq=base, ts=at, code="reroute", subject=a.shipment_id, severity="info",
                  message=d.why[:2000], data={"to_lane": a.to_lane, "from_lane": a.from_lane, "decision_id": d.id,
                                              "option": a.option, "arrival_days": a.arrival_days, "origin": a.origin,
                                              "destination": a.destination, "lines": [list(x) for x in a.lines]})]


def execute(store: Store, decision: Decision, *, actor: str = PLATFORM, now: datetime | None = None) -> Submitted:
    """Carry out an approved decision: append its action events to the log and mark it executed.

    Refuses a decision that is not approved or has no approval record (:class:`DecisionError`).
    """
    if decision.status != "approved" or not decision.approvals:
        raise DecisionError(f"decision {decision.id or '(new)'} has no approval record (status {decision.status}); "
                            f"the executor refuses it")
    if not decision.id or decision.no <= 0:
        raise DecisionError("only a stored decision can be executed (submit it first)")
    at = _utc(now or decision.created_at)
    events = action_events(decision, at)
    store.log.append(events)
    done = decision.model_copy(update={"status": "executed", "executed": {
        "at": at.isoformat(), "by": actor, "event_ids": [e.event_id for e in events]}})
    row = _table(store).update(decision.id, expect_status="approved", status="executed", record=_record(done),
                               audit=(actor, "decision.execute", {"events": [e.event_id for e in events]}))
    return Submitted(decision=decision_from_row(row), events=events)

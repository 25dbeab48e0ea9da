"""People's own decisions: when one person's word is enough, and when a second person must approve.

A decision a person places (an order, a work order through the API) goes ahead on their authority
unless, by :func:`person_verdict`:

* its cost reaches the policy's ``high_impact_cost``;
* with the decisions placed on the same subject (:func:`subjects`: a SKU at a site, the supplier of a
  purchase, an asset, a shipment) on their proposers' own authority within ``split_window_hours``, it
  reaches it -- a big order split into small ones adds up;
* the proposer's own decisions of the day would pass ``person_max_spend_per_day`` (default:
  ``high_impact_cost``).

The earlier decisions are read in the insert's write transaction (writers are serialized), so parts
sent at once add up as well. The person is compared, not the role (:func:`supplynet.security.tokens.person_of`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..security.tokens import person_of
from ..store.decisions import DecisionRow
from .autonomy import AutonomyPolicy

__all__ = ["person_verdict", "subjects", "window_days"]


def subjects(kind: str, action: dict[str, Any]) -> list[str]:
    """What a decision acts on, for adding up split decisions: the SKU at a site (and the supplier of
    a purchase), the asset of a work order, the shipment of a reroute."""
    t = action.get("type")
    if t == "order":
        out = [f"{kind} {action.get('sku')} at {action.get('site')}"]
        if action.get("order_type") == "purchase" and action.get("origin"):
            out.append(f"supplier {action['origin']}")
        return out
    if t == "work_order":
        return [f"asset {action.get('asset_id')}"]
    return [f"shipment {action.get('shipment_id')}"]


def window_days(at: datetime, policy: AutonomyPolicy) -> tuple[str, ...]:
    """The UTC days the split-decision window and the day's cap reach back to (oldest first)."""
    first = (at - timedelta(hours=policy.split_window_hours)).date()
    return tuple((first + timedelta(days=i)).isoformat() for i in range((at.date() - first).days + 1))


def person_verdict(decision: Any, peers: list[DecisionRow], policy: AutonomyPolicy, at: datetime) -> dict[str, Any]:
    """The autonomy record of a person's own decision: ``status`` approved (on their authority) or
    proposed (a second person approves), with the reason.

    It needs one when its cost reaches ``high_impact_cost``; when, with the decisions placed on the
    same subject on their proposers' own authority within ``split_window_hours``, it reaches it (a big
    order split into small ones); or when the proposer's own decisions of the day would pass
    ``person_max_spend_per_day`` (default: ``high_impact_cost``). The person is compared, not the
    role: one person's tokens of two roles are one person."""
    person, cost = person_of(decision.proposer), decision.cost
    high, since = policy.high_impact_cost, at - timedelta(hours=policy.split_window_hours)
    reasons = []
    if cost >= high:
        reasons.append(f"high_impact: cost {cost:,.2f} >= {high:,.2f} needs approval by someone other than "
                       f"{person}")
    own = []  # (decision time, cost, proposer's person, subjects) of earlier self-approved decisions
    for p in peers:
        rec = p.record
        auto = rec.get("autonomy") or {}
        if auto.get("level") != "person" or auto.get("status") != "approved":
            continue
        own.append((datetime.fromisoformat(rec["created_at"]), p.cost, person_of(str(rec.get("proposer", ""))),
                    subjects(p.kind, rec.get("action") or {})))
    if not reasons:
        for subject in subjects(decision.kind, decision.action.model_dump()):
            before = sum(c for t, c, _, subs in own if subject in subs and t >= since)
            if before > 0 and before + cost >= high:
                reasons.append(f"split_decisions: {before:,.2f} already placed on {subject} in the last "
                               f"{policy.split_window_hours:g} h + {cost:,.2f} >= {high:,.2f} needs approval by "
                               f"someone other than {person}")
                break
    cap = policy.person_max_spend_per_day if policy.person_max_spend_per_day is not None else high
    today = sum(c for t, c, who, _ in own if who == person and t.date() >= at.date())
    if not reasons and today + cost > cap:
        reasons.append(f"person_max_spend_per_day: {person} placed {today:,.2f} today on their own authority; "
                       f"+ {cost:,.2f} > {cap:,.2f} needs approval by someone else")
    if reasons:
        return {"level": "person", "status": "proposed", "reason": "; ".join(reasons), "distinct_approver": True}
    return {"level": "person", "status": "approved", "reason": "placed by a person within their authority",
            "distinct_approver": False}

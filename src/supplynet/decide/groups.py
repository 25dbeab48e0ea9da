"""A person's attention is a budget: proposals grouped per site, kind and day, answered in bulk.

    groups(rows, network)             # [{"key": "ST-LON|replenish|2026-01-07", "count": 12, ...}, ...]
    bulk(store, ids, "approve", ...)  # one result per id: its status, or why it was refused

:func:`groups` folds the proposals waiting for a person into one line per ``site|kind|day`` (the UTC
day the proposal was made), with the money at stake (the sum of their costs, in the network's
currency) and their ids, most money first: the queue shows what matters first. :func:`bulk` answers
many proposals with one request and applies exactly the rules of the single approve
(:func:`supplynet.decide.decision.approve`): a high-impact proposal is never approved by its proposer,
whichever of their tokens they use, nor by someone whose tokens share an issuer with theirs; each id
gets its own result, so one refusal does not stop the others.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..errors import DecisionError
from . import decision as dec

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["BULK_ACTIONS", "MAX_BULK", "bulk", "decision_site", "group_key", "groups", "parse_group_key"]

BULK_ACTIONS = ("approve", "reject")
#: the most ids one bulk request may answer
MAX_BULK = 1000
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def decision_site(record: dict[str, Any], network: Any = None) -> str:
    """The site a decision acts on: an order's destination, a work order's asset's site, a reroute's or
    quality hold's destination ("" when unknown)."""
    a = record.get("action") or {}
    t = a.get("type")
    if t == "order":
        return str(a.get("site") or "")
    if t == "work_order":
        try:
            asset = network.asset(a.get("asset_id")) if network is not None else None
        except Exception:  # noqa: BLE001 - an asset the network no longer has
            asset = None
        return str(getattr(asset, "site", "") or "")
    return str(a.get("destination") or "")


def group_key(site: str, kind: str, day: str) -> str:
    return f"{site}|{kind}|{day}"


def parse_group_key(key: str) -> tuple[str, str, str]:
    """``site|kind|YYYY-MM-DD`` split into its parts; a one-line :class:`DecisionError` otherwise."""
    parts = str(key).split("|")
    if len(parts) != 3 or not parts[1] or not _DAY.match(parts[2]):
        raise DecisionError(f"group key {key!r}: use SITE|KIND|YYYY-MM-DD (as 'decisions groups' lists them)")
    if parts[1] not in dec.KINDS:
        raise DecisionError(f"group key {key!r}: unknown kind {parts[1]!r}; use one of {', '.join(dec.KINDS)}")
    return parts[0], parts[1], parts[2]


def groups(rows: Iterable[Any], network: Any = None) -> list[dict[str, Any]]:
    """Decision rows (:class:`~supplynet.store.decisions.DecisionRow`) grouped per site, kind and UTC day,
    sorted by money at stake (descending), then key. Money is the sum of the decisions' costs."""
    currency = str(getattr(network, "currency", None) or "USD")
    costs = getattr(network, "costs", None)  # a cost model's currency wins when the network has one
    currency = str(getattr(costs, "currency", None) or currency)
    acc: dict[str, dict[str, Any]] = {}
    for r in rows:
        rec = r.record
        site = decision_site(rec, network)
        day = str(rec.get("created_at") or r.day or "")[:10]
        key = group_key(site, r.kind, day)
        g = acc.setdefault(key, {"key": key, "site": site, "kind": r.kind, "day": day, "count": 0,
                                 "money_at_stake": 0.0, "currency": currency, "ids": []})
        g["count"] += 1
        g["money_at_stake"] += float(r.cost or 0.0)
        g["ids"].append(r.id)
    out = list(acc.values())
    for g in out:
        g["money_at_stake"] = round(g["money_at_stake"], 2)
        g["ids"].sort()
    out.sort(key=lambda g: (-g["money_at_stake"], g["key"]))
    return out


def ids_of_group(rows: Iterable[Any], key: str, network: Any = None) -> list[str]:
    """The ids of the proposals in group ``key`` (empty when none waits)."""
    parse_group_key(key)
    for g in groups(rows, network):
        if g["key"] == key:
            return list(g["ids"])
    return []


def bulk(store: Store, ids: list[str], action: str, by: str, *, note: str = "", now: Any = None,
         policy: Any = None, sponsors: Iterable[str] = (),
         proposer_sponsors: Callable[[str], Iterable[str]] | None = None) -> list[dict[str, Any]]:
    """Approve or reject each of ``ids`` as ``by``, one at a time under the single-decision rules;
    returns ``[{"id", "status", "error"}]`` in the order given (duplicates answered once).

    ``sponsors``: who issued the approver's token (and theirs); ``proposer_sponsors(proposer)``: the same
    for a proposer (see :func:`supplynet.decide.decision.approve`). A reject needs a ``note`` (its reason).
    """
    if action not in BULK_ACTIONS:
        raise DecisionError(f"action {action!r}: use approve or reject")
    if len(ids) > MAX_BULK:
        raise DecisionError(f"{len(ids)} ids in one request; at most {MAX_BULK}")
    if action == "reject" and not (note or "").strip():
        raise DecisionError("a rejection needs a reason: give a note")
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            continue
        seen.add(i)
        try:
            if action == "approve":
                ps: Iterable[str] = ()
                if proposer_sponsors is not None:
                    ps = proposer_sponsors(dec.get(store, i).proposer)
                res = dec.approve(store, i, by, note=note, now=now, policy=policy, sponsors=set(sponsors),
                                  proposer_sponsors=set(ps))
                out.append({"id": i, "status": res.decision.status, "error": None})
            else:
                d = dec.reject(store, i, by, note, now=now)
                out.append({"id": i, "status": d.status, "error": None})
        except DecisionError as exc:
            status: str | None = None
            try:
                status = dec.get(store, i).status
            except DecisionError:
                status = "not_found"
            out.append({"id": i, "status": status, "error": str(exc)})
    return out

"""What the world learns from the platform, as an ERP would: the JSONL a ``file`` sink writes.

:class:`ActionFeed` reads the folder incrementally (it remembers each file's position and takes
only complete lines); :class:`ActionCarrier` carries each action out in the world once per action id:
a released order or transfer ships (``World.place``), a production order is made at the plant's day's close
(``World.make``: at most the line's rate, components allowing), a work order stops the machine after the
asset's maintenance lead time (``World.maintain``), an expedite or reroute speeds the load or sends
another (``World.reroute``). Alerts carry nothing out. ``supplynet fleet`` and ``supplynet demo``
both learn what to do this way, never from an in-process callback.

A line is what the outbox delivers (:meth:`supplynet.store.outbox.OutboxRow.payload`):
``{"action":..,"action_id":..,"body":{..},"decision_id":..}``. The body of an executed decision
carries the decision's action under ``detail`` (see :mod:`supplynet.decide.decision`: ``OrderAction``,
``WorkOrderAction``, ``RerouteAction``) and its time under ``executed_at`` (else ``created_at``); a body that is the action
event itself (``kind`` order, maintenance or alert, or under ``event``) is understood too.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

__all__ = ["ActionCarrier", "ActionFeed"]

log = logging.getLogger(__name__)


class ActionFeed:
    """New complete lines of the ``*.jsonl`` files in ``folder``, oldest file first. ``skip_existing``:
    start after what the files hold already (lines of an earlier world)."""

    def __init__(self, folder: str | Path, *, skip_existing: bool = False):
        self.folder = Path(folder)
        self.pos: dict[str, int] = {}
        self.bad_lines = 0
        if skip_existing and self.folder.is_dir():
            for p in self.folder.glob("*.jsonl"):
                data = p.read_bytes()
                self.pos[p.name] = data.rfind(b"\n") + 1

    def poll(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if not self.folder.is_dir():
            return out
        for p in sorted(self.folder.glob("*.jsonl")):
            at = self.pos.get(p.name, 0)
            try:
                size = p.stat().st_size
                if size < at:  # the file was replaced: read it again from the start
                    at = 0
                if size == at:
                    continue
                with p.open("rb") as f:
                    f.seek(at)
                    data = f.read(size - at)
            except OSError as exc:
                log.warning("actions: cannot read %s: %s", p, exc)
                continue
            end = data.rfind(b"\n")
            if end < 0:
                continue
            for line in data[:end].split(b"\n"):
                if not line.strip():
                    continue
                try:
                    doc = orjson.loads(line)
                except orjson.JSONDecodeError:
                    doc = None
                if isinstance(doc, dict):
                    out.append(doc)
                else:
                    self.bad_lines += 1
                    log.warning("actions: %s: a line that is not a JSON object was skipped", p.name)
            self.pos[p.name] = at + end + 1
        return out


def _time(value: Any) -> datetime | None:
    if isinstance(value, str):
        try:
            t = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return t if t.tzinfo is not None else None
    return None


@dataclass(frozen=True)
class _Order:
    """What ``World.place`` reads of an order."""

    order_id: str
    site: str
    sku: str
    quantity: float
    origin: str | None
    lane_id: str | None
    order_type: str = "purchase"


def _what(doc: dict[str, Any]) -> tuple[str, dict[str, Any], str | None, datetime | None]:
    """(action type, its fields, decision id, its time) from a line, whichever form its body has."""
    body = doc.get("body") if isinstance(doc.get("body"), dict) else {}
    did = doc.get("decision_id") or body.get("decision_id")
    at = (_time(body.get("executed_at")) or _time(body.get("created_at")) or _time(body.get("at"))
          or _time(body.get("ts")))
    detail = body.get("detail") if isinstance(body.get("detail"), dict) else None
    if detail is not None and "type" in detail:
        return str(detail["type"]), detail, did, at
    event = body.get("event") if isinstance(body.get("event"), dict) else body
    kind = event.get("kind")
    at = at or _time(event.get("ts"))
    if kind == "order":
        return "order", event, did or event.get("decision_id"), at
    if kind == "maintenance" and event.get("action") == "work_order_opened":
        return "work_order", event, did, at
    if kind == "alert" and event.get("code") == "reroute":
        data = event.get("data") or {}
        return "reroute", {**data, "shipment_id": event.get("subject")}, did or data.get("decision_id"), at
    return str(doc.get("action") or ""), body, did, at


#: the largest order quantity the world accepts from an action line (units)
MAX_ORDER_UNITS = 1e9


class ActionCarrier:
    """Carries out the actions of the feed in ``world`` (of ``network``), each action id once.
    ``carried``: counts by action; ``repeats``: lines whose action id was carried out already;
    ``done``: what the world did, one line per action; ``answers``: the late-shipment answers (reroute,
    expedite, transfer, alternative supplier) that changed something in the world, as it said."""

    def __init__(self, world: Any, network: Any):
        self.world, self.net = world, network
        self.seen: set[str] = set()
        self.carried: Counter[str] = Counter()
        self.repeats = 0
        self.ignored = 0
        self.done: list[str] = []
        self.answers: list[str] = []
        self.work_orders: Counter[str] = Counter()  # work orders carried out per asset
        self.refused: list[str] = []  # actions refused as invalid, with the reason (one line each)
        self._sites = {st.id for st in network.sites}
        self._skus = {p.sku for p in network.products}
        self._lanes = {ln.id for ln in network.lanes}
        self._assets = {a.id for a in network.assets}

    def _refuse(self, typ: str, f: dict[str, Any]) -> str | None:
        """Why the world will not carry out this action (None: it will): an order for a site, SKU, origin
        or lane the network does not have, or a quantity that is not a finite number in (0, 1e9]; a
        work order for an unknown asset."""
        if typ == "order" and f.get("order_type") == "production":
            q = f.get("quantity")
            if not isinstance(q, int | float) or isinstance(q, bool) or not 0 < q <= MAX_ORDER_UNITS:
                return f"production order quantity {q!r} is not a number in (0, {MAX_ORDER_UNITS:g}]"
            if not any(b.plant == f.get("site") and b.output_sku == f.get("sku") for b in self.net.boms):
                return (f"production order for {str(f.get('sku'))[:80]!r} at {str(f.get('site'))[:80]!r}: "
                        "no such line (bill of materials) in the network")
        elif typ == "order":
            q = f.get("quantity")
            if not isinstance(q, int | float) or isinstance(q, bool) or not 0 < q <= MAX_ORDER_UNITS:
                return f"order quantity {q!r} is not a number in (0, {MAX_ORDER_UNITS:g}]"
            for what, value, known in (("site", f.get("site"), self._sites), ("sku", f.get("sku"), self._skus),
                                       ("origin", f.get("origin"), self._sites),
                                       ("lane_id", f.get("lane_id"), self._lanes)):
                if (value is not None or what in ("site", "sku")) and value not in known:
                    return f"order {what} {str(value)[:80]!r} is not in the network"
        elif typ == "work_order" and f.get("asset_id") not in self._assets:
            return f"work order asset {str(f.get('asset_id'))[:80]!r} is not in the network"
        return None

    def carry_out(self, doc: dict[str, Any]) -> bool:
        """True when the line's action was carried out now (not a repeat, not an alert or unknown)."""
        aid = doc.get("action_id")
        if not isinstance(aid, str) or not aid:
            self.ignored += 1
            return False
        if aid in self.seen:
            self.repeats += 1
            return False
        self.seen.add(aid)
        typ, f, did, at = _what(doc)
        at = at or self.world.t
        problem = self._refuse(typ, f)
        if problem is not None:  # what an ERP refuses: the line is named, the world is left as it was
            self.ignored += 1
            self.refused.append(f"{aid[:80]}: {problem}")
            log.warning("actions: %s refused: %s", aid[:80], problem)
            return False
        if typ == "order" and f.get("order_type") == "production":
            oid = f.get("order_id") or (f"PO-{did}" if did else f"PO-{aid}")
            self.world.make(_Order(oid, f["site"], f["sku"], float(f["quantity"]), f["site"], None, "production"))
            what = f"{doc.get('action')} {oid}: make {float(f['quantity']):g} {f['sku']} at {f['site']}"
        elif typ == "order" and f.get("site") and f.get("sku") and f.get("quantity"):
            oid = f.get("order_id") or (f"PO-{did}" if did else f"PO-{aid}")
            self.world.place(_Order(oid, f["site"], f["sku"], float(f["quantity"]), f.get("origin"), f.get("lane_id")))
            what = f"{doc.get('action')} {oid}: {float(f['quantity']):g} {f['sku']} to {f['site']}"
        elif typ == "work_order" and f.get("asset_id"):
            asset = next((a for a in self.net.assets if a.id == f["asset_id"]), None)
            lead = timedelta(days=float(getattr(asset, "maintenance_lead_time_days", 0) or 0))
            wo = f.get("work_order_id") or (f"WO-{did}" if did else f"WO-{aid}")
            self.world.maintain(f["asset_id"], at=at + lead, work_order=wo)
            self.work_orders[f["asset_id"]] += 1
            what = f"work order {wo}: {f['asset_id']} stops at {(at + lead).isoformat()}"
        elif typ == "reroute" and f.get("shipment_id"):
            res = self.world.reroute(f, at=at)
            if res:
                self.answers.append(res)
            what = res or f"{f.get('option') or 'reroute'} {f['shipment_id']}: nothing to change"
        else:
            self.ignored += 1
            return False
        self.carried[str(doc.get("action") or typ)] += 1
        self.done.append(f"{aid}: {what}")
        return True

"""Cold chain in the live loop: each load's temperature record against its products' limits.

:class:`ColdChainWatch` follows the temperature readings of the loggers riding with a shipment
(``Condition`` events with a ``shipment_id``) and, on each ``decide``, assesses every load that
reported since the last call with :func:`supplynet.sense.coldchain.assess_load`:

- each new excursion above the load's limit raises a ``cold_chain_excursion`` alert (warning): the
  limit is the reefer's ``temperature_limit_c``, else the coldest ceiling among the load's products
  (:attr:`supplynet.model.Product.temperature_ceiling_c`); a load of ambient goods is not watched;
- a product whose time above the limit exceeds its ``excursion_allowance_min`` (or whose load's mean
  kinetic temperature exceeds its ceiling) raises one ``product_at_risk`` alert (critical) and a
  ``quality`` decision for the lot: inspect it on arrival, write it off, or release it, each costed
  (the value at risk from the products' unit costs); the cheapest safe answer is chosen and the
  autonomy policy decides whether a person must approve it (by default one must).

Alerts carry stable sequence numbers (:mod:`._alerts`), so a restarted loop does not repeat them.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..events import Condition, EventBase, ShipmentStatus
from ..sense.coldchain import ProductTolerance, assess_load
from . import decision as decisions
from ._alerts import AlertOutbox
from .autonomy import AutonomyPolicy

if TYPE_CHECKING:
    from ..model import Network
    from ..store import Store

__all__ = ["COLDCHAIN_SOURCE", "ColdChainWatch"]

COLDCHAIN_SOURCE = "supplynet.coldchain"
ZERO_C_K = 273.15


@dataclass
class _Load:
    shipment_id: str
    asset_id: str
    t: list[float] = field(default_factory=list)
    temp_c: list[float] = field(default_factory=list)
    trigger: list[str] = field(default_factory=list)
    excursions_reported: int = 0
    at_risk_reported: set[str] = field(default_factory=set)
    fresh: bool = False


class ColdChainWatch:
    """Temperature excursions and products at risk per load in transit.

    ``inspection_cost``: what inspecting a lot on arrival costs (the network's currency);
    ``max_gap_s``: a silence longer than this is a gap in the record, not time above the limit.
    """

    #: the event kinds it reads (the log follower calls it for these only)
    kinds = frozenset({"shipment", "condition"})

    def __init__(self, network: Network, *, store: Store | None = None, policy: AutonomyPolicy | None = None,
                 inspection_cost: float = 150.0, max_gap_s: float = 3600.0, max_readings: int = 5000):
        self.network = network
        self.store = store
        self.policy = policy or AutonomyPolicy()
        self.inspection_cost = float(inspection_cost)
        self.max_gap_s = float(max_gap_s)
        self.max_readings = int(max_readings)
        self.loads: dict[str, _Load] = {}
        self.alerts = AlertOutbox(COLDCHAIN_SOURCE)
        self.decisions_made = 0

    # -- observe ------------------------------------------------------------------------------------
    def observe(self, event: EventBase, twin: Any) -> None:
        if isinstance(event, ShipmentStatus):
            if event.status in ("delivered", "cancelled"):
                load = self.loads.get(event.shipment_id)
                if load is not None and not load.fresh:
                    del self.loads[event.shipment_id]
            return
        if not isinstance(event, Condition) or event.temperature_k is None or event.shipment_id is None:
            return
        load = self.loads.get(event.shipment_id)
        if load is None:
            load = self.loads[event.shipment_id] = _Load(event.shipment_id, event.asset_id)
        t = event.ts.timestamp()
        i = bisect_right(load.t, t)  # a late reading keeps the record in time order
        load.t.insert(i, t)
        load.temp_c.insert(i, event.temperature_k - ZERO_C_K)
        if len(load.t) > self.max_readings:  # bounded memory for a logger that never stops
            del load.t[0], load.temp_c[0]
        load.trigger = (load.trigger + [event.event_id])[-5:]
        load.fresh = True

    # -- decide -------------------------------------------------------------------------------------
    def decide(self, twin: Any, now: datetime) -> list[decisions.Decision]:
        """:meth:`propose`, then each decision submitted through the autonomy policy and the alerts
        appended to the log (without a store: returned unsubmitted)."""
        batch, _ = self.propose(twin, now, keep_alerts=True)
        out = [decisions.submit(self.store, d, self.policy, now=now).decision for d in batch] \
            if self.store is not None else batch
        self.alerts.flush(self.store)
        return out

    def propose(self, twin: Any, now: datetime, *, keep_alerts: bool = False
                ) -> tuple[list[decisions.Decision], list[Any]]:
        """The decisions (unsubmitted) and alerts for the loads that reported since the last call; the
        caller records them (the loop's service: in its one transaction)."""
        out: list[decisions.Decision] = []
        for sid, load in list(self.loads.items()):
            if not load.fresh:
                continue
            load.fresh = False
            sh = twin.state.shipments.get(sid)
            lines = [(sku, qty) for sku, qty, *_ in (sh.lines if sh is not None else ())]
            limit = self._limit(load.asset_id, (sku for sku, _ in lines))
            if limit is None:
                continue
            a = assess_load(load.t, load.temp_c, limit_c=limit, max_gap_s=self.max_gap_s)
            for k, exc in enumerate(a.excursions[load.excursions_reported:], start=load.excursions_reported):
                self.alerts.add(
                    code="cold_chain_excursion", subject=sid, ts=now, key=k, severity="warning",
                    message=f"{load.asset_id}: {exc.peak_c:.1f} C, above the {limit:g} C limit for "
                            f"{exc.duration_s / 60:.0f} min",
                    data={"asset_id": load.asset_id, "limit_c": limit, "peak_c": round(exc.peak_c, 2),
                          "minutes": round(exc.duration_s / 60, 1), "start": exc.start, "end": exc.end,
                          "destination": sh.destination if sh else None})
            load.excursions_reported = len(a.excursions)
            risk, assessments = self._at_risk(load, lines)
            new_risk = {sku: why for sku, why in risk.items() if sku not in load.at_risk_reported}
            if not new_risk:
                continue
            load.at_risk_reported.update(new_risk)
            self.alerts.add(
                code="product_at_risk", subject=sid, ts=now, key=",".join(sorted(new_risk)), severity="critical",
                message=f"{', '.join(sorted(new_risk))} at risk on {sid}: " + "; ".join(
                    f"{sku}: {' and '.join(why)}" for sku, why in sorted(new_risk.items())),
                data={"asset_id": load.asset_id, "skus": sorted(new_risk), "assessments": assessments,
                      "destination": sh.destination if sh else None})
            out.append(self._decision(sid, sh, lines, new_risk, assessments, load, now))
            self.decisions_made += 1
        return out, ([] if keep_alerts else self.alerts.drain())

    def _limit(self, asset_id: str, skus: Iterable[str]) -> float | None:
        try:
            asset = self.network.asset(asset_id)
        except Exception:  # noqa: BLE001 - an asset the network does not know: use the products alone
            asset = None
        if asset is not None and getattr(asset, "temperature_limit_c", None) is not None:
            return float(asset.temperature_limit_c)
        ceilings = [c for c in (self._ceiling(s) for s in skus) if c is not None]
        return min(ceilings) if ceilings else None

    def _product(self, sku: str) -> Any:
        try:
            return self.network.product(sku)
        except Exception:  # noqa: BLE001 - not in the network
            return None

    def _ceiling(self, sku: str) -> float | None:
        p = self._product(sku)
        return p.temperature_ceiling_c if p is not None else None

    def _at_risk(self, load: _Load, lines: list[tuple[str, float]]
                 ) -> tuple[dict[str, list[str]], dict[str, dict[str, object]]]:
        """Products of the load beyond their tolerance, each judged against its own ceiling; returns
        ``{sku: reasons}`` and the assessment per ceiling (``"8.0"`` -> its summary)."""
        by_ceiling: dict[float, list[ProductTolerance]] = {}
        for sku, _ in lines:
            p = self._product(sku)
            if p is None or p.temperature_ceiling_c is None:
                continue
            by_ceiling.setdefault(float(p.temperature_ceiling_c), []).append(
                ProductTolerance(sku, allowance_s=60.0 * p.excursion_allowance_min))
        risk: dict[str, list[str]] = {}
        summaries: dict[str, dict[str, object]] = {}
        for ceiling, tols in by_ceiling.items():
            a = assess_load(load.t, load.temp_c, limit_c=ceiling, products=tols, max_gap_s=self.max_gap_s)
            summaries[f"{ceiling:g}"] = a.to_dict()
            risk.update(a.at_risk)
        return risk, summaries

    def _decision(self, sid: str, sh: Any, lines: list[tuple[str, float]], risk: dict[str, list[str]],
                  assessments: dict[str, dict[str, Any]], load: _Load, now: datetime) -> decisions.Decision:
        products = {sku: self._product(sku) for sku in risk}
        cm = getattr(self.network, "cost_model", None)  # write-off value per unit: the cost model's spoilage
        value = sum(qty * (cm.spoilage_rate(sku) if cm is not None else products[sku].unit_cost)
                    for sku, qty in lines if products.get(sku) is not None)
        over = max((float(a["time_above_s"]) / max(60.0 * p.excursion_allowance_min, 1.0) - 1.0
                    for p in products.values() if p is not None
                    for c, a in assessments.items() if c == f"{p.temperature_ceiling_c:g}"), default=1.0)
        p_spoiled = min(1.0, 0.25 + 0.25 * max(over, 0.0))  # a judgement until inspected: grows with the overrun
        options = [
            decisions.Option(label="inspect on arrival", cost=round(self.inspection_cost, 2),
                             detail={"then": "release or write off what fails"}),
            decisions.Option(label="write off the lot", cost=round(value, 2), detail={"value_at_risk": value}),
            decisions.Option(label="release as is", cost=round(p_spoiled * value, 2),
                             detail={"p_spoiled": p_spoiled, "note": "food safety: never chosen by the platform"}),
        ]
        write_off = value <= self.inspection_cost
        chosen = "write off the lot" if write_off else "inspect on arrival"
        reasons = "; ".join(f"{sku}: {' and '.join(why)}" for sku, why in sorted(risk.items()))
        why = (f"beyond tolerance on {sid} ({load.asset_id}): {reasons}; "
               + (f"the lot is worth {value:,.2f}, less than an inspection ({self.inspection_cost:,.2f})" if write_off
                  else f"inspection ({self.inspection_cost:,.2f}) is cheaper than writing off {value:,.2f}"))
        return decisions.Decision(
            kind="quality", created_at=now, trigger_event_ids=list(load.trigger),
            sources=[load.asset_id], model_output={"assessments": assessments, "p_spoiled": p_spoiled},
            options=options, chosen=chosen, why=why, cost=options[1 if write_off else 0].cost,
            action=decisions.QualityAction(shipment_id=sid, option="write_off" if write_off else "inspect",
                                           destination=sh.destination if sh else None, skus=sorted(risk)))

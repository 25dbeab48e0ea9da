"""The shipment watch the live loop calls: progress and ETA per shipment, delays declared with
significance, their impact, and the response chosen, proposed or executed and recorded.

    watch = ShipmentWatch(network, simulate=sim_whatif, store=store)  # decisions submitted and audited
    for rec in new_records:                            # after the twin has applied each event
        twin.apply(rec.event); watch.observe(rec.event, twin)
    decisions = watch.decide(twin, now)                # delays declared since the last call

A shipment answered again (its forecast slipped further, or several declarations came in one call)
gets one decision for its latest declaration; a proposal of an earlier one still waiting for a
planner is rejected as superseded, so the approval queue holds one current answer per shipment.

Without a store the decisions come back unsubmitted (status "proposed"), with everything they weighed.
Responses are costed by the what-if simulation the watch is handed (``simulate``, a
:class:`~supplynet.decide.whatif.Simulate`: :func:`supplynet.loop.sim_whatif` in the brain).
The autonomy policy defaults to :data:`MINIMAL_POLICY` (reroutes automatic up to 5,000 a decision,
20,000 a day; larger ones proposed to a planner); the control tower's full policy can be passed in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..events import EventBase, Position, ShipmentStatus
from ..sense.eta.delay import ArrivalForecast, DelayDeclared, DelayDetector, DelayPolicy, SegmentEtaModel
from ._alerts import AlertOutbox
from .autonomy import AutonomyPolicy, Guardrails, KindPolicy
from .decision import PLATFORM, Decision, DecisionError, reject, submit
from .impact import assess_impact
from .reroute import Response, plan_response
from .whatif import Simulate

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["ETA_SOURCE", "MINIMAL_POLICY", "ShipmentWatch", "WatchStats"]

#: the source of the ``eta`` and ``late_shipment`` alerts (the twin folds them into each shipment)
ETA_SOURCE = "supplynet.eta"

MINIMAL_POLICY = AutonomyPolicy(kinds={"reroute": KindPolicy(level="auto", guardrails=Guardrails(
    max_spend_per_decision=5000.0, max_spend_per_day=20000.0))})


@dataclass
class WatchStats:
    positions: int = 0
    statuses: int = 0
    delays: int = 0
    decisions: int = 0
    superseded: int = 0


class ShipmentWatch:
    """Consumes Position and ShipmentStatus events; declares delays; decides responses."""

    #: the event kinds it reads (the log follower calls it for these only)
    kinds = frozenset({"shipment", "position"})

    def __init__(self, network: Any, *, simulate: Simulate, store: Store | None = None,
                 policy: AutonomyPolicy | None = None,
                 objective: str | None = None, delay_policy: DelayPolicy | None = None,
                 eta_models: Mapping[str, SegmentEtaModel] | None = None, replications: int = 64, seed: int = 0,
                 horizon_days: int | None = None, eta_change_s: float = 1800.0, eta_every_s: float = 6 * 3600.0,
                 **alternative_options: Any):
        self.network = network
        self.simulate = simulate
        self.store = store
        self.policy = policy or MINIMAL_POLICY
        self.objective = objective
        self.detector = DelayDetector(network, policy=delay_policy, eta_models=eta_models, seed=seed)
        self.replications = replications
        self.seed = seed
        self.horizon_days = horizon_days
        self.alternative_options = alternative_options
        self.pending: list[DelayDeclared] = []
        self.delays: list[DelayDeclared] = []
        self.responses: list[Response] = []
        self.stats = WatchStats()
        self._open: dict[str, str] = {}  # shipment id -> its proposal waiting for a planner
        # the arrival forecast goes to the log (and so the twin, the API and the map) when its P50 moved by
        # eta_change_s or a tenth of the time still to go, or eta_every_s passed since the last one written
        self.eta_change_s, self.eta_every_s = float(eta_change_s), float(eta_every_s)
        self._eta_sent: dict[str, tuple[float, float]] = {}  # shipment id -> (forecast time, p50) written
        self.alerts = AlertOutbox(ETA_SOURCE)

    def observe(self, event: EventBase, twin: Any) -> None:
        """Fold one event (already applied to ``twin``) into the shipments' progress and ETA."""
        if isinstance(event, ShipmentStatus):
            self.stats.statuses += 1
            sh = twin.state.shipments.get(event.shipment_id)
            self.detector.observe_status(event.shipment_id, event.status, event.lane_id, event.ts,
                                         departed_at=sh.departed_at if sh else None, event_id=event.event_id)
            if event.status in ("delivered", "cancelled"):
                self._open.pop(event.shipment_id, None)  # nothing left to supersede
                self._eta_sent.pop(event.shipment_id, None)
            return
        if not isinstance(event, Position) or event.shipment_id is None:
            return
        sh = twin.state.shipments.get(event.shipment_id)
        if sh is None or sh.delivered_at is not None or sh.lane_id is None:
            return
        self.stats.positions += 1
        _, late = self.detector.observe_position(event.shipment_id, sh.lane_id, event.lat, event.lon, event.ts,
                                                 sh.promised_at, departed_at=sh.departed_at, event_id=event.event_id)
        self._eta_alert(event)
        if late:
            d = self.detector.declared(event.shipment_id, sh, event.ts, event.event_id)
            self.pending.append(d)
            self.delays.append(d)
            self.stats.delays += 1
            self.alerts.add(code="late_shipment", subject=event.shipment_id, ts=event.ts, key=event.event_id,
                            severity="warning",
                            message=f"{event.shipment_id} to {d.destination}: P50 arrival "
                                    f"{d.expected_delay_h:.1f} h after the promised time",
                            data={k: v for k, v in d.to_dict().items() if k != "lines"})

    def _eta_alert(self, event: Position) -> None:
        f = self.eta(event.shipment_id or "")
        if f is None or not all(map(math.isfinite, (f.p10, f.p50, f.p90))):
            return
        last = self._eta_sent.get(event.shipment_id or "")
        moved = abs(f.p50 - last[1]) if last is not None else math.inf
        if moved < max(self.eta_change_s, 0.1 * (f.p50 - f.t)) and f.t - last[0] < self.eta_every_s:  # type: ignore[index]
            return
        self._eta_sent[event.shipment_id or ""] = (f.t, f.p50)
        iso = {k: datetime.fromtimestamp(v, UTC).isoformat() for k, v in (("p10", f.p10), ("p50", f.p50),
                                                                          ("p90", f.p90))}
        self.alerts.add(code="eta", subject=event.shipment_id or "", ts=event.ts, key=event.event_id, severity="info",
                        message=f"arrival P50 {iso['p50']} (P10 {iso['p10']}, P90 {iso['p90']})",
                        data={**iso, "method": f.method, "progress": round(float(f.progress), 4)})

    def eta(self, shipment_id: str) -> ArrivalForecast | None:
        """The latest arrival forecast of a shipment in transit (None if it has no fix yet)."""
        tr = self.detector.tracks.get(shipment_id)
        return tr.forecast if tr else None

    def decide(self, twin: Any, now: datetime, *, objective: str | None = None) -> list[Decision]:
        """Assess and answer every delay declared since the last call; returns the decisions (stored
        ones when the watch has a store)."""
        self.alerts.flush(self.store)  # eta and late_shipment alerts found while observing
        out: list[Decision] = []
        found, _ = self.propose(twin, now, objective=objective)
        for decision in found:
            if self.store is not None:
                decision = submit(self.store, decision, self.policy, now=now).decision
                self.recorded(decision, now)
            out.append(decision)
        return out

    def propose(self, twin: Any, now: datetime, *, objective: str | None = None
                ) -> tuple[list[Decision], list[Any]]:
        """The answers (unsubmitted decisions) to the delays declared since the last call and the alerts
        raised while observing (``eta``, ``late_shipment``); the caller records them and hands each
        decision back to :meth:`recorded`."""
        alerts = self.alerts.drain()
        todo, self.pending = self.pending, []
        out: list[Decision] = []
        state = twin.state
        latest = {d.shipment_id: d for d in todo}  # the last declaration per shipment answers for all
        for d in latest.values():
            impact = assess_impact(self.network, state, shipment_id=d.shipment_id, destination=d.destination,
                                   lines=d.lines, now=now, arrival=d.eta_p50, on_time=d.promised_at)
            tr = self.detector.tracks.get(d.shipment_id)  # a truck standing still: its stop goes on
            standing = max(tr.last_t - tr.moving_since, 0.0) / 86400.0 if tr is not None else 0.0
            resp = plan_response(self.network, state, d, impact, now=now, simulate=self.simulate,
                                 objective=objective or self.objective, standing_days=standing,
                                 replications=self.replications, seed=self.seed, horizon_days=self.horizon_days,
                                 **self.alternative_options)
            self.responses.append(resp)
            out.append(resp.to_decision(now))
            self.stats.decisions += 1
        return out, alerts

    def recorded(self, decision: Decision, now: datetime) -> None:
        """A stored answer: an earlier proposal for the same shipment still waiting is superseded."""
        shipment_id = decision.action.shipment_id  # type: ignore[union-attr]
        prev = self._open.pop(shipment_id, None)
        if prev is not None and prev != decision.id and self.store is not None:
            try:
                reject(self.store, prev, by=PLATFORM, now=now,
                       reason=f"superseded by {decision.id}: shipment {shipment_id} was assessed again")
                self.stats.superseded += 1
            except DecisionError:  # a planner approved or rejected it meanwhile
                pass
        if decision.status == "proposed":
            self._open[shipment_id] = decision.id

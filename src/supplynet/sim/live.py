"""Start the Monte Carlo engine from the live twin, and stress-test the network from there.

:func:`initial_state_from_twin` maps the twin's projections (``supplynet.twin``) onto the engine's
starting arrays:

- on hand and backorders per stocking point (``twin.state.inventory``);
- shipments on the road (departed, not delivered nor cancelled): each line arrives at its
  destination on the day of its current ETA (``eta``, else departure plus the lane's given mean lead
  time (``lead_times``), else ``promised_at``, else departure plus the feeding lane's mean lead time),
  counted from ``at``; an overdue shipment arrives on day 1;
- open orders (``twin.state.orders``: created, released or shipped, not yet fully shipped): owed
  by the item's upstream feed (or arriving after the lead time from an external supplier);
- asset health: a machine with an open work order is down, one with a failure or an alert on
  record is at risk. Every production line (BOM) that needs a machine that is down stops for the
  machine's ``maintenance_lead_time_days`` (at least one day); one that needs a machine at risk
  loses ``at_risk_loss`` of its capacity for as long. These are disruptions from day 0, returned as
  ``LiveStart.health`` and added to every scenario run from the live state.

:func:`supplynet.sim.run_scenarios` runs the scenario library (or given scenarios) from that state
on common random numbers and :func:`rank_sites` ranks the sites by risk exposure, after Simchi-Levi
et al., "Identifying risks and mitigating disruptions in the automotive supply chain", Interfaces 45(5), 2015: the
time-to-survive (TTS) and time-to-recover (TTR) of each node, flagged when TTS < TTR, and an index of
the impact each scenario adds over the undisturbed run from the same state.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from supplynet.errors import SimulationError
from supplynet.sim import kpi
from supplynet.sim.disruptions import Disruption, Draw, Target
from supplynet.sim.network import SimNetwork
from supplynet.sim.scenario import Scenario, ScenarioLike

__all__ = ["LiveStart", "initial_state_from_twin", "rank_sites"]

_DAY = 86400.0
_OPEN_SHIPMENT = ("departed", "in_transit", "delayed", "arrived")


@dataclass
class LiveStart:
    """The engine's starting point taken from the twin: the network with its initial state set,
    the asset-health disruptions from day 0, and what could not be mapped."""

    network: SimNetwork
    at: datetime
    health: tuple[Disruption, ...] = ()
    warnings: list[str] = field(default_factory=list)
    down: list[str] = field(default_factory=list)       # machine ids down (open work order)
    at_risk: list[str] = field(default_factory=list)    # machine ids at risk (failures or alerts)

    def scenario(self, base: ScenarioLike | None = None) -> Scenario | None:
        """``base`` with the health disruptions added (None when there is nothing to add)."""
        if base is None:
            return Scenario("baseline", self.health, "the live state, no disruption") if self.health else None
        if not isinstance(base, Scenario):
            raise SimulationError(f"scenario {base.name!r}: from the live state a scenario must be a "
                                  "supplynet.sim.Scenario (its disruptions join the machines' health events)")
        return Scenario(base.name, tuple(base.events) + self.health, base.description)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _days_until(when: datetime, at: datetime) -> int:
    """Whole days from ``at`` until ``when``, rounded up, at least 1 (the engine's day 1 = tomorrow)."""
    return max(1, math.ceil((_utc(when) - at).total_seconds() / _DAY - 1e-9))


def initial_state_from_twin(sim_network: SimNetwork, twin: Any, at: datetime | None = None, *,
                            unknown: str = "model", at_risk_loss: float = 0.5,
                            at_risk: Iterable[str] = (), lead_times: Mapping[str, float] | None = None) -> LiveStart:
    """Map ``twin`` (a :class:`supplynet.twin.Twin` or its ``TwinState``) onto ``sim_network``.

    ``at`` is day 0 of the simulation (default: the time of the last event the twin applied).
    ``unknown``: what a stocking point the twin has no record of starts with: ``"model"`` (the
    network's own initial state, listed in the warnings) or ``"zero"``. ``at_risk``: extra machine
    ids judged at risk (e.g. by ``supplynet.sense.health.health``). ``lead_times``: mean lead time in days per
    lane id (e.g. the live loop's learned ones); a shipment on such a lane without an ETA estimate arrives at
    its departure plus that mean rather than at its promised time (a promise carries the carrier's padding).
    """
    if not isinstance(sim_network, SimNetwork):
        raise SimulationError(f"sim_network must be a SimNetwork, got {type(sim_network).__name__}")
    if unknown not in ("model", "zero"):
        raise SimulationError(f'"unknown" must be "model" or "zero", got {unknown!r}')
    if not 0.0 <= float(at_risk_loss) <= 1.0:
        raise SimulationError(f'"at_risk_loss" must be in [0, 1], got {at_risk_loss!r}')
    state = getattr(twin, "state", twin)
    if not hasattr(state, "inventory") or not hasattr(state, "shipments"):
        raise SimulationError(f"twin must be a supplynet.twin.Twin or TwinState, got {type(twin).__name__}")
    model = getattr(twin, "network", None)
    at = _utc(at) if at is not None else _utc(state.last_event_at or datetime.now(UTC))
    net = sim_network
    lookup = {(net.sites[s], k): i for i, (s, k) in enumerate(zip(net.item_site, net.item_sku, strict=True))}
    warnings: list[str] = []
    n = net.n_items

    on_hand = np.where(net.source, 0.0, net.init_on_hand) if unknown == "model" else np.zeros(n)
    backorders = net.init_backlog.copy() if unknown == "model" else np.zeros(n)
    seen = np.zeros(n, dtype=bool)
    for (site, sku), pos in state.inventory.items():
        i = lookup.get((site, sku))
        if i is None:
            if pos.on_hand or pos.backorders or pos.in_transit or pos.on_order:
                warnings.append(f"{site}/{sku}: in the twin but not a stocking point of the simulated network")
            continue
        if net.source[i]:
            continue
        seen[i] = True
        oh = float(pos.on_hand)
        if oh < 0:
            warnings.append(f"{site}/{sku}: twin on hand {oh:g} < 0 counted as backorders")
        on_hand[i] = max(oh, 0.0)
        backorders[i] = float(pos.backorders) + max(-oh, 0.0)
    missing = [net.item_names[i] for i in range(n) if not seen[i] and not net.source[i]]
    if missing:
        how = "the network's initial state" if unknown == "model" else "nothing"
        warnings.append(f"{len(missing)} stocking point(s) unknown to the twin start with {how}: "
                        + ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else ""))

    # shipments on the road, arriving at their current ETA
    lane_mean = {name: None for name in net.lanes}
    for i in range(n):
        if net.item_lane[i] >= 0:
            lane_mean[net.lanes[net.item_lane[i]]] = float(net.lt_mean[i])
    transit: list[tuple[int, float, int]] = []
    for sh in state.shipments.values():
        if sh.departed_at is None or sh.delivered_at is not None or sh.status not in _OPEN_SHIPMENT:
            continue
        for sku, qty, _ in sh.lines:
            i = lookup.get((sh.destination, sku))
            if i is None or net.source[i]:
                if i is None and qty:
                    warnings.append(f"shipment {sh.shipment_id}: {sh.destination}/{sku} is not simulated")
                continue
            eta = sh.eta
            if eta is None and lead_times and sh.lane_id in lead_times:
                eta = _utc(sh.departed_at) + timedelta(days=float(lead_times[sh.lane_id]))
            eta = eta or sh.promised_at
            if eta is None:
                mean = lane_mean.get(sh.lane_id or "") or float(net.lt_mean[i])
                eta = _utc(sh.departed_at) + timedelta(days=mean)
            transit.append((i, float(qty), _days_until(eta, at)))

    # open orders, owed by the item's upstream feed
    open_q = np.zeros(n)
    for o in state.orders.values():
        q = o.open_quantity
        if q <= 0:
            continue
        i = lookup.get((o.site, o.sku))
        if i is None or net.source[i]:
            if i is None:
                warnings.append(f"order {o.order_id}: {o.site}/{o.sku} is not simulated")
            continue
        open_q[i] += q
    live = net.with_initial_state(on_hand=on_hand, in_transit=transit or np.zeros((n, 1)), open_orders=open_q,
                                  backorders=backorders)
    health, down, risky = _health_events(live, state, model, float(at_risk_loss), set(at_risk), warnings)
    meta = dict(net.meta, live={"at": at.isoformat(), "events_applied": getattr(state, "events_applied", None),
                                "down": down, "at_risk": risky})
    return LiveStart(network=live.replace(meta=meta), at=at, health=health, warnings=warnings, down=down,
                     at_risk=risky)


def _health_events(net: SimNetwork, state: Any, model: Any, loss: float, extra: set[str],
                   warnings: list[str]) -> tuple[tuple[Disruption, ...], list[str], list[str]]:
    """Production lines stopped (machine down) or slowed (machine at risk) from day 0."""
    down = sorted(a for a, s in state.assets.items() if s.open_work_order)
    risky = sorted(a for a, s in state.assets.items()
                   if a not in down and (s.failures > 0 or s.last_alert or a in extra))
    risky += sorted(a for a in extra if a not in state.assets and a not in down)
    if not (down or risky):
        return (), down, risky
    if model is None:
        warnings.append("the twin has no network model: machine health cannot be mapped to production lines")
        return (), down, risky
    events: list[Disruption] = []
    for b in getattr(model, "boms", ()):
        lane = f"bom:{b.plant}:{b.output_sku}"
        if lane not in net.lanes or not b.machines:
            continue
        for machines, severity in ((set(b.machines) & set(down), 1.0), (set(b.machines) & set(risky), loss)):
            if not machines or severity <= 0:
                continue
            days = max(1.0, max(_repair_days(model, m) for m in machines))
            events.append(Disruption("lane_closure", Draw(value=0.0), Draw(value=days), severity,
                                     Target(lane=(lane,)), where=f"health:{','.join(sorted(machines))}"))
    return tuple(events), down, risky


def _repair_days(model: Any, asset_id: str) -> float:
    try:
        return float(model.asset(asset_id).maintenance_lead_time_days)
    except Exception:  # noqa: BLE001 - an asset the model does not list: one day
        return 1.0


# ---------------------------------------------------------------------------------------------- ranking
def rank_sites(runs: Mapping[str, Any]) -> pd.DataFrame:
    """One row per site, highest risk exposure first; ``runs`` must hold a ``"baseline"`` result and
    the scenario results on the same seed (as :func:`supplynet.sim.run_scenarios` runs them).

    Columns: ``rank, site, kind, tts_days, ttr_days, flagged, short_before, risk_exposure, impact,
    worst_scenario, baseline_revenue_at_risk, share_short``. ``tts_days`` is the shortest median time-to-survive over
    the scenarios, ``ttr_days`` the longest median time-to-recover, ``flagged`` whether any scenario
    has TTS < TTR at the site, ``short_before`` whether it was already short before a scenario's first
    disruption (see :func:`supplynet.sim.kpi.node_resilience`; its TTS then counts the skus that were not,
    NaN when none); ``impact`` is the mean over scenarios of the revenue at risk, shortage
    cost and value owed downstream that the scenario adds over the undisturbed run, and
    ``risk_exposure`` that impact over the largest (1 = the most exposed site)."""
    if "baseline" not in runs:
        raise SimulationError("rank_sites needs a 'baseline' run to measure what each scenario adds")
    res = {name: kpi.node_resilience(r).set_index("site") for name, r in runs.items()}
    base = res["baseline"]

    def impact(df: pd.DataFrame) -> pd.Series:
        return df["revenue_at_risk_mean"] + df["shortage_cost_mean"] + df["owed_value_mean"]

    b_imp = impact(base)
    names = [k for k in res if k != "baseline"] or ["baseline"]
    rows = []
    for site in base.index:
        per = {k: float(max(impact(res[k]).get(site, 0.0) - (b_imp[site] if k != "baseline" else 0.0), 0.0))
               for k in names}
        worst = max(per, key=per.get)
        rows.append({
            "site": site, "kind": base.loc[site, "kind"],
            "tts_days": _nanmin([res[k].loc[site, "tts_p50"] for k in names]),
            "short_before": bool(any(res[k].loc[site, "short_before_disruption"] for k in names)),
            "ttr_days": float(max(res[k].loc[site, "ttr_p50"] for k in names)),
            "flagged": bool(any(res[k].loc[site, "flag_tts_lt_ttr"] for k in names)),
            "impact": float(np.mean(list(per.values()))), "worst_scenario": worst,
            "share_short": float(max(res[k].loc[site, "share_short"] for k in names)),
            "baseline_revenue_at_risk": float(base.loc[site, "revenue_at_risk_mean"]),
        })
    df = pd.DataFrame(rows)
    top = df["impact"].max() if len(df) else 0.0
    df["risk_exposure"] = df["impact"] / top if top > 0 else 0.0
    df = df.sort_values(["risk_exposure", "ttr_days", "site"], ascending=[False, False, True], ignore_index=True)
    df.insert(0, "rank", np.arange(1, len(df) + 1))
    cols = ["rank", "site", "kind", "tts_days", "ttr_days", "flagged", "short_before", "risk_exposure", "impact",
            "worst_scenario", "baseline_revenue_at_risk", "share_short"]
    return df[cols]


def _nanmin(values: list[float]) -> float:
    """The least of ``values`` that is a number (NaN: a site short before every scenario's disruption)."""
    got = [float(v) for v in values if np.isfinite(v)]
    return min(got) if got else float("nan")

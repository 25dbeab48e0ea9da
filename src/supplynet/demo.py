"""``supplynet demo``: the realistic network run in accelerated time through the whole loop, composed of
the deployment's own processes in one process, deterministically:

* the world (``supplynet fleet``, :class:`~supplynet.fleet._live.LiveFleet`): each simulated hour its
  devices send signed envelopes through the ingestion gate and its site systems write their records,
  all into the log;
* the brain (``supplynet run``, :class:`~supplynet.commands.run.Brain`, tick = one hour): it folds the
  log to its head, and as the hour closes every decision maker decides; decisions, alerts, outbox rows
  and checkpoint commit in one transaction;
* the outbox dispatcher delivers the executed actions to a ``file`` sink in ``<home>/actions``, which the
  world reads (as an ERP would) before its next hour: there is no callback from the loop into the world;
* the face (``supplynet serve``): the CLI starts the dashboard on the store through ``on_ready``.

A simulated planner approves each morning what waits for a person; the run ends with a stress test
from the live state. The store is kept for inspection (``supplynet state``, ``supplynet events``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .decide import decision as decisions
from .decide.autonomy import AutonomyPolicy
from .fleet._setup import machine_histories
from .loop import default_policy, rul_model
from .model import Network, example_path, load_network
from .store import open_store

if TYPE_CHECKING:
    from .store import Store

__all__ = ["DemoResult", "default_policy", "demo_summary", "machine_histories", "rul_model", "run_demo"]

log = logging.getLogger(__name__)

#: the demo's tick: the brain decides as each simulated hour closes
TICK_S = 3600.0
#: what the demo's world subscribes to (a ``file`` sink in ``<home>/actions``)
WORLD_ACTIONS = ("order", "transfer", "production_order", "work_order", "reroute", "expedite")
#: the echelons the summary reports inventory for (site kinds)
ECHELONS = ("plant", "dc", "store")


@dataclass
class DemoResult:
    store_url: str
    network: str
    days: int
    seconds: float
    events: int
    by_kind: dict[str, int]
    orders: int
    shipments: int
    delivered: int
    fill_rate: float
    demand: float
    unfilled: float
    failures: int
    produced: float
    sources_used: list[str]
    decisions: dict[str, int] = field(default_factory=dict)
    watched: dict[str, int] = field(default_factory=dict)
    preventive: int = 0
    rul_source: str = ""
    jam: str = ""
    ranking: Any = None
    shrinkage_alerts: int = 0
    gate: dict[str, int] = field(default_factory=dict)
    stress_seconds: float = 0.0
    stress_folder: str = ""
    approved_by_planner: int = 0
    pending: int = 0
    reroutes: list[str] = field(default_factory=list)  # executed answers to late shipments the world carried out
    inventory: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def run_demo(*, network: str | Path | Network | None = None, days: int = 21, seed: int = 7,
             home: str | Path = ".supplynet", data_dir: str | Path | None = None, fresh: bool = True,
             start: datetime | None = None, cover_days: float = 4.0, policy: AutonomyPolicy | None = None,
             planner_hour: int | None = 8, jam_hours: float = 20.0, stress_replications: int = 200,
             stress_horizon: int = 60, via_gate: bool = True, cache_dir: str | Path | None = None, on_ready: Callable[[Any, Network], None] | None = None, on_hour: Callable[[int, int], None] | None = None,
             on_day: Callable[[int, Any, Network], None] | None = None, fidelity_replications: int = 200,
             fidelity_at_day: int | None = None) -> DemoResult:
    """Run the demo for ``days`` simulated days; ``on_hour(done, total)`` reports progress.

    ``policy``: the autonomy policy (default: the packaged example). ``planner_hour``: each day at this
    hour a simulated planner approves the proposals waiting since the day before (None: nobody
    does); proposals of the last day are left for a person at the dashboard. ``on_day(day, loop, network)``
    is called at the end of each simulated day (``day`` = 1, 2, ...) with the live loop (its twin and
    replenisher), e.g. to predict the days ahead from the live state (``bench/twin_fidelity.py``). ``on_ready(store_url,
    network)`` is called once the store exists (the CLI starts the dashboard there). The run ends
    with a stress test from the live state (``stress_replications`` = 0 skips it). The machines' RUL
    model is trained once and kept in ``cache_dir`` (default ``home``). ``via_gate``: every device
    has its own key and sends signed envelopes through the ingestion gate (else straight to the log).
    ``fresh``: start from an empty store (and an empty actions folder). Twin fidelity: at the end of day
    ``fidelity_at_day`` (default ``max(1, days // 3)``) the twin predicts the days left from the live state
    (:func:`supplynet.sim.forecast_live.predict_from_live` under the live replenisher and its forecast refit,
    ``fidelity_replications`` replications; 0 skips it, as does a one-day run), and at the end the realized
    KPIs are set beside the prediction (``extra["fidelity"]``, the summary's ``fidelity``).
    """
    from .commands.run import Brain
    from .decide.outbox import Dispatcher
    from .decide.sinks import SinksConfig, SinkSpec
    from .fleet._live import LiveFleet

    t0 = time.perf_counter()
    net = network if isinstance(network, Network) else load_network(network or example_path("realistic"))
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    db = home / "demo.db"
    actions = home / "actions"
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        if actions.is_dir():  # what the world read from an earlier demo's store, deleted above
            for old in actions.glob("*.jsonl"):
                old.unlink()
    start = start or datetime(2026, 1, 5, tzinfo=UTC)
    train, replay, rul_source = machine_histories(data_dir, seed)
    model = rul_model(Path(cache_dir) if cache_dir else home, train, rul_source)
    policy = policy or default_policy()
    # the one sink of the demo: what the world carries out, as JSONL it reads (alerts stay in the log and on
    # the dashboard; the world has nothing to do with them)
    sinks = SinksConfig([SinkSpec(name="world", kind="file", actions=WORLD_ACTIONS, folder=actions,
                                  rotate="none")], source="demo")
    with open_store(f"sqlite:///{db}") as store:
        if not isinstance(network, Network):  # the store remembers its network ('supplynet state' uses it)

            src = Path(network or example_path("realistic"))
            store.brain.record_network(src.read_text(encoding="utf-8"), net.name, replace=True)
        world = LiveFleet(store, net, days=days, start=start, seed=seed, data_dir=data_dir, actions=actions,
                          home=home, cover_days=cover_days, jam_hours=jam_hours, via_gate=via_gate,
                          machine_frame=replay)
        inventory_start = _by_echelon(world.world.stock, net)
        stock_hours: Counter[tuple[str, str]] = Counter()  # unit-hours on hand per SKU-site (holding cost)
        brain = Brain(store, net, policy, sinks=sinks, tick_s=TICK_S, home=home, data_dir=Path(data_dir) if data_dir is not None else None,
                      seed=seed, model=model, inline_refit=True, out=None)
        if not brain.start(threading.Event()):
            raise RuntimeError("the demo's brain was not elected")  # pragma: no cover - no stop is ever set
        dispatcher = Dispatcher(store, sinks, home=home)
        try:
            loop = brain.loop
            if on_ready is not None:
                on_ready(store.url, net)
            world.open()
            brain.catch_up(wall=world.now)
            total = days * 24
            approved = 0
            fid: dict[str, Any] = {}
            fid_day = (max(1, days // 3) if fidelity_at_day is None else int(fidelity_at_day)) \
                if fidelity_replications > 0 else 0
            if fid_day and not 1 <= fid_day < days:
                fid_day = 0
            for hour in range(total):
                world.carry_out()  # what the sink delivered since the last hour
                stock_hours.update({k: q for k, q in world.world.stock.items() if q > 0})
                world.step()
                brain.catch_up(close_at=world.now, wall=world.now)
                if planner_hour is not None and world.now.hour == planner_hour and hour < total - 24:
                    approved += _planner_round(store, brain, world.now)
                _deliver(dispatcher)
                if on_hour:
                    on_hour(hour + 1, total)
                if (hour + 1) % 24 == 0:
                    if fid_day:
                        _fidelity_mark((hour + 1) // 24, fid_day, days, loop, net, fid, seed, fidelity_replications)
                    if on_day is not None:
                        on_day((hour + 1) // 24, loop, net)
            world.carry_out()
            brain.catch_up(wall=world.now)
        finally:
            dispatcher.close()
            brain.finish()
        ranking, stress_s, folder = None, 0.0, ""
        if stress_replications > 0:
            ranking, stress_s, folder = _stress_test(net, loop, home, stress_replications, stress_horizon, seed)
        st = world.world.stats
        extra = {"end": (start + timedelta(days=days)).isoformat(), "actions": dict(world.carrier.carried),
                 "actions_folder": str(actions), "inventory_start": inventory_start,
                 "inventory_end": _by_echelon(world.world.stock, net), "stock_unit_hours": dict(stock_hours),
                 "fidelity": fid.get("result"),
                 **_recorded(store, loop.twin, world)}
        return DemoResult(
            store_url=store.url, network=net.name, days=days, seconds=time.perf_counter() - t0,
            events=store.log.count(), by_kind=dict(Counter(st.by_kind)), orders=loop.orders_decided,
            shipments=st.shipments, delivered=st.delivered,
            fill_rate=(st.sold / st.demand) if st.demand else 1.0, demand=st.demand, unfilled=st.unfilled,
            failures=st.failures, produced=st.produced, sources_used=world.fleet.sources_used,
            inventory=loop.twin.inventory_frame(), extra=extra,
            decisions=dict(loop.outcomes), approved_by_planner=approved, pending=_waiting(store),
            watched=dict(loop.watched), preventive=st.preventive, rul_source=rul_source, jam=world.jam,
            ranking=ranking, stress_seconds=stress_s, stress_folder=folder,
            shrinkage_alerts=loop.shrinkage_alerts,
            gate=dict(getattr(world.fleet.sink, "outcomes", {})),
            reroutes=list(world.carrier.answers),
        )


def _fidelity_mark(day: int, at_day: int, days: int, loop: Any, net: Network, fid: dict[str, Any], seed: int,
                   replications: int) -> None:
    """Twin fidelity: at the end of ``at_day`` predict the days left from the live twin; at the end of the
    run set the realized KPIs beside the prediction (``fid["result"]``)."""
    from .errors import SimulationError
    from .sim.forecast_live import (
        KPIS,
        live_machines,
        live_refit,
        observe_twin,
        predict_from_live,
        realized_between,
    )

    if day == at_day:
        fid["start"] = observe_twin(loop.twin, net)
        t0 = time.perf_counter()
        try:
            fid["pred"] = predict_from_live(net, loop.twin, horizon_days=days - at_day, replications=replications,
                                            seed=seed, policies=loop.replenisher, refit=live_refit(loop),
                                            machines=live_machines(loop))
        except SimulationError as exc:  # the demo goes on; the summary's fidelity stays null
            log.warning("twin fidelity: no prediction at day %d: %s", at_day, exc)
        fid["seconds"] = time.perf_counter() - t0
    elif day == days and "pred" in fid:
        pred = fid["pred"]
        fid["result"] = {"at_day": at_day, "horizon_days": days - at_day, "replications": replications,
                         "seconds": round(fid["seconds"], 3),
                         "predicted": {k: pred[k] for k in KPIS}, "meta": pred["meta"],
                         "realized": realized_between(fid["start"], observe_twin(loop.twin, net))}


def _by_echelon(stock: dict[tuple[str, str], float], net: Network) -> dict[str, float]:
    """Units on hand in the world by echelon (plants, DCs, stores)."""
    out = dict.fromkeys(ECHELONS, 0.0)
    kind = {s.id: s.kind for s in net.sites}
    for (site, _), q in stock.items():
        if kind.get(site) in out:
            out[kind[site]] += max(float(q), 0.0)
    return out


def _recorded(store: Store, twin: Any, world: Any) -> dict[str, Any]:
    """What the decisions table, the twin and the world recorded, for :func:`demo_summary`."""

    by_kind: dict[str, Counter[str]] = {}
    proposed = expedites = orders = 0
    expedite_cost = 0.0
    for r in store.decisions.list(limit=10_000_000):
        by_kind.setdefault(r.kind, Counter())[r.status] += 1
        rec = r.record or {}
        if (rec.get("autonomy") or {}).get("status") == "proposed":  # it went to a person
            proposed += 1
        action = rec.get("action") or {}
        if r.status != "executed":
            continue
        if action.get("type") == "order":
            orders += 1
        elif action.get("type") == "reroute" and action.get("option") in ("expedite", "reroute"):
            expedites += action.get("option") == "expedite"
            expedite_cost += float(r.cost or 0.0)
    shipped: dict[str, float] = {}
    for sh in twin.state.shipments.values():
        lane = sh.lane_id or ""
        shipped[lane] = shipped.get(lane, 0.0) + sum(float(q) for _, q, *_ in sh.lines)
    return {"decisions_by_kind": {k: dict(v) for k, v in sorted(by_kind.items())}, "proposed_to_person": proposed,
            "expedites_executed": int(expedites), "expedite_cost": expedite_cost, "orders_executed": orders,
            "shipments_by_lane": dict(shipped), "shipment_count_by_lane": dict(Counter(
                sh.lane_id or "" for sh in twin.state.shipments.values())),
            "lost_sales_by_sku_site": {k: p.lost_sales for k, p in twin.state.inventory.items() if p.lost_sales},
            "failures_by_asset": {a: m.failures for a, m in world.world.machines.items() if m.failures},
            "work_orders_by_asset": dict(world.carrier.work_orders)}


def _cost(network: Any, name: str, default: float, *owners: Any) -> float:
    """A price from the cost model: the first of ``owners`` (a product, lane, asset) that has ``name``, then
    the network's cost model (``network.costs``), then the network, else ``default``."""
    for o in (*owners, getattr(network, "costs", None), network):
        v = getattr(o, name, None) if o is not None else None
        if isinstance(v, int | float) and not isinstance(v, bool):
            return float(v)
    return float(default)


def demo_summary(result: DemoResult, network: Network) -> dict[str, Any]:
    """The demo as one JSON object (``supplynet demo --summary-json FILE``): store fill rate, lost sales in
    units and value, inventory by echelon at the start and the end, proposals a person saw a day, decisions
    by kind and status, expedites executed, the total cost by component and the twin's fidelity.

    Costs are priced here, in one place, from the network (unit cost, price, holding rate and shortage
    cost per product; cost per unit and per shipment per lane; failure and preventive cost per asset) and
    the cost model where the network has one (``ordering_cost``, ``lost_sale_penalty``, ...; absent: the
    defaults named below), over what the world and the decisions recorded:
    * ordering: executed orders x ``ordering_cost`` (default 0);
    * transport: per lane, units shipped x ``cost_per_unit`` + shipments x ``fixed_cost_per_shipment``;
    * holding: unit-hours on hand in the world x unit cost x ``holding_cost_rate`` (per year);
    * lost_sales: units lost x ``shortage_cost`` (else ``lost_sale_penalty``, else the price);
    * expedite: the cost of the executed expedite and reroute answers;
    * downtime: failures x ``failure_cost`` + work orders carried out x ``preventive_cost``.

    ``fidelity``: the twin's prediction, made at the end of day ``max(1, days // 3)`` for the days left
    (P10/P50/P90 of the store fill rate and the units on hand at the DCs and at the stores at the end, see
    :func:`supplynet.sim.forecast_live.predict_from_live`), beside the values the twin realized (the
    stores' sales over sales plus lost sales between the two days; on hand at the end); each value null
    when no prediction was made (a one-day run, or ``fidelity_replications=0``)."""
    x = result.extra
    products = {p.sku: p for p in network.products}
    lanes = {ln.id: ln for ln in network.lanes}
    assets = {a.id: a for a in network.assets}
    lost_value = lost_penalty = 0.0
    for (_, sku), units in (x.get("lost_sales_by_sku_site") or {}).items():
        p = products.get(sku)
        price = _cost(network, "price", 0.0, p)
        lost_value += units * price
        lost_penalty += units * _cost(network, "shortage_cost", _cost(network, "lost_sale_penalty", price), p)
    holding = 0.0
    for (_, sku), unit_hours in (x.get("stock_unit_hours") or {}).items():
        p = products.get(sku)
        holding += (unit_hours / (365.0 * 24.0) * _cost(network, "unit_cost", 0.0, p)
                    * _cost(network, "holding_cost_rate", 0.25, p))
    transport = 0.0
    for lane_id, units in (x.get("shipments_by_lane") or {}).items():
        ln = lanes.get(lane_id)
        if ln is not None:
            transport += units * _cost(network, "cost_per_unit", 0.0, ln)
            transport += x["shipment_count_by_lane"].get(lane_id, 0) * _cost(network, "fixed_cost_per_shipment", 0.0, ln)
    downtime = sum(n * _cost(network, "failure_cost", 0.0, assets.get(a))
                   for a, n in (x.get("failures_by_asset") or {}).items())
    downtime += sum(n * _cost(network, "preventive_cost", 0.0, assets.get(a))
                    for a, n in (x.get("work_orders_by_asset") or {}).items())
    components = {"ordering": x.get("orders_executed", 0) * _cost(network, "ordering_cost", 0.0),
                  "transport": transport, "holding": holding, "lost_sales": lost_penalty,
                  "expedite": float(x.get("expedite_cost", 0.0)), "downtime": downtime}
    total = {k: round(v, 2) for k, v in components.items()}
    total["total"] = round(sum(components.values()), 2)
    total["currency"] = getattr(getattr(network, "costs", None), "currency", None) or network.currency

    def _na() -> dict[str, None]:
        return {"p10": None, "p50": None, "p90": None, "realized": None}

    return {
        "network": result.network, "days": result.days,
        "store_fill_rate": result.fill_rate,
        "lost_sales_units": result.unfilled,
        "lost_sales_value": round(lost_value, 2),
        "inventory_units_by_echelon": {"start": x.get("inventory_start", {}), "end": x.get("inventory_end", {})},
        "proposals_to_person_per_day": x.get("proposed_to_person", 0) / result.days if result.days else 0.0,
        "decisions": x.get("decisions_by_kind", {}),
        "expedites_executed": x.get("expedites_executed", 0),
        "total_cost": total,
        "fidelity": _fidelity(x.get("fidelity")) or {k: _na() for k in ("store_fill_rate", "inventory_dc",
                                                                            "inventory_store")},
    }


def _fidelity(fid: dict[str, Any] | None) -> dict[str, dict[str, float]] | None:
    if not fid:
        return None
    from .sim.forecast_live import fidelity

    return fidelity(fid["predicted"], fid["realized"])


def _deliver(dispatcher: Any) -> None:
    """The dispatcher's rounds until the outbox holds nothing due (the file sink: one append per round)."""
    while True:
        counts = dispatcher.run_once()
        if counts["claimed"] < dispatcher.batch:
            if counts["retried"] or counts["dead"]:
                from .errors import StoreError

                raise StoreError(f"the demo's actions could not be written to {dispatcher.config.sinks[0].folder}")
            return


def _stress_test(net: Network, loop: Any, home: Path, replications: int, horizon: int,
                 seed: int) -> tuple[Any, float, str]:
    """The library's disruption scenarios from the twin's state now; ranking of sites by risk."""
    from .sim import run_scenarios

    t0 = time.perf_counter()
    report = run_scenarios(net, twin=loop.twin, replications=replications, horizon=horizon, seed=seed)
    kpis, ranking = report.site_kpis(), report.ranked_sites()
    folder = home / "stress-test"
    folder.mkdir(exist_ok=True)
    kpis.to_csv(folder / "kpis.csv", index=False)
    ranking.to_csv(folder / "ranking.csv", index=False)
    # the report a planner takes to a meeting: plots, the cost breakdown in the network's currency, what TTS
    # and TTR mean (report.html, report.json), as `supplynet simulate --from-live` writes it
    report.write(folder, meta={"source": "supplynet demo", "replications": replications, "horizon_days": horizon,
                               "seed": seed})
    return ranking, time.perf_counter() - t0, str(folder)




def _planner_round(store: Store, brain: Any, now: datetime) -> int:
    """A planner's morning: approve what the platform proposed (the dashboard's approve button); the
    brain folds the approvals and writes their outbox rows, so the world hears of them this hour."""

    waiting = [r.id for r in store.decisions.list(status="proposed", limit=100_000)]
    decisions.approve_many(store, waiting, by="demo-planner", now=now, note="morning review")
    brain.catch_up(wall=now)
    return len(waiting)


def _waiting(store: Store) -> int:
    """Proposals waiting for a person, counted in the store as the dashboard and the API count them (the
    loop's own list misses what the watchers proposed, so the two numbers used to disagree)."""

    return sum(n for (_, status), n in store.decisions.counts().items() if status == "proposed")

"""``supplynet demo``: the realistic network run in accelerated time through the whole loop.

The fleet's devices report into the log, the twin folds the log, the loop decides and the fleet's
world fulfils what was ordered. The store is kept for inspection (``supplynet state``,
``supplynet events``).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .decide import decision as decisions
from .decide.autonomy import AutonomyPolicy, load_policy
from .decide.coldchain_watch import ColdChainWatch
from .decide.forecast_refit import DemandRefit
from .decide.geo_watch import GeoWatch
from .decide.machines import MachineWatch
from .decide.watch import ShipmentWatch
from .events import EventBase
from .fleet import Fleet, LogSink
from .fleet._setup import machine_histories, schedule_jam
from .loop import Loop
from .model import Network, example_path, load_network
from .store import open_store

__all__ = ["DemoResult", "run_demo"]


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
             on_day: Callable[[int, Loop, Network], None] | None = None) -> DemoResult:
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
    """
    t0 = time.perf_counter()
    net = network if isinstance(network, Network) else load_network(network or example_path("realistic"))
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    db = home / "demo.db"
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    start = start or datetime(2026, 1, 5, tzinfo=UTC)
    train, replay, rul_source = machine_histories(data_dir, seed)
    model = rul_model(Path(cache_dir) if cache_dir else home, train, rul_source)
    with open_store(f"sqlite:///{db}") as store:
        if not isinstance(network, Network):  # the store remembers its network ('supplynet state' uses it)
            from .store.brain import BrainTables

            src = Path(network or example_path("realistic"))
            BrainTables(store.backend).record_network(src.read_text(encoding="utf-8"), net.name, replace=True)
        fleet = Fleet(net, seed=seed, start=start, sink=LogSink(store), data_dir=data_dir,
                      cover_days=cover_days, machine_frame=replay)
        if via_gate:
            fleet.sink = _gate_sink(store, net, fleet, start, home)
        policy = policy or default_policy()
        world = fleet.world
        reroutes_carried_out: list[str] = []

        def release(e: EventBase) -> None:
            if e.kind == "order":  # type: ignore[attr-defined]
                world.place(e)  # type: ignore[arg-type]
            elif e.kind == "maintenance":  # type: ignore[attr-defined]
                asset = net.asset(e.asset_id)  # type: ignore[attr-defined]
                lead = timedelta(days=float(asset.maintenance_lead_time_days or 0))
                world.maintain(e.asset_id, at=e.ts + lead, work_order=e.work_order_id)  # type: ignore
            elif e.kind == "alert":  # an executed answer to a late shipment
                done = world.reroute({**e.data, "shipment_id": e.subject}, at=e.ts)  # type: ignore[attr-defined]
                if done:
                    reroutes_carried_out.append(done)

        machines = MachineWatch(net, model, policy, store)
        shipments = ShipmentWatch(net, store=store, policy=policy)
        cold = ColdChainWatch(net, store=store, policy=policy)
        geo = GeoWatch(net, store=store)
        loop = Loop(store, net, policy, release=release, watchers=[machines, shipments, cold, geo])
        if loop.replenisher.sensor is not None:  # the forecaster refits daily; inline here, so a seed is one run
            loop.watchers.append(DemandRefit(loop.replenisher.sensor, every=timedelta(days=1), background=False,
                                             sites=[s.id for s in net.sites_of_kind("store")]))
        jam = schedule_jam(net, world, start, days, jam_hours)
        if on_ready is not None:
            on_ready(store.url, net)
        fleet.start()
        loop.sync()
        total = days * 24
        approved = 0
        for hour in range(total):
            fleet.step()
            loop.sync()
            loop.decide(fleet.now)
            if planner_hour is not None and fleet.now.hour == planner_hour and hour < total - 24:
                approved += _planner_round(store, loop, fleet.now)
            if on_hour:
                on_hour(hour + 1, total)
            if on_day is not None and (hour + 1) % 24 == 0:
                on_day((hour + 1) // 24, loop, net)
        loop.sync()
        ranking, stress_s, folder = None, 0.0, ""
        if stress_replications > 0:
            ranking, stress_s, folder = _stress_test(net, loop, home, stress_replications, stress_horizon, seed)
        by_kind = Counter(fleet.world.stats.by_kind)
        st = fleet.world.stats
        return DemoResult(
            store_url=store.url, network=net.name, days=days, seconds=time.perf_counter() - t0,
            events=store.log.count(), by_kind=dict(by_kind), orders=loop.orders_decided,
            shipments=st.shipments, delivered=st.delivered,
            fill_rate=(st.sold / st.demand) if st.demand else 1.0, demand=st.demand, unfilled=st.unfilled,
            failures=st.failures, produced=st.produced, sources_used=fleet.sources_used,
            inventory=loop.twin.inventory_frame(), extra={"end": (start + timedelta(days=days)).isoformat()},
            decisions=dict(loop.outcomes), approved_by_planner=approved, pending=len(loop.pending_decisions()),
            watched=dict(loop.watched), preventive=st.preventive, rul_source=rul_source, jam=jam,
            ranking=ranking, stress_seconds=stress_s, stress_folder=folder,
            shrinkage_alerts=loop.shrinkage_alerts,
            gate=dict(getattr(fleet.sink, "outcomes", {})),
            reroutes=reroutes_carried_out,
        )


def _stress_test(net: Network, loop: Loop, home: Path, replications: int, horizon: int,
                 seed: int) -> tuple[Any, float, str]:
    """The library's disruption scenarios from the twin's state now; ranking of sites by risk."""
    from .sim.live import stress_test_from_twin

    t0 = time.perf_counter()
    kpis, ranking = stress_test_from_twin(net, loop.twin, replications=replications, horizon=horizon, seed=seed)
    folder = home / "stress-test"
    folder.mkdir(exist_ok=True)
    kpis.to_csv(folder / "kpis.csv", index=False)
    ranking.to_csv(folder / "ranking.csv", index=False)
    return ranking, time.perf_counter() - t0, str(folder)




def rul_model(home: Path, train: Any, source: str) -> Any:
    """The RUL model for the demo's machines, trained once and kept in ``home`` (keyed by data)."""
    import hashlib

    from .sense.rul import RulModel

    key = hashlib.sha256(f"{source}:{len(train)}:{float(train.iloc[:, 2:].to_numpy().sum()):.6f}".encode())
    path = home / f"rul-{key.hexdigest()[:12]}.json"  # JSON + LightGBM text, no pickle
    if path.exists():
        try:
            return RulModel.load(path)
        except Exception:  # noqa: BLE001 - a stale or foreign file: train again
            path.unlink(missing_ok=True)
    model = RulModel(n_estimators=250, n_folds=3).fit(train)
    model.save(path)
    return model




def _gate_sink(store: Any, net: Network, fleet: Fleet, start: datetime, home: Path) -> Any:
    """Provision every device of the network and route the fleet through the gate; the gate's clock
    is the fleet's (accelerated) clock, so clock-skew checks hold in simulated time."""
    from .events import ts_to_us
    from .fleet._gate import GateSink, provision_fleet
    from .ingest.gate import Gate
    from .security.devices import DeviceRegistry
    from .store.devices import SqlRegistryBackend

    registry = DeviceRegistry(SqlRegistryBackend(store.backend), home=home)  # vault.key there (hmac devices)
    creds = provision_fleet(registry, net, ts_to_us(start))
    gate = Gate(store, registry, clock=lambda: fleet.now.timestamp())
    return GateSink(gate, creds, LogSink(store), clock=lambda: fleet.now)


def default_policy() -> AutonomyPolicy:
    """The packaged example autonomy policy (``supplynet/examples/autonomy.yaml``)."""
    from importlib import resources

    return load_policy(str(resources.files("supplynet") / "examples" / "autonomy.yaml"))


def _planner_round(store: Any, loop: Loop, now: datetime) -> int:
    """A planner's morning: approve what the platform proposed (the dashboard's approve button)."""
    from .store.decisions import DecisionTable

    waiting = [r.id for r in DecisionTable(store.backend).list(status="proposed", limit=100_000)]
    decisions.approve_many(store, waiting, by="demo-planner", now=now, note="morning review")
    loop.sync()
    return len(waiting)

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
from .fleet import Fleet, LogSink
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
    approved_by_planner: int = 0
    pending: int = 0
    inventory: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def run_demo(*, network: str | Path | Network | None = None, days: int = 21, seed: int = 7,
             home: str | Path = ".supplynet", data_dir: str | Path | None = None, fresh: bool = True,
             start: datetime | None = None, cover_days: float = 4.0, policy: AutonomyPolicy | None = None,
             planner_hour: int | None = 8, on_hour: Callable[[int, int], None] | None = None) -> DemoResult:
    """Run the demo for ``days`` simulated days; ``on_hour(done, total)`` reports progress.

    ``policy``: the autonomy policy (default: the packaged example). ``planner_hour``: each day at this
    hour a simulated planner approves the proposals waiting since the day before (None: nobody
    does); proposals of the last day are left for a person at the dashboard.
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
    with open_store(f"sqlite:///{db}") as store:
        fleet = Fleet(net, seed=seed, start=start, sink=LogSink(store), data_dir=data_dir,
                      cover_days=cover_days)
        policy = policy or default_policy()
        loop = Loop(store, net, policy, release=fleet.world.place)
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
        loop.sync()
        by_kind = Counter(fleet.world.stats.by_kind)
        st = fleet.world.stats
        return DemoResult(
            store_url=store.url, network=net.name, days=days, seconds=time.perf_counter() - t0,
            events=store.log.count(), by_kind=dict(by_kind), orders=len(loop.proposals),
            shipments=st.shipments, delivered=st.delivered,
            fill_rate=(st.sold / st.demand) if st.demand else 1.0, demand=st.demand, unfilled=st.unfilled,
            failures=st.failures, produced=st.produced, sources_used=fleet.sources_used,
            inventory=loop.twin.inventory_frame(), extra={"end": (start + timedelta(days=days)).isoformat()},
            decisions=dict(loop.outcomes), approved_by_planner=approved, pending=len(loop.pending_decisions()),
        )


def default_policy() -> AutonomyPolicy:
    """The packaged example autonomy policy (``supplynet/examples/autonomy.yaml``)."""
    from importlib import resources

    return load_policy(str(resources.files("supplynet") / "examples" / "autonomy.yaml"))


def _planner_round(store: Any, loop: Loop, now: datetime) -> int:
    """A planner's morning: approve what the platform proposed (the dashboard's approve button)."""
    waiting = [d for d in loop.pending_decisions() if decisions.get(store, d).status == "proposed"]
    decisions.approve_many(store, waiting, by="demo-planner", now=now, note="morning review")
    loop.sync()
    return len(waiting)

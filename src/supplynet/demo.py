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
    inventory: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def run_demo(*, network: str | Path | Network | None = None, days: int = 21, seed: int = 7,
             home: str | Path = ".supplynet", data_dir: str | Path | None = None, fresh: bool = True,
             start: datetime | None = None, cover_days: float = 4.0, on_hour: Callable[[int, int], None] | None = None) -> DemoResult:
    """Run the demo for ``days`` simulated days; ``on_hour(done, total)`` reports progress."""
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
        loop = Loop(store, net, release=fleet.world.place)
        fleet.start()
        loop.sync()
        total = days * 24
        for hour in range(total):
            fleet.step()
            loop.sync()
            loop.decide(fleet.now)
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
        )

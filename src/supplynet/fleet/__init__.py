"""A device fleet for a network: trucks moving along lanes, reefers, machines wearing out, stores
selling, shelves counted. Seeded, in accelerated time, through the same path real devices use (a
:class:`Sink`: the log directly, or the ingestion gateway).

Given a data folder it replays real data instead of generating it: C-MAPSS engines as machines,
Walmart weekly sales as store demand, GPS traces as truck routes.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from .._lazy import lazy_exports
from ._emit import CallbackSink, Emitter, LogSink, Sink
from ._sources import CmapssWear, GeneratedDemand, GeneratedWear, WalmartDemand, load_gps_routes
from ._world import Trip, World

__all__ = ["CallbackSink", "CmapssWear", "Emitter", "Fleet", "GeneratedDemand", "GeneratedWear", "LogSink", "Sink",
           "Trip", "WalmartDemand", "World", "machine_histories", "real_data_sources", "run_fleet", "schedule_jam"]
# run_fleet (``supplynet fleet``) imports this package itself: published lazily
_, __getattr__, __dir__ = lazy_exports(__name__, {"_live": ("run_fleet",),
                                                            "_setup": ("machine_histories", "schedule_jam")})


def real_data_sources(network: Any, data_dir: str | Path, rng: np.random.Generator) -> dict[str, Any]:
    """Sources built from ``data_dir`` (the shared public datasets) where the files are there."""
    root = Path(data_dir)
    out: dict[str, Any] = {"used": []}
    walmart = root / "walmart-store-sales" / "train.csv.zip"
    if walmart.exists():
        import pandas as pd

        raw = pd.read_csv(walmart, usecols=["Store", "Dept", "Date", "Weekly_Sales"], nrows=60_000)
        frame = pd.DataFrame({"unique_id": raw["Store"].astype(str) + "_" + raw["Dept"].astype(str),
                              "ds": pd.to_datetime(raw["Date"]), "y": raw["Weekly_Sales"]})
        out["demand"] = WalmartDemand(network, frame, rng)
        out["used"].append("walmart-store-sales")
    cm = root / "cmapss"
    if any(cm.glob("train_FD001.txt*")):
        from ..datasets.cmapss import load_cmapss

        train = load_cmapss(cm, "FD001", test=False).train
        out["machine_source"] = lambda i: CmapssWear(train, unit_offset=i * 7)
        out["used"].append("cmapss")
    gps = root / "gps-trajectories" / "liverpool_bus_route14_outbound.csv"
    if gps.exists():
        out["routes"] = load_gps_routes(gps)
        out["used"].append("gps-trajectories")
    return out


class Fleet:
    """The world of a network plus its devices; ``step()`` advances one hour and sends what the
    devices reported to ``sink``. ``machine_frame``: run-to-failure units in C-MAPSS layout (unit,
    cycle, setting_*, s_*) that the machines replay in turn, one reading per hour."""

    def __init__(self, network: Any, *, seed: int = 0, start: datetime, sink: Sink | None = None,
                 data_dir: str | Path | None = None, cover_days: float = 12.0, shrink_rate: float = 0.002,
                 machine_frame: Any | None = None):
        self.rng = np.random.default_rng(seed)
        sources = real_data_sources(network, data_dir, self.rng) if data_dir else {"used": []}
        self.sources_used: list[str] = sources["used"]
        if machine_frame is not None:  # machines replay these run-to-failure units (C-MAPSS layout)
            sources["machine_source"] = lambda i: CmapssWear(machine_frame, unit_offset=i)
        self.world = World(network, self.rng, start, cover_days=cover_days, demand=sources.get("demand"),
                           machine_source=sources.get("machine_source"), shrink_rate=shrink_rate,
                           traces=sources.get("routes"))
        self.sink = sink

    @property
    def now(self) -> datetime:
        return self.world.t

    def _send(self) -> int:
        batches = self.world.emitter.drain()
        n = 0
        for source, events in batches.items():
            n += len(events)
            if self.sink is not None:
                self.sink.send(source, events)
        flush = getattr(self.sink, "flush", None)
        if flush:
            flush()
        return n

    def start(self) -> int:
        """Opening stock-take; returns the number of events sent."""
        self.world.initial_counts()
        return self._send()

    def step(self) -> int:
        """One hour of the world; returns the number of events sent."""
        self.world.step()
        return self._send()

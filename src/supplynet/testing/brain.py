"""A synthetic log for the brain's tests and benchmark: mixed telemetry on the tiny example network.

Sales at both stores every ``every_s`` seconds, a daily stock count at the DC, reefer temperatures and
truck positions, as real devices would report them (one ``append_batch`` per device and hour)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..events import Condition, MachineReading, Position, Sale, StockCount

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["AUTO_POLICY", "fill_log", "write_auto_policy"]

#: every kind automatic, no guardrails: each decision is executed (an action for the outbox)
AUTO_POLICY = """high_impact_cost: 1.0e12
costly_action_cost: 1.0e12
timezone: UTC
kinds:
  replenish: {level: auto}
  rebalance: {level: auto}
  maintain: {level: auto}
  reroute: {level: auto}
"""


def write_auto_policy(folder: Path) -> Path:
    path = Path(folder) / "auto-policy.yaml"
    path.write_text(AUTO_POLICY, encoding="utf-8")
    return path


def fill_log(store: Store, *, days: float = 10.0, every_s: float = 900.0, seed: int = 0,
             start: datetime = datetime(2026, 1, 5, tzinfo=UTC), machine_frame: Any = None,
             machine_every_s: float = 60.0, gps_every_s: float = 120.0) -> int:
    """Append the telemetry of ``days`` days; returns the number of events. ``machine_frame``: run-to-failure
    histories (C-MAPSS layout: unit, cycle, setting_*, s_*) replayed as OVEN-1's readings, one every
    ``machine_every_s`` seconds, unit after unit."""
    rng = np.random.default_rng(seed)
    hours = int(days * 24)
    per_hour = max(1, int(3600 / every_s))
    n = 0
    seqs: dict[str, int] = {}

    def nxt(src: str) -> int:
        seqs[src] = seqs.get(src, 0) + 1
        return seqs[src]

    rows = machine_frame.to_dict("records") if machine_frame is not None else None
    cursor = [0]
    for h in range(hours):
        t0 = start + timedelta(hours=h)
        runs: list[tuple[str, list[Any]]] = []
        for site in ("STORE-1", "STORE-2"):
            src = f"POS-{site}"
            evs = [Sale(source=src, seq=nxt(src), ts=t0 + timedelta(seconds=i * every_s + j), site=site, sku=sku,
                        quantity=float(rng.integers(1, 5)))
                   for i in range(per_hour) for j, sku in enumerate(("BREAD-800G", "MILK-2L"))]
            runs.append((src, evs))
        temps = [Condition(source="TEMP-REEFER-1", seq=nxt("TEMP-REEFER-1"), ts=t0 + timedelta(minutes=5 * i),
                           asset_id="REEFER-1", temperature_k=float(276.15 + rng.normal(0, 0.5)))
                 for i in range(12)]
        runs.append(("TEMP-REEFER-1", temps))
        pos = [Position(source="GPS-TRUCK-1", seq=nxt("GPS-TRUCK-1"), ts=t0 + timedelta(seconds=gps_every_s * i),
                        asset_id="TRUCK-1", lat=52.4 + rng.normal(0, 0.01), lon=-1.5 + rng.normal(0, 0.01))
               for i in range(int(3600 / gps_every_s))]
        runs.append(("GPS-TRUCK-1", pos))
        if rows is not None:
            readings = []
            for i in range(int(3600 / machine_every_s)):
                r = rows[cursor[0] % len(rows)]
                cursor[0] += 1
                readings.append(MachineReading(
                    source="SENS-OVEN-1", seq=nxt("SENS-OVEN-1"), ts=t0 + timedelta(seconds=machine_every_s * i),
                    asset_id="OVEN-1", cycle=int(r["cycle"]),
                    settings={k: float(v) for k, v in r.items() if k.startswith("setting")},
                    sensors={k: float(v) for k, v in r.items() if k.startswith("s_")}))
            runs.append(("SENS-OVEN-1", readings))
        if h % 24 == 6:
            runs.append(("WMS-DC-1", [StockCount(source="WMS-DC-1", seq=nxt("WMS-DC-1"), ts=t0, site="DC-1", sku=sku,
                                                 quantity=float(rng.integers(200, 400)))
                                      for sku in ("BREAD-800G", "MILK-2L")]))
        for res in store.log.append_batches(runs):
            n += res.stored
    return n

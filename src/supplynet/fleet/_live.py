"""The simulated world as a client of a running platform (``supplynet fleet``).

The world of a network (:class:`~supplynet.fleet.Fleet`) runs hour by hour; its devices, provisioned
in the store's registry, send signed envelopes through the real ingestion gate, its site systems
(WMS, MES, CMMS) write their records to the log, and it learns what to carry out from the JSONL a
``file`` sink writes into the actions folder (:mod:`._actions`), as an ERP would.

Time: ``speed`` is simulated seconds per wall second. With a finite speed the world's clock and the
gate's clock advance in real time (an hour of the world is computed when the clock reaches its end,
so every reading is in the past when it is sent), and the actions folder is read every
``poll_s`` wall seconds. ``speed=None`` runs as fast as it can: the clocks are the world's, and the
folder is read before every hour.

The world is set up as ``supplynet demo`` sets it up (same seed, same world): stores hold
``cover_days`` of demand, machines replay run-to-failure histories, a jam stands on a tracked lane
a third of the way in. On a store that already holds a fleet's events, sequence numbers continue
from the log and the devices get fresh keys (rotated), so a second run is never refused as replay.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..errors import ParameterError
from ..events import ts_to_us
from . import Fleet
from ._actions import ActionCarrier, ActionFeed
from ._emit import LogSink
from ._gate import GateSink, provision_fleet

__all__ = ["LATENCY_S", "FleetReport", "run_fleet"]

#: wall seconds an hour of the world may take from its end to the gate's check (see ``run_fleet``)
LATENCY_S = 2.0


@dataclass
class FleetReport:
    days: float
    hours: int
    start: str
    end: str
    speed: str
    wall_seconds: float
    events: int
    gate: dict[str, int]
    actions: dict[str, int]
    action_repeats: int
    actions_ignored: int
    bad_action_lines: int
    world: dict[str, Any]
    sources_used: list[str]
    jam: str = ""
    carried_out: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def _credentials(store: Any, net: Any, start: datetime, home: Path) -> dict[str, Any]:
    """Every device of the network registered, with a key this process holds: new devices are
    provisioned, known ones get a fresh key (their private keys stayed with an earlier fleet)."""
    from ..security.devices import DeviceRegistry
    from ..store.devices import SqlRegistryBackend

    registry = DeviceRegistry(SqlRegistryBackend(store.backend), home=home)
    at = ts_to_us(start)
    creds = provision_fleet(registry, net, at)
    for d in net.devices:
        rec = registry.get(d.id)
        if d.id not in creds and rec is not None and rec.revoked_at_us is None:
            creds[d.id] = registry.rotate(d.id, overlap_s=0, now_us=at)
    return {"registry": registry, "creds": creds}


def run_fleet(store: Any, network: Any, *, days: float, speed: float | None = None, seed: int = 7,
              data_dir: str | Path | None = None, actions: str | Path | None = None, start: datetime,
              home: str | Path = ".supplynet", cover_days: float = 4.0, jam_hours: float = 20.0,
              stop: threading.Event | None = None, poll_s: float = 0.2,
              on_ready: Callable[[], None] | None = None,
              on_hour: Callable[[int, int], None] | None = None) -> FleetReport:
    """Run the world of ``network`` for ``days`` against ``store``; see the module docstring."""
    from ..ingest.gate import Gate, GateConfig
    from ._setup import machine_histories, schedule_jam

    if speed is not None and not speed > 0:
        raise ParameterError(f"speed must be > 0 simulated seconds per wall second, got {speed}")
    t_wall = time.perf_counter()
    stop = stop or threading.Event()
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    _, replay, _ = machine_histories(data_dir, seed)
    fleet = Fleet(network, seed=seed, start=start, data_dir=data_dir, cover_days=cover_days, machine_frame=replay)
    world = fleet.world
    world.emitter.seq.update(store.log.high_waters())  # continue after what an earlier run sent
    jam = schedule_jam(network, world, start, int(days), jam_hours)
    mono0 = time.monotonic()

    def clock() -> datetime:
        if speed is None:
            return fleet.now
        return start + timedelta(seconds=(time.monotonic() - mono0) * speed)

    setup = _credentials(store, network, start, home)
    # an hour is computed, sealed and checked a few milliseconds of wall time after its end: at a finite
    # speed that is speed x latency simulated seconds, so the gate's clock-skew and lateness tolerances
    # are widened by LATENCY_S wall seconds of simulated time (at max speed the clock is the world's)
    slack = 0.0 if speed is None else LATENCY_S * speed
    cfg = GateConfig(clock_skew_s=GateConfig.clock_skew_s + slack,
                     allowed_lateness_s=GateConfig.allowed_lateness_s + slack)
    gate = Gate(store, setup["registry"], config=cfg, clock=lambda: clock().timestamp())
    fleet.sink = GateSink(gate, setup["creds"], LogSink(store), clock=clock)
    feed = ActionFeed(actions, skip_existing=True) if actions is not None else None
    carrier = ActionCarrier(world, network)
    events = fleet.start()
    if on_ready is not None:
        on_ready()
    total = int(round(days * 24))
    hours = 0
    for hour in range(total):
        end = fleet.now + timedelta(hours=1)
        while True:
            if feed is not None:
                for doc in feed.poll():
                    carrier.carry_out(doc)
            if stop.is_set() or speed is None:
                break
            left = (end - clock()).total_seconds() / speed
            if left <= 0:
                break
            stop.wait(min(poll_s, left))
        if stop.is_set():
            break
        events += fleet.step()
        hours = hour + 1
        if on_hour is not None:
            on_hour(hours, total)
    if feed is not None:
        for doc in feed.poll():
            carrier.carry_out(doc)
    st = world.stats
    return FleetReport(
        days=hours / 24, hours=hours, start=start.isoformat(), end=fleet.now.isoformat(),
        speed="max" if speed is None else f"{speed:g}", wall_seconds=round(time.perf_counter() - t_wall, 3),
        events=events, gate=dict(fleet.sink.outcomes), actions=dict(carrier.carried), action_repeats=carrier.repeats,
        actions_ignored=carrier.ignored, bad_action_lines=feed.bad_lines if feed else 0,
        world={"demand": st.demand, "sold": st.sold, "unfilled": st.unfilled,
               "fill_rate": (st.sold / st.demand) if st.demand else 1.0, "shipments": st.shipments,
               "delivered": st.delivered, "failures": st.failures, "preventive": st.preventive,
               "produced": st.produced},
        sources_used=fleet.sources_used, jam=jam, carried_out=carrier.done)

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

:class:`LiveFleet` is the world you can step (``open``, then ``carry_out`` and ``step`` each hour):
:func:`run_fleet` paces it against a clock, ``supplynet demo`` interleaves it with the brain.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ParameterError
from ..events import ts_to_us
from . import Fleet
from ._actions import ActionCarrier, ActionFeed
from ._emit import LogSink
from ._gate import GateSink, provision_fleet

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["LATENCY_S", "FleetReport", "LiveFleet", "run_fleet"]

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
    #: action lines refused as invalid (an unknown site, SKU, lane or asset; a quantity out of range)
    actions_refused: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def _credentials(store: Store, net: Any, start: datetime, home: Path) -> dict[str, Any]:
    """Every device of the network registered, with a key this process holds: new devices are
    provisioned, known ones get a fresh key (their private keys stayed with an earlier fleet)."""
    from ..security.devices import DeviceRegistry

    registry = DeviceRegistry(store.devices, home=home)
    at = ts_to_us(start)
    creds = provision_fleet(registry, net, at)
    for d in net.devices:
        rec = registry.get(d.id)
        if d.id not in creds and rec is not None and rec.revoked_at_us is None:
            creds[d.id] = registry.rotate(d.id, overlap_s=0, now_us=at)
    return {"registry": registry, "creds": creds}


class LiveFleet:
    """The world of ``network`` as a client of ``store``, one hour at a time.

    Set up as the module docstring says (same seed, same world). ``actions``: the folder a ``file`` sink
    writes (None: the world learns nothing); ``skip_existing``: lines already there belong to an earlier
    world. ``clock``: the time the gate checks envelopes against and seals them at (default: the world's);
    ``slack_s``: simulated seconds added to the gate's clock-skew and lateness tolerances. ``via_gate``:
    devices sign envelopes that the gate checks (else their events go to the log directly, as the site
    systems' do). ``machine_frame``: the run-to-failure units the machines replay (default:
    :func:`~supplynet.fleet._setup.machine_histories`' held-out units for ``seed``)."""

    def __init__(self, store: Store, network: Any, *, days: float, start: datetime, seed: int = 7,
                 data_dir: str | Path | None = None, actions: str | Path | None = None,
                 home: str | Path = ".supplynet", cover_days: float = 4.0, jam_hours: float = 20.0,
                 clock: Callable[[], datetime] | None = None, slack_s: float = 0.0, via_gate: bool = True,
                 skip_existing: bool = True, machine_frame: Any = None):
        from ..ingest.gate import Gate, GateConfig
        from ._setup import machine_histories, schedule_jam

        home = Path(home)
        home.mkdir(parents=True, exist_ok=True)
        if machine_frame is None:
            _, machine_frame, _ = machine_histories(data_dir, seed)
        self.store, self.network, self.start_at = store, network, start
        self.fleet = fleet = Fleet(network, seed=seed, start=start, data_dir=data_dir, cover_days=cover_days,
                                   machine_frame=machine_frame)
        self.world = world = fleet.world
        world.emitter.seq.update(store.log.high_waters())  # continue after what an earlier run sent
        self.jam = schedule_jam(network, world, start, int(days), jam_hours)
        self.clock = clock or (lambda: fleet.now)
        if via_gate:
            setup = _credentials(store, network, start, home)
            cfg = GateConfig(clock_skew_s=GateConfig.clock_skew_s + slack_s,
                             allowed_lateness_s=GateConfig.allowed_lateness_s + slack_s)
            gate = Gate(store, setup["registry"], config=cfg, clock=lambda: self.clock().timestamp())
            fleet.sink = GateSink(gate, setup["creds"], LogSink(store), clock=self.clock)
        else:
            fleet.sink = LogSink(store)
        self.feed = ActionFeed(actions, skip_existing=skip_existing) if actions is not None else None
        self.carrier = ActionCarrier(world, network)
        self.events = 0
        self.hours = 0

    @property
    def now(self) -> datetime:
        """The world's time (the end of the hours stepped so far)."""
        return self.fleet.now

    def open(self) -> int:
        """The opening stock-take; returns the events sent."""
        n = self.fleet.start()
        self.events += n
        return n

    def carry_out(self) -> int:
        """Carry out what the actions folder holds that is new; returns how many actions were carried out."""
        if self.feed is None:
            return 0
        return sum(self.carrier.carry_out(doc) for doc in self.feed.poll())

    def step(self) -> int:
        """One hour of the world, its devices' reports sent; returns the events sent."""
        n = self.fleet.step()
        self.events += n
        self.hours += 1
        return n

    def report(self, *, wall_seconds: float, speed: float | None) -> FleetReport:
        st = self.world.stats
        return FleetReport(
            days=self.hours / 24, hours=self.hours, start=self.start_at.isoformat(), end=self.now.isoformat(),
            speed="max" if speed is None else f"{speed:g}", wall_seconds=round(wall_seconds, 3),
            events=self.events, gate=dict(getattr(self.fleet.sink, "outcomes", {})), actions=dict(self.carrier.carried),
            action_repeats=self.carrier.repeats, actions_ignored=self.carrier.ignored,
            bad_action_lines=self.feed.bad_lines if self.feed else 0,
            world={"demand": st.demand, "sold": st.sold, "unfilled": st.unfilled,
                   "fill_rate": (st.sold / st.demand) if st.demand else 1.0, "shipments": st.shipments,
                   "delivered": st.delivered, "failures": st.failures, "preventive": st.preventive,
                   "produced": st.produced},
            sources_used=self.fleet.sources_used, jam=self.jam, carried_out=self.carrier.done,
            actions_refused=self.carrier.refused)


def run_fleet(store: Store, network: Any, *, days: float, speed: float | None = None, seed: int = 7,
              data_dir: str | Path | None = None, actions: str | Path | None = None, start: datetime,
              home: str | Path = ".supplynet", cover_days: float = 4.0, jam_hours: float = 20.0,
              stop: threading.Event | None = None, poll_s: float = 0.2,
              on_ready: Callable[[], None] | None = None,
              on_hour: Callable[[int, int], None] | None = None) -> FleetReport:
    """Run the world of ``network`` for ``days`` against ``store``; see the module docstring."""
    if speed is not None and not speed > 0:
        raise ParameterError(f"speed must be > 0 simulated seconds per wall second, got {speed}")
    t_wall = time.perf_counter()
    stop = stop or threading.Event()
    mono0 = [time.monotonic()]
    live: LiveFleet | None = None

    def clock() -> datetime:
        if speed is None:
            return live.now if live is not None else start
        return start + timedelta(seconds=(time.monotonic() - mono0[0]) * speed)

    # an hour is computed, sealed and checked a few milliseconds of wall time after its end: at a finite
    # speed that is speed x latency simulated seconds, so the gate's clock-skew and lateness tolerances
    # are widened by LATENCY_S wall seconds of simulated time (at max speed the clock is the world's)
    live = LiveFleet(store, network, days=days, start=start, seed=seed, data_dir=data_dir, actions=actions,
                     home=home, cover_days=cover_days, jam_hours=jam_hours, clock=clock,
                     slack_s=0.0 if speed is None else LATENCY_S * speed)
    mono0[0] = time.monotonic()  # the world's clock starts once it is set up
    live.open()
    if on_ready is not None:
        on_ready()
    total = int(round(days * 24))
    for _ in range(total):
        end = live.now + timedelta(hours=1)
        while True:
            live.carry_out()
            if stop.is_set() or speed is None:
                break
            left = (end - clock()).total_seconds() / speed
            if left <= 0:
                break
            stop.wait(min(poll_s, left))
        if stop.is_set():
            break
        live.step()
        if on_hour is not None:
            on_hour(live.hours, total)
    live.carry_out()
    return live.report(wall_seconds=time.perf_counter() - t_wall, speed=speed)

"""Delay-to-decision latency: from ingesting the GPS event that reveals a delay to the recorded decision.

Run from the repo root: ``.venv/bin/python bench/decision_latency.py`` (writes
``bench/results/decision_latency.json``).

Set-up: the realistic example network, its opening stock-take (the fleet's world), a SQLite store.
A background thread appends 5,000 messages/s (reefer temperature readings, batches every 10 ms) to the
store's log; the live path in another thread reads the log, folds every event into the twin, feeds
the :class:`~supplynet.decide.watch.ShipmentWatch`, and when a delay is declared assesses its impact,
costs the alternatives with the Monte Carlo engine (64 replications, common random numbers), chooses,
and submits the decision (autonomy policy, audit chain, action events) to the store. A feeder appends,
trip after trip, the pings of a truck that stops on a lane; each ping's append time is stamped, and the
latency is measured from the append of the ping that completed the evidence to the decision's commit.

Ingestion path: the store's log directly (``store.log.append``), not the signing gateway (its
per-device Ed25519 and rate checks would measure the gateway, which has its own benchmark); the
background load goes through the same log, the same twin fold and the same watch.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402

from supplynet.decide.watch import ShipmentWatch  # noqa: E402
from supplynet.events import Condition, Line, Position, ShipmentStatus  # noqa: E402
from supplynet.fleet import Fleet, LogSink  # noqa: E402
from supplynet.model import example_path, load_network  # noqa: E402
from supplynet.sense.delay import lane_route  # noqa: E402
from supplynet.store import open_store  # noqa: E402
from supplynet.twin import Twin  # noqa: E402

RATE = 5000.0
TRIALS = 120
START = datetime(2026, 1, 5, tzinfo=UTC)


def background(db: Path, stop: threading.Event, counter: list[tuple[int, float]]) -> None:
    with open_store(db) as store:
        seq = 0
        t0 = time.perf_counter()
        while not stop.is_set():
            t = time.perf_counter()
            due = int((t - t0) * RATE)
            if due > seq:
                n = min(due - seq, 500)
                now = datetime.now(UTC)
                batch = [Condition(source=f"bg-{k % 50}", seq=seq + k + 1, ts=now, asset_id=f"RFR-BG-{k % 50}",
                                   temperature_k=277.0 + (k % 7) * 0.1) for k in range(n)]
                store.log.append(batch)
                seq += n
                # committed so far, against the pacing clock when they were due (behind it: a lower rate)
                counter[0] = (seq, t)
            time.sleep(0.01)


def main() -> None:
    net = load_network(example_path("realistic"))
    lanes = [a.lane for a in net.assets if a.kind in ("truck", "reefer") and a.lane]
    tmp = Path(tempfile.mkdtemp())
    db = tmp / "bench.db"
    latencies: list[float] = []
    with open_store(db) as store:
        fleet = Fleet(net, seed=1, start=START, sink=LogSink(store), cover_days=4)
        fleet.start()
        twin = Twin.rebuild(store, net, use_snapshot=False)
        watch = ShipmentWatch(net, store=store, replications=64, seed=0)
        stamps: dict[str, float] = {}
        decided: list[tuple[str, float]] = []
        processed = threading.Event()
        stop_loop = threading.Event()
        now_box = [START]

        def live() -> None:
            while not stop_loop.is_set():
                n = 0
                for rec in store.log.read(after_offset=twin.offset, order="offset"):
                    twin.apply(rec.event, rec.offset)
                    watch.observe(rec.event, twin)
                    n += 1
                if watch.pending:
                    trig = watch.pending[-1].evidence[-1][0]
                    for d in watch.decide(twin, now_box[0]):
                        decided.append((trig, time.perf_counter()))
                        assert d.id
                if n:
                    processed.set()
                else:
                    time.sleep(0.0005)

        counter: list[tuple[int, float]] = [(0, time.perf_counter())]
        stop_bg = threading.Event()
        bg = threading.Thread(target=background, args=(db, stop_bg, counter), daemon=True)
        loop = threading.Thread(target=live, daemon=True)
        loop.start()
        # warm-up: one trial outside the measurement (numba cache load, imports)
        rng = np.random.default_rng(7)
        bg_started = False
        for trial in range(TRIALS + 1):
            if trial == 1 and not bg_started:
                bg.start()
                bg_started = True
                time.sleep(1.0)
                c0, t_bg0 = counter[0]
            lane = net.lane(lanes[int(rng.integers(len(lanes)))])
            route = lane_route(net, lane.id)
            sid = f"BENCH{trial:04d}"
            dep = START + timedelta(days=2 * trial)
            lines = tuple(Line(sku=s, quantity=50.0) for s in (lane.skus or net.skus_at(lane.destination))[:4])
            store.log.append([ShipmentStatus(source=f"wms-{lane.origin}", seq=10_000 + trial, ts=dep,
                                             shipment_id=sid, status="departed", lane_id=lane.id,
                                             origin=lane.origin, destination=lane.destination, lines=lines,
                                             promised_at=dep + timedelta(days=lane.lead_time.mean + 0.5))])
            stuck = float(rng.uniform(0.2, 0.7))
            before = len(decided)
            for k in range(2000):
                at = dep + timedelta(minutes=15 * k)
                f = min(k * 15 / (1440 * lane.lead_time.mean), stuck)
                la, lo = route.point_at(f * route.length_m)
                ev = Position(source=f"gps-bench-{trial}", seq=k + 1, ts=at, asset_id="TRK-BENCH", shipment_id=sid,
                              lat=float(la), lon=float(lo))
                now_box[0] = at
                processed.clear()
                stamps[ev.event_id] = time.perf_counter()
                store.log.append([ev])
                while len(decided) == before and not processed.wait(0.001):
                    pass
                processed.wait(2.0)
                if len(decided) > before:
                    break
            for trig, t_end in decided[before:]:
                if trial > 0 and trig in stamps:
                    latencies.append((t_end - stamps[trig]) * 1000.0)
        c1, t_bg1 = counter[0]  # the rate between two commits of the background writer
        stop_bg.set()
        bg.join(5)
        stop_loop.set()
        loop.join(5)
    bg_rate = (c1 - c0) / (t_bg1 - t_bg0)
    lat = np.asarray(latencies)
    figures = {"delay_to_decision_p50_ms": round(float(np.percentile(lat, 50)), 2),
               "delay_to_decision_p99_ms": round(float(np.percentile(lat, 99)), 2),
               "background_msgs_per_s": round(bg_rate, 1)}
    write_result("decision_latency", figures, {"delay_to_decision_p99_ms": "< 250", "background_msgs_per_s": ">= 5000"},
                 notes={"network": "realistic example", "decisions_measured": int(lat.size),
                        "max_ms": round(float(lat.max()), 2), "replications_per_option": 64,
                        "ingestion": "store log directly (not the signing gateway); background: reefer readings",
                        "path": "log -> twin -> ShipmentWatch (ETA, delay) -> impact -> alternatives costed on CRN "
                                "-> autonomy -> decision + audit + action events committed"})


if __name__ == "__main__":
    main()

"""Outbox delivery rate: ``outbox_deliveries_per_s(quick)`` for ``bench/loop.py`` (issue 14's figure).

The dispatcher (:class:`supplynet.decide.outbox.Dispatcher`) delivers pending rows of a SQLite store
to a real local webhook receiver: a threaded ``http.server`` (HTTP/1.1 keep-alive, answering 204) on
127.0.0.1 at a free port, run in its own process as an ERP's endpoint would be, checking nothing it
need not (its signature check is a test's business, not the rate's). Each delivery is the whole path:
claim (one transaction per batch of 500), an HTTP POST with ``Idempotency-Key`` and the HMAC-SHA256
``X-Supplynet-Signature`` over the canonical body (8 concurrent connections), and the settle
transaction that marks the batch delivered. The rate is rows delivered over wall time, from the first
claim to the last settle, median of ``repeats`` runs (fresh store and receiver each). Target >= 1,000/s.

Fairness: nothing is skipped that a production delivery does (signature, durable marks, real TCP);
the receiver does the least an endpoint can (read the body, answer 204), so the figure is the
dispatcher's, not the receiver's. Quote it with the machine's load (it shares 2 cores).

Run alone for a look: ``.venv/bin/python bench/_outbox.py [--quick]`` (prints, writes nothing).
"""

from __future__ import annotations

import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["NOTE", "outbox_deliveries_per_s", "outbox_runs"]

NOTE = ("dispatcher -> real HTTP webhook receiver (threaded http.server in its own process, 127.0.0.1, "
        "keep-alive, 204) from a SQLite store; per row: claim, POST with Idempotency-Key and HMAC signature, "
        "durable settle; batches of 500, 8 connections; median of runs")


def _receiver(port_q: mp.Queue, stop: mp.Event) -> None:  # type: ignore[type-arg]
    from supplynet.testing.receivers import WebhookReceiver

    rx = WebhookReceiver(default_status=204, keep=False).start()
    port_q.put(rx.port)
    stop.wait()
    port_q.put(rx.count)
    rx.stop()


def _one(n: int) -> tuple[float, int]:
    from supplynet.decide.outbox import Dispatcher
    from supplynet.decide.sinks import parse_sinks
    from supplynet.store import open_store

    ctx = mp.get_context("spawn")
    q, stop = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=_receiver, args=(q, stop), daemon=True)
    proc.start()
    try:
        port = q.get(timeout=60)
        with tempfile.TemporaryDirectory() as tmp:
            with open_store(Path(tmp) / "outbox.db") as store:
                box = store.outbox
                for lo in range(0, n, 1000):
                    with store.transaction() as tx:
                        for i in range(lo, min(n, lo + 1000)):
                            box.enqueue_tx(
                                tx, action_id=f"act-D{i}", action="order", decision_id=f"D{i}", at_us=0,
                                sinks=["erp"], body={"site": "STORE-1", "sku": "MILK-2L", "quantity": 30 + i % 7,
                                                     "origin": "DC-1", "lane_id": "L-DC-STORE-1"})
                cfg = parse_sinks(f"sinks:\n  - {{name: erp, kind: webhook, url: 'http://127.0.0.1:{port}/hook', "
                                  f"secret_env: BENCH_OUTBOX_SECRET, actions: [order]}}\n", "bench-sinks.yaml")
                import os

                os.environ.setdefault("BENCH_OUTBOX_SECRET", "bench-secret")
                with Dispatcher(store, cfg, batch=500, workers=8) as d:
                    t0 = time.perf_counter()
                    while box.counts().get("pending", 0):
                        d.run_once()
                    dt = time.perf_counter() - t0
                delivered = box.counts().get("delivered", 0)
        stop.set()
        received = q.get(timeout=30)
        if delivered != n or received < n:
            raise RuntimeError(f"outbox bench: {delivered} of {n} marked delivered, {received} received")
        return n / dt, received
    finally:
        stop.set()
        proc.join(10)


def outbox_runs(quick: bool) -> list[float]:
    """Deliveries per second of each run (1 run of 2,000 rows quick, else 3 runs of 20,000)."""
    n, repeats = (2_000, 1) if quick else (20_000, 3)
    return [_one(n)[0] for _ in range(repeats)]


def outbox_deliveries_per_s(quick: bool) -> float:
    """Median deliveries per second to the local webhook (see the module docstring)."""
    return float(statistics.median(outbox_runs(quick)))


if __name__ == "__main__":
    import os

    runs = outbox_runs("--quick" in sys.argv)
    print({"outbox_deliveries_per_s": round(statistics.median(runs), 1), "runs": [round(r, 1) for r in runs],
           "loadavg": os.getloadavg()})

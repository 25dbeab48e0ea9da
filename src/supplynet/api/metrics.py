"""Prometheus metrics (prometheus-client), one registry per app.

* ``supplynet_http_requests_total{method,route,status}`` and the latency histogram
  ``supplynet_http_request_duration_seconds{method,route}``;
* ``supplynet_ingest_messages_total{outcome}`` (stored, late; the ingest rate is its ``rate()``) and
  ``supplynet_ingest_rejects_total{reason}``, read from the gateway's durable counters (every worker);
* ``supplynet_decisions{kind,status}``: decisions by kind and status;
* ``supplynet_log_events`` and ``supplynet_scenario_run_seconds`` (histogram);
* ``supplynet_outbox_rows{status}``: the outbox's pending, delivered and dead rows;
* ``supplynet_loop_lag_events`` and ``supplynet_loop_lag_seconds``: how far the loop (``supplynet run``
  or ``serve --loop``) is behind the log head (events committed after its checkpoint, and how long the
  oldest of them has waited), and ``supplynet_loop_decisions{kind,outcome}``: the loop's decisions.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

__all__ = ["Metrics"]

_OK_OUTCOMES = ("stored", "late", "duplicate", "received")


class _StoreCollector:
    def __init__(self, get_state: Any):
        self.get_state = get_state

    def collect(self) -> Iterator[Any]:
        st = self.get_state()
        if st is None:
            return

        msgs = CounterMetricFamily("supplynet_ingest_messages", "Messages through the ingest gate by outcome",
                                   labels=["outcome"])
        rejects = CounterMetricFamily("supplynet_ingest_rejects", "Messages the gate rejected, by reason",
                                      labels=["reason"])
        totals: dict[str, int] = {}
        try:
            for per in st.store.ingest.counters().values():
                for outcome, n in per.items():
                    totals[outcome] = totals.get(outcome, 0) + n
            counts = st.decisions.counts()
            events = st.store.log.count()
        except Exception:  # a scrape never fails the app; the metric is just absent this time
            return
        for outcome, n in sorted(totals.items()):
            if outcome in _OK_OUTCOMES:
                msgs.add_metric([outcome], n)
            else:
                rejects.add_metric([outcome], n)
        yield msgs
        yield rejects
        dec = GaugeMetricFamily("supplynet_decisions", "Decisions by kind and status", labels=["kind", "status"])
        for (kind, status), n in sorted(counts.items()):
            dec.add_metric([kind, status], n)
        yield dec
        yield GaugeMetricFamily("supplynet_log_events", "Events in the log", value=events)
        yield from _outbox(st)
        yield from _loop(st)


def _loop(st: Any) -> Iterator[Any]:
    """The loop's lag behind the log head (events, seconds) and its decisions by kind and outcome."""
    import time

    try:
        cp = st.store.brain.checkpoint("main")
        head = st.store.log.last_offset() or 0
        done = cp.offset if cp is not None else 0
        lag = max(0, head - done)
        first = next(iter(st.store.log.read(after_offset=done, limit=1)), None) if lag else None
        secs = max(0.0, time.time() - first.received_at.timestamp()) if first is not None else 0.0
        made = st.decisions.loop_counts()
    except Exception:  # a scrape never fails the app
        return
    yield GaugeMetricFamily("supplynet_loop_lag_events", "Events in the log the loop has not folded yet", value=lag)
    yield GaugeMetricFamily("supplynet_loop_lag_seconds", "How long the oldest event the loop has not folded has "
                            "waited", value=secs)
    g = GaugeMetricFamily("supplynet_loop_decisions", "The loop's decisions by kind and outcome",
                          labels=["kind", "outcome"])
    for (kind, outcome), n in sorted(made.items()):
        g.add_metric([kind, outcome], n)
    yield g


def _outbox(st: Any) -> Iterator[Any]:
    """``supplynet_outbox_rows{status}``: actions pending, delivered and dead (letters) in the outbox."""
    from ..store.outbox import STATUSES

    try:
        counts = st.store.outbox.counts()
    except Exception:  # a scrape never fails the app
        return
    g = GaugeMetricFamily("supplynet_outbox_rows", "Outbox rows by status (dead: dead letters)", labels=["status"])
    for status in STATUSES:
        g.add_metric([status], counts.get(status, 0))
    yield g


class Metrics:
    def __init__(self, get_state: Any):
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter("supplynet_http_requests", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("supplynet_http_request_duration_seconds", "HTTP request latency",
                                 ["method", "route"], registry=self.registry,
                                 buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0))
        self.scenario_seconds = Histogram("supplynet_scenario_run_seconds", "Scenario run time",
                                          registry=self.registry, buckets=(1, 5, 15, 30, 60, 120, 300, 600))
        self.registry.register(_StoreCollector(get_state))

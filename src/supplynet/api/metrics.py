"""Prometheus metrics (prometheus-client), one registry per app.

* ``supplynet_http_requests_total{method,route,status}`` and the latency histogram
  ``supplynet_http_request_duration_seconds{method,route}``;
* ``supplynet_ingest_messages_total{outcome}`` (stored, late; the ingest rate is its ``rate()``) and
  ``supplynet_ingest_rejects_total{reason}``, read from the gateway's durable counters (every worker);
* ``supplynet_decisions{kind,status}``: decisions by kind and status;
* ``supplynet_log_events`` and ``supplynet_scenario_run_seconds`` (histogram);
* ``supplynet_outbox_rows{status}``: the outbox's pending, delivered and dead rows.
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
        from ..store.quarantine import IngestTables

        msgs = CounterMetricFamily("supplynet_ingest_messages", "Messages through the ingest gate by outcome",
                                   labels=["outcome"])
        rejects = CounterMetricFamily("supplynet_ingest_rejects", "Messages the gate rejected, by reason",
                                      labels=["reason"])
        totals: dict[str, int] = {}
        try:
            for per in IngestTables(st.store.backend).counters().values():
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


def _outbox(st: Any) -> Iterator[Any]:
    """``supplynet_outbox_rows{status}``: actions pending, delivered and dead (letters) in the outbox."""
    from ..store.outbox import STATUSES, OutboxTable

    try:
        counts = OutboxTable(st.store.backend).counts()
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

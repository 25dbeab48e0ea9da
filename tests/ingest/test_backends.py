"""The gate's tables and the whole gate path on both store backends (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from supplynet.ingest.gate import Gate, GateConfig
from supplynet.store import open_store

from .conftest import Clock, make_dev


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def any_store(request, tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    with open_store(url) as st:
        yield st


def test_gate_path_on_backend(any_store):
    clock = Clock()
    gate = Gate(any_store, clock=clock, config=GateConfig(rate_per_s=3, burst=3, allowed_lateness_s=60))
    d = make_dev(gate, "rf-1")
    m0 = d.msg({"kind": "condition", "temperature": 4.0, "dt": 0})
    outs = gate.submit([m0, m0, d.msg({"kind": "condition", "temperature": 999.0}),
                        d.msg({"kind": "condition", "temperature": 4.0, "dt": -7200}), d.msg(), b"junk"])
    assert [(o.status, o.reason) for o in outs] == [
        ("stored", None), ("quarantined", "replayed_sequence"), ("quarantined", "implausible"), ("late", None),
        ("refused", "rate_limited"), ("quarantined", "schema")]
    assert any_store.log.count() == 1 and gate.tables.late_count() == 1
    assert gate.tables.counters()["rf-1"] == {"stored": 1, "replayed_sequence": 1, "implausible": 1, "late": 1,
                                              "rate_limited": 1}
    assert gate.tables.acks() == {"rf-1": 2}
    assert [r.reason for r in gate.tables.quarantined()] == ["schema", "implausible", "replayed_sequence"]
    # a restarted gate (e.g. another worker) sees the registry, acks and counters
    g2 = Gate(any_store, clock=clock)
    assert g2.acked("rf-1") == 2 and g2.registry.get("rf-1") is not None
    g2.registry.revoke("rf-1", now_us=int(clock() * 1e6))
    assert gate.submit([d.msg()])[0].reason == "revoked_device"

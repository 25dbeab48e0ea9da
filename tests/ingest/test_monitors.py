"""Data-quality monitors: stale device, stuck sensor, gaps, drift out of range -> Alert events."""

from __future__ import annotations

from supplynet.events import Condition
from supplynet.ingest.gate import Gate, GateConfig
from supplynet.ingest.monitors import DataQualityMonitor, MonitorConfig

from .conftest import make_dev


def _cond(seq: int, t: float, temp_k: float, source: str = "rf-1") -> Condition:
    from datetime import UTC, datetime

    return Condition(source=source, seq=seq, ts=datetime.fromtimestamp(t, UTC), asset_id="R1", temperature_k=temp_k)


def test_stuck_gap_drift_and_stale():
    m = DataQualityMonitor(lambda d: 60.0, config=MonitorConfig(stuck_n=5, ewma_alpha=0.5,
                                                                bands={"temperature_k": (270.0, 290.0)}))
    t = 1_000_000.0
    for i in range(4):
        m.observe(_cond(i, t + 60 * i, 275.0 + i), t + 60 * i)
    assert m.check(t + 240) == []
    for i in range(4, 9):  # flat line
        m.observe(_cond(i, t + 60 * i, 280.0), t + 60 * i)
    alerts = m.check(t + 540)
    assert [a.code for a in alerts] == ["stuck_sensor"] and alerts[0].subject == "rf-1"
    m.observe(_cond(9, t + 60 * 20, 281.0), t + 60 * 20)  # 11 intervals of silence in event time
    assert [a.code for a in m.check(t + 60 * 20)] == ["gap"]
    for i in range(10, 14):  # warming up: the EWMA leaves the band once
        m.observe(_cond(i, t + 60 * (11 + i), 320.0), t + 60 * (11 + i))
    assert [a.code for a in m.check(t + 60 * 25)] == ["drift_out_of_range"]
    assert [a.code for a in m.check(t + 60 * 24 + 3 * 60 + 1)] == ["stale_device"]
    assert m.check(t + 60 * 40) == []  # one alert per episode
    seqs = [a.seq for a in m.pending]
    assert seqs == []


def test_gate_runs_monitors_and_logs_alerts(store, clock):
    gate = Gate(store, clock=clock, config=GateConfig(rate_per_s=1e6, burst=1e6), monitor=True)
    d = make_dev(gate, "rf-1", interval=10.0)
    for _ in range(25):
        gate.submit([d.msg({"kind": "condition", "temperature": 5.0})])
        clock.advance(10)
    clock.advance(100)
    assert gate.run_monitors() == 1  # the stale device (the stuck sensor was logged during traffic)
    alerts = [r.event for r in store.log.read(kinds=["alert"])]
    assert sorted(a.code for a in alerts) == ["stale_device", "stuck_sensor"]
    assert {a.source for a in alerts} == {"dq-monitor"} and len({a.seq for a in alerts}) == 2
    # a restarted gateway continues the monitor's sequence numbers
    g2 = Gate(store, clock=clock, monitor=True)
    assert g2.monitor.seq == max(a.seq for a in alerts) + 1

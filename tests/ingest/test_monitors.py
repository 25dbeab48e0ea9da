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


def test_columns_give_the_same_state_and_alerts_as_rows():
    """observe_columns (the gate's column path) against observe_row reading by reading: same alerts
    (codes, subjects, data, order) and the same state afterwards, over flat lines, gaps, drift and
    time going backwards."""
    import random

    from supplynet.ingest.envelope import parse_body, readings_to_rows, seal
    from supplynet.security.signing import generate_keypair

    cfg = MonitorConfig(stuck_n=4, ewma_alpha=0.3, bands={"temperature_k": (270.0, 290.0)})
    by_rows = DataQualityMonitor(lambda d: 10.0, config=cfg)
    by_cols = DataQualityMonitor(lambda d: 10.0, config=cfg)
    rng = random.Random(3)
    priv = generate_keypair()[0]
    from datetime import UTC, datetime

    t0 = 1_800_000_000.0
    seq = 0
    for k in range(40):
        n = rng.randint(1, 12)
        temps = [rng.choice([4.0, 4.0, 4.0, 30.0, -20.0, rng.uniform(-5, 25)]) for _ in range(n)]
        dts = [rng.choice([0, 5, 10, 40, -3, 200]) for _ in range(n)]
        readings = [{"kind": "condition", "temperature": v, "dt": d} for v, d in zip(temps, dts, strict=True)]
        from supplynet.ingest.envelope import open_outer

        raw = seal("rf-1", "k", priv, seq, datetime.fromtimestamp(t0 + 30 * k, UTC), readings, {"temperature": "degC"})
        body = parse_body(open_outer(raw).body)
        rows = readings_to_rows("rf-1", body, asset="R1", site=None, allowed_kinds=frozenset({"condition"}))
        assert getattr(rows, "columns", None) is not None  # the column path was taken
        now = t0 + 30 * k + 1
        for r in rows:
            by_rows.observe_row("rf-1", r, now)
        by_cols.observe_columns("rf-1", rows.tus, rows.columns, now)
        seq += n
    a, b = by_rows.check(t0 + 10_000), by_cols.check(t0 + 10_000)
    assert len(a) > 3 and {x.code for x in a} >= {"stuck_sensor", "drift_out_of_range", "gap"}
    assert [(x.seq, x.code, x.subject, x.message, x.data) for x in a] == \
        [(x.seq, x.code, x.subject, x.message, x.data) for x in b]
    assert by_rows._devices["rf-1"] == by_cols._devices["rf-1"]

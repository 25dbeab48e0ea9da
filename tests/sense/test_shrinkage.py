"""Shrinkage: IoT counts reconciled against the twin's book; persistent gaps flagged with their size.
Also the live sensors that feed the policies: lead times from shipments, demand from sales."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from supplynet.errors import ModelError
from supplynet.events import Alert, Line, Sale, ShipmentStatus, StockCount, alert_seq
from supplynet.model import parse_network
from supplynet.sense.demand.demand_live import DemandSensor, protection_demand
from supplynet.sense.leadtime.leadtimes_live import LeadTimeLearner
from supplynet.sense.shrinkage import ShrinkageMonitor, reconcile
from supplynet.twin import Twin

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
NET = """
name: s
start: 2026-03-01
sites:
  - {id: SUP, kind: supplier, location: {lat: 52.0, lon: 0.0}}
  - {id: S1, kind: store, location: {lat: 52.4, lon: -1.9}}
products:
  - {sku: A, unit_cost: 4.0, price: 6.0}
lanes:
  - {id: L1, origin: SUP, destination: S1, lead_time: {mean_days: 2, std_days: 0.5}}
demand:
  - {site: S1, sku: A, mean_per_day: 30}
"""


@pytest.fixture
def net():
    return parse_network(NET)


class _Feed:
    def __init__(self, net):
        self.twin = Twin(net)
        self.mon = ShrinkageMonitor(net, min_counts=3, source="shrink")
        self.seq = 0

    def send(self, cls, **kw):
        self.seq += 1
        e = cls(source="dev", seq=self.seq, **kw)
        self.twin.apply(e)
        return self.mon.observe(e, self.twin)


def test_persistent_gap_is_flagged_once_with_its_size(net):
    f = _Feed(net)
    f.send(StockCount, ts=T0, site="S1", sku="A", quantity=100, method="manual")  # book := 100
    assert f.send(StockCount, ts=T0 + timedelta(hours=1), site="S1", sku="A", quantity=90, method="rfid") is None
    assert f.send(StockCount, ts=T0 + timedelta(hours=2), site="S1", sku="A", quantity=91, method="shelf") is None
    finding = f.send(StockCount, ts=T0 + timedelta(hours=3), site="S1", sku="A", quantity=89, method="rfid")
    assert finding is not None and finding.gap == pytest.approx(10) and finding.value == pytest.approx(40)
    assert finding.adjustment == -10
    (alert,) = f.mon.decide(f.twin, T0 + timedelta(hours=3))
    assert isinstance(alert, Alert) and alert.code == "shrinkage" and alert.subject == "S1/A"
    # numbered from what it is about (the one alert numbering): the same finding again is the same event
    assert alert.source == "shrink" and alert.seq == alert_seq("shrinkage", "S1/A", finding.count_event_ids[-1])
    assert alert.data["gap_units"] == pytest.approx(10) and alert.data["counts"] == 3
    f.send(StockCount, ts=T0 + timedelta(hours=4), site="S1", sku="A", quantity=90, method="rfid")
    assert f.mon.decide(f.twin) == []  # same episode: reported once
    f.send(StockCount, ts=T0 + timedelta(hours=5), site="S1", sku="A", quantity=70, method="rfid")
    f.send(StockCount, ts=T0 + timedelta(hours=6), site="S1", sku="A", quantity=70, method="rfid")
    (grown,) = f.mon.decide(f.twin)  # the gap grew by more than half: reported again
    assert grown.seq != alert.seq  # a second alert, not a repeat of the first
    assert grown.data["gap_units"] >= 20
    # an authoritative count resets the book and closes the episode
    f.send(StockCount, ts=T0 + timedelta(hours=7), site="S1", sku="A", quantity=70, method="cycle_count")
    assert f.send(StockCount, ts=T0 + timedelta(hours=8), site="S1", sku="A", quantity=70, method="rfid") is None
    assert ("S1", "A") not in f.mon.findings


def test_transient_gaps_and_sign_changes_are_not_flagged(net):
    f = _Feed(net)
    f.send(StockCount, ts=T0, site="S1", sku="A", quantity=100, method="manual")
    for h, q in enumerate([90, 90, 100, 90, 110, 90, 101]):  # never 3 in a row on one side
        assert f.send(StockCount, ts=T0 + timedelta(hours=h + 1), site="S1", sku="A", quantity=q,
                      method="rfid") is None
    assert f.mon.decide(f.twin) == []
    for h in range(3):
        f.send(StockCount, ts=T0 + timedelta(hours=20 + h), site="S1", sku="A", quantity=120, method="rfid")
    (alert,) = f.mon.decide(f.twin)
    assert alert.code == "unrecorded_receipt" and alert.data["gap_units"] == pytest.approx(-20)
    assert reconcile(100, 99.5) == 0 and reconcile(1000, 985) == 0 and reconcile(1000, 970) == 30
    with pytest.raises(ModelError, match="min_counts"):
        ShrinkageMonitor(min_counts=1)


def test_generated_theft_is_found_with_about_its_true_size(net):
    """A store sells Poisson demand; from day 10 a thief takes 3 units a day that never reach the book;
    the shelf sensor counts daily with +-1 noise. The flag comes within days and sizes the loss."""
    rng = np.random.default_rng(7)
    f = _Feed(net)
    physical = 500.0
    f.send(StockCount, ts=T0, site="S1", sku="A", quantity=physical, method="manual")
    first_alert_day, alerts = None, []
    for d in range(1, 25):
        sold = float(min(rng.poisson(10), physical))
        physical -= sold
        f.send(Sale, ts=T0 + timedelta(days=d, hours=1), site="S1", sku="A", quantity=sold)
        if d >= 10:
            physical -= 3.0
        noisy = max(physical + rng.integers(-1, 2), 0.0)
        f.send(StockCount, ts=T0 + timedelta(days=d, hours=2), site="S1", sku="A", quantity=noisy, method="shelf")
        new = f.mon.decide(f.twin)
        if new and first_alert_day is None:
            first_alert_day = d
        alerts += new
    assert first_alert_day is not None and 10 < first_alert_day <= 16
    book = f.twin.state.position("S1", "A").on_hand
    true_gap = book - physical
    latest = f.mon.findings[("S1", "A")]
    assert latest.gap == pytest.approx(true_gap, abs=0.25 * true_gap + 3)
    assert all(a.code == "shrinkage" for a in alerts)


# ------------------------------------------------------------------------------ lead times
def _ship(i, status, ts, lane="L1", origin="SUP", dest="S1"):
    return ShipmentStatus(source="fleet", seq=i, ts=ts, shipment_id=f"SH{i // 2}", status=status, lane_id=lane,
                          origin=origin, destination=dest, lines=(Line(sku="A", quantity=5.0),))


def test_lead_times_are_learned_per_lane_and_blend_the_declared_prior(net):
    rng = np.random.default_rng(1)
    learn = LeadTimeLearner(net, prior_weight=5.0)
    prior = learn.estimate("L1")
    assert prior.n == 0 and prior.mean_days == 2 and prior.std_days == 0.5
    true = rng.gamma(16.0, 5.0 / 16.0, size=400)  # mean 5 d, std 1.25 d: the lane is slower than declared
    for i, days in enumerate(true):
        assert learn.observe(_ship(2 * i, "departed", T0)) is None
        est = learn.observe(_ship(2 * i + 1, "delivered", T0 + timedelta(days=float(days))))
    assert est.n == 200  # the window keeps the last 200 deliveries
    assert est.mean_days == pytest.approx(true[-200:].mean() * 200 / 205 + 2 * 5 / 205, rel=1e-6)
    assert 1.0 < est.std_days < 1.6 and est.p90_days > est.p50_days
    m, s = est.demand_over(30.0, 6.0)
    assert m == pytest.approx(30 * est.mean_days) and s > 30 * est.std_days


def test_a_delivery_whose_departure_the_learner_missed_uses_the_twin(net):
    tw = Twin(net)
    dep = _ship(0, "departed", T0)
    tw.apply(dep)
    learn = LeadTimeLearner(prior_weight=0.0)
    est = learn.observe(_ship(1, "delivered", T0 + timedelta(days=3)), tw)
    assert est is not None and est.mean_days == pytest.approx(3.0) and est.lane_id == "L1"
    assert learn.observe(_ship(3, "delivered", T0), None) is None  # no departure known: no sample
    with pytest.raises(ModelError, match="window"):
        LeadTimeLearner(window=1)


# ------------------------------------------------------------------------------ demand
def test_demand_sensor_tracks_sales_and_refits_with_the_forecaster():
    rng = np.random.default_rng(2)
    sensor = DemandSensor({("S1", "A"): (10.0, 3.0)}, alpha=0.2, min_days=7)
    assert sensor.estimate(("S1", "A")).source == "network"
    for d in range(60):
        weekly = 1.5 if d % 7 in (5, 6) else 1.0
        qty = float(rng.poisson(40 * weekly))
        e = Sale(source="pos", seq=d, ts=T0 + timedelta(days=d), site="S1", sku="A", quantity=qty - 2, unfilled=2)
        assert sensor.observe(e) == [("S1", "A")]
    est = sensor.estimate(("S1", "A"))
    assert est.source == "online" and 35 < est.mean < 60 and est.std > 0
    hist = sensor.history()
    assert list(hist.columns) == ["unique_id", "ds", "y"] and len(hist) == 59  # the last day is still open
    out = sensor.refit(horizon_days=7)
    fc = out[("S1", "A")]
    assert fc.source == "forecast" and 40 < fc.mean < 55  # the weekly pattern averaged over 7 days
    assert sensor.estimate(("S1", "A")) == fc
    late = Sale(source="pos", seq=99, ts=T0 + timedelta(days=80), site="S1", sku="A", quantity=1)
    sensor.observe(late)
    assert sensor.estimate(("S1", "A")).source == "online"  # the forecast's horizon has passed
    assert sensor.daily[("S1", "A")][date(2026, 3, 2)] == pytest.approx(
        float(hist["y"].iloc[0]))


def test_protection_demand_sums_steps_and_their_variances():
    import pandas as pd

    fc = pd.DataFrame({"unique_id": ["a", "a", "a"], "ds": pd.date_range("2026-01-02", periods=3, freq="W"),
                       "y_hat": [10.0, -1.0, 30.0], "hi_80": [10 + 1.2816, 1.2816 * 2 - 1, 30 + 1.2816]})
    out = protection_demand(fc, steps=2).iloc[0]
    assert out["mean"] == pytest.approx(10.0) and out["first"] == pytest.approx(10.0)
    assert out["std"] == pytest.approx(np.sqrt(1 + 4), rel=1e-3)
    with pytest.raises(ModelError, match="hi_90"):
        protection_demand(fc, 2, level=90)

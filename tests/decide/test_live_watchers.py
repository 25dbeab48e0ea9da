"""The live watchers the loop runs beside replenishment: cold chain, geofences, ETA in the twin.

Each watcher is fed real canonical events in log order (the twin folds them first, as the loop
does), writes its alerts to a real SQLite log, and must write each finding once, also when a
restarted loop derives it again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from supplynet.decide.autonomy import parse_policy
from supplynet.decide.coldchain_watch import COLDCHAIN_SOURCE, ColdChainWatch
from supplynet.decide.geo_watch import GEO_SOURCE, GeoWatch
from supplynet.events import Alert, Condition, Line, Position, ShipmentStatus
from supplynet.loop import sim_whatif
from supplynet.model import example_path, load_network
from supplynet.store import open_store
from supplynet.twin import Twin

T0 = datetime(2026, 1, 5, 6, tzinfo=UTC)
ZERO_C = 273.15


@pytest.fixture(scope="module")
def net():
    return load_network(example_path("realistic"))


class _Live:
    """A store, a twin and watchers, fed events as the loop feeds them."""

    def __init__(self, store, net, watchers):
        self.store, self.watchers = store, watchers
        self.twin = Twin.rebuild(store, net)
        self.decisions = []

    def sync(self):
        for rec in self.store.log.read(after_offset=self.twin.offset, order="offset"):
            self.twin.apply(rec.event, rec.offset)
            for w in self.watchers:
                w.observe(rec.event, self.twin)

    def feed(self, events, now=None):
        """One turn of the loop: the events are committed, folded and decided on; what the watchers wrote
        is folded at the start of the next turn (here at the end of this one)."""
        self.store.log.append(events)
        self.sync()
        for w in self.watchers:
            self.decisions += w.decide(self.twin, now or events[-1].ts)
        self.sync()

    def alerts(self, source):
        return [r.event for r in self.store.log.read(order="offset")
                if isinstance(r.event, Alert) and r.event.source == source]


def _departure(sid="SH1", lane="L-CRW-LEI", truck="RFR-CRW-LEI", lines=(("MINCE-10KG", 40.0),)):
    return ShipmentStatus(source="wms-SUP-CRW", seq=1, ts=T0, shipment_id=sid, status="departed", lane_id=lane,
                          origin="SUP-CRW", destination="PLT-LEI", asset_id=truck,
                          lines=tuple(Line(sku=s, quantity=q) for s, q in lines),
                          promised_at=T0 + timedelta(days=2.7))


def _temps(temps_c, *, start=0, sid="SH1", truck="RFR-CRW-LEI", every_min=15):
    return [Condition(source="LOG-1", seq=start + i + 1, ts=T0 + timedelta(minutes=every_min * (start + i + 1)),
                      asset_id=truck, shipment_id=sid, temperature_k=ZERO_C + c) for i, c in enumerate(temps_c)]


POLICY = parse_policy({"kinds": {"quality": {"level": "propose"}}})


def test_a_brief_spike_is_an_excursion_not_a_product_at_risk(tmp_path, net):
    with open_store(f"sqlite:///{tmp_path / 's.db'}") as store:
        live = _Live(store, net, [ColdChainWatch(net, store=store, policy=POLICY)])
        live.feed([_departure()])
        live.feed(_temps([4.0, 4.2, 10.0, 4.1, 3.9]))
        alerts = live.alerts(COLDCHAIN_SOURCE)
        # one excursion above the reefer's 5 C limit; 10 min above mince's 8 C ceiling is within its 30 min
        assert [a.code for a in alerts] == ["cold_chain_excursion"]
        assert alerts[0].subject == "SH1" and alerts[0].data["limit_c"] == 5.0
        assert alerts[0].data["peak_c"] == pytest.approx(10.0)
        assert live.decisions == []


def test_a_long_excursion_puts_the_lot_at_risk_once_and_proposes_an_inspection(tmp_path, net):
    with open_store(f"sqlite:///{tmp_path / 's.db'}") as store:
        watch = ColdChainWatch(net, store=store, policy=POLICY, inspection_cost=150.0)
        live = _Live(store, net, [watch])
        live.feed([_departure()])
        live.feed(_temps([4.0, 9.5, 9.8, 10.2, 9.9, 4.0]))  # about 65 min above 8 C
        live.feed(_temps([4.1, 4.0], start=6))  # nothing new: no second alert, no second decision
        codes = [a.code for a in live.alerts(COLDCHAIN_SOURCE)]
        assert codes == ["cold_chain_excursion", "product_at_risk"]
        risk = live.alerts(COLDCHAIN_SOURCE)[1]
        assert risk.severity == "critical" and risk.data["skus"] == ["MINCE-10KG"]
        assert len(live.decisions) == 1
        d = live.decisions[0]
        assert d.kind == "quality" and d.status == "proposed"
        assert d.action.option == "inspect" and d.action.destination == "PLT-LEI"
        # 40 x 10 kg of mince at 58 each is worth more than an inspection: inspect, costed
        assert {o.label: o.cost for o in d.options}["write off the lot"] == pytest.approx(40 * 58.0)
        assert d.cost == pytest.approx(150.0)
        assert "MINCE-10KG: 53.9 min above 8.0 C (allowance 30.0 min)" in d.why


def test_a_cheap_lot_is_written_off_rather_than_inspected(tmp_path, net):
    with open_store(f"sqlite:///{tmp_path / 's.db'}") as store:
        live = _Live(store, net, [ColdChainWatch(net, store=store, policy=POLICY, inspection_cost=500.0)])
        live.feed([_departure(lines=(("MINCE-10KG", 2.0),))])
        live.feed(_temps([4.0, 9.5, 9.8, 10.2, 9.9, 4.0]))
        (d,) = live.decisions
        assert d.action.option == "write_off" and d.cost == pytest.approx(2 * 58.0)


def test_a_restarted_watch_writes_no_alert_twice(tmp_path, net):
    events = [_departure(), *_temps([4.0, 9.5, 9.8, 10.2, 9.9, 4.0])]
    with open_store(f"sqlite:///{tmp_path / 's.db'}") as store:
        _Live(store, net, [ColdChainWatch(net, store=store, policy=POLICY)]).feed(events)
        first = [(a.seq, a.code) for a in _Live(store, net, []).alerts(COLDCHAIN_SOURCE)]
        # a new loop folds the same log from the start and derives the same findings
        again = _Live(store, net, [ColdChainWatch(net, store=store, policy=POLICY)])
        again.feed(events)
        assert [(a.seq, a.code) for a in again.alerts(COLDCHAIN_SOURCE)] == first


def test_ambient_goods_on_a_plain_truck_are_not_watched(tmp_path, net):
    with open_store(f"sqlite:///{tmp_path / 's.db'}") as store:
        live = _Live(store, net, [ColdChainWatch(net, store=store, policy=POLICY)])
        live.feed([_departure(sid="SH2", lane="L-DAV-LON", truck="TRK-DAV-LON", lines=(("FLOUR-25KG", 10.0),))])
        live.feed(_temps([25.0, 30.0, 31.0, 30.0], sid="SH2", truck="TRK-DAV-LON"))
        assert live.alerts(COLDCHAIN_SOURCE) == [] and live.decisions == []


def _fix(i, lat, lon, *, sid="SH9", truck="TRK-DAV-LON", minutes=15):
    return Position(source="GPS-1", seq=i, ts=T0 + timedelta(minutes=minutes * i), asset_id=truck,
                    shipment_id=sid, lat=lat, lon=lon)


def test_geofence_arrival_departure_dwell_and_detour(tmp_path, net):
    dav, lon_ = net.site("DC-DAV").location, net.site("ST-LON").location
    dep = ShipmentStatus(source="wms-DC-DAV", seq=1, ts=T0, shipment_id="SH9", status="departed", lane_id="L-DAV-LON",
                         origin="DC-DAV", destination="ST-LON", asset_id="TRK-DAV-LON")
    route = net.lane("L-DAV-LON").route
    mid = ((route[1][0] + route[2][0]) / 2, (route[1][1] + route[2][1]) / 2)  # on the road, between two towns
    fixes = [_fix(1, dav.lat, dav.lon), _fix(2, dav.lat + 0.01, dav.lon)]  # at the DC, then 1.1 km away: left
    fixes += [_fix(3 + k, *mid) for k in range(14)]  # standing 3.25 h on the route: a long dwell
    fixes += [_fix(17 + k, mid[0] + 0.3, mid[1] + 0.3) for k in range(3)]  # ~39 km off the route
    fixes += [_fix(20, lon_.lat, lon_.lon)]  # at the store
    with open_store(f"sqlite:///{tmp_path / 's.db'}") as store:
        live = _Live(store, net, [GeoWatch(net, store=store)])
        live.feed([dep])
        live.feed(fixes)
        got = [(a.code, a.data.get("site")) for a in live.alerts(GEO_SOURCE)]
        assert got == [("geofence_arrival", "DC-DAV"), ("geofence_departure", "DC-DAV"), ("long_dwell", None),
                       ("route_deviation", None), ("geofence_arrival", "ST-LON")]
        dwell = next(a for a in live.alerts(GEO_SOURCE) if a.code == "long_dwell")
        assert dwell.data["hours"] == pytest.approx(3.0)
        detour = next(a for a in live.alerts(GEO_SOURCE) if a.code == "route_deviation")
        assert detour.subject == "SH9" and detour.data["off_route_m"] > 30_000


def test_a_lane_without_a_declared_route_has_no_detours(tmp_path, net):
    assert net.lane("L-CRW-LEI").route is None
    with open_store(f"sqlite:///{tmp_path / 's.db'}") as store:
        live = _Live(store, net, [GeoWatch(net, store=store)])
        live.feed([_departure()])
        live.feed([_fix(k + 1, 52.0 + 0.01 * k, -3.5, sid="SH1", truck="RFR-CRW-LEI") for k in range(5)])
        assert "route_deviation" not in [a.code for a in live.alerts(GEO_SOURCE)]


def test_geo_watch_checks_its_settings(net):
    with pytest.raises(ValueError, match="radius_m"):
        GeoWatch(net, radius_m=0)


def test_each_moving_shipment_has_its_eta_in_the_twin_and_a_late_one_is_marked(tmp_path, net):
    from supplynet.decide.watch import ETA_SOURCE, ShipmentWatch

    route = net.lane("L-DAV-LON").route
    dep = ShipmentStatus(source="wms-DC-DAV", seq=1, ts=T0, shipment_id="SH9", status="departed", lane_id="L-DAV-LON",
                         origin="DC-DAV", destination="ST-LON", asset_id="TRK-DAV-LON",
                         lines=(Line(sku="MILK-2L", quantity=100.0),), promised_at=T0 + timedelta(hours=20))
    a, b = route[0], route[1]
    moving = [_fix(k + 1, a[0] + (b[0] - a[0]) * k / 8, a[1] + (b[1] - a[1]) * k / 8) for k in range(8)]
    with open_store(f"sqlite:///{tmp_path / 's.db'}") as store:
        watch = ShipmentWatch(net, simulate=sim_whatif, store=store)
        live = _Live(store, net, [watch])
        live.feed([dep])
        live.feed(moving)
        sh = live.twin.state.shipments["SH9"]
        assert sh.eta_p10 is not None and sh.eta_p10 <= sh.eta_p50 <= sh.eta_p90
        assert not sh.late
        frame = live.twin.shipments_frame()
        assert {"eta_p10", "eta_p50", "eta_p90", "late"} <= set(frame.columns)
        # then it stands still for a day: declared late, the twin says so, and the log has the alert once
        stuck = [_fix(9 + k, *moving[-1].model_dump(include={"lat", "lon"}).values(), minutes=15)
                 for k in range(96)]
        live.feed(stuck)
        codes = [e.code for e in live.alerts(ETA_SOURCE)]
        assert codes.count("late_shipment") >= 1
        assert live.twin.state.shipments["SH9"].late
        assert live.twin.state.shipments["SH9"].eta_p50 > T0 + timedelta(hours=20)


def test_budget_per_day_is_set_in_the_policy_file_and_reaches_the_replenisher(tmp_path, net):
    from supplynet.decide.autonomy import load_policy
    from supplynet.errors import SupplynetError
    from supplynet.loop import Loop

    f = tmp_path / "policy.yaml"
    f.write_text("budget_per_day: 400\nkinds:\n  replenish: {level: auto}\n")
    policy = load_policy(f)
    assert policy.budget_per_day == 400.0
    with open_store(f"sqlite:///{tmp_path / 's.db'}") as store:
        assert Loop(store, net, policy).replenisher.budget_per_day == 400.0
    f.write_text("budget_per_day: -5\n")
    with pytest.raises(SupplynetError, match="budget_per_day"):
        load_policy(f)


def _sensor_with_sales(days=30):
    import numpy as np

    from supplynet.events import Sale
    from supplynet.sense.demand.demand_live import DemandSensor

    rng = np.random.default_rng(5)
    sensor = DemandSensor({("S1", "A"): (10.0, 3.0)}, alpha=0.2, min_days=7)
    for d in range(days):
        sensor.observe(Sale(source="pos", seq=d, ts=T0 + timedelta(days=d), site="S1", sku="A",
                            quantity=float(rng.poisson(60 if d % 7 in (5, 6) else 40))))
    return sensor


def test_demand_refit_installs_the_forecasters_distribution_on_schedule():
    from supplynet.decide.forecast_refit import DemandRefit

    sensor = _sensor_with_sales()
    assert sensor.estimate(("S1", "A")).source == "online"
    refit = DemandRefit(sensor, every=timedelta(days=1), background=False)
    now = T0 + timedelta(days=30)
    assert refit.decide(None, now) == []
    est = sensor.estimate(("S1", "A"))
    assert est.source == "forecast" and 40 < est.mean < 52 and est.std > 0 and refit.refits == 1
    refit.decide(None, now + timedelta(hours=6))  # not due yet
    assert refit.refits == 1
    refit.decide(None, now + timedelta(days=1))
    assert refit.refits == 2


def test_demand_refit_runs_off_the_decision_path_and_survives_a_failure(monkeypatch):
    import threading

    from supplynet.decide import forecast_refit
    from supplynet.decide.forecast_refit import DemandRefit

    sensor = _sensor_with_sales()
    release = threading.Event()
    real = forecast_refit.forecast_estimates

    def slow(*a, **kw):  # the forecaster takes its time: the loop must not wait for it
        release.wait(10)
        return real(*a, **kw)

    monkeypatch.setattr(forecast_refit, "forecast_estimates", slow)
    refit = DemandRefit(sensor, background=True)
    now = T0 + timedelta(days=30)
    refit.decide(None, now)  # returns at once with the forecast under way
    assert sensor.estimate(("S1", "A")).source == "online" and refit.refits == 0
    release.set()
    refit._running.result(timeout=30)
    refit.decide(None, now + timedelta(minutes=1))  # the next turn installs it
    assert sensor.estimate(("S1", "A")).source == "forecast" and refit.refits == 1

    def broken(*a, **kw):
        raise RuntimeError("statsforecast fell over")

    monkeypatch.setattr(forecast_refit, "forecast_estimates", broken)
    refit.decide(None, now + timedelta(days=2))
    refit.close()
    assert refit.failures == 1 and refit.refits == 1
    assert sensor.estimate(("S1", "A")).source == "forecast"  # the last good forecast still serves


def test_a_background_refit_takes_effect_at_the_next_tick_whatever_the_pace_and_across_a_restart():
    """When a forecast takes effect is a matter of event time: the refit started at one tick is installed
    at the next (waited for if need be); saved mid-refit and restored (a SIGKILLed ``supplynet run``), the
    loop runs it again on the saved input and installs the same estimates at the same tick, and does not
    start an extra refit because it restarted."""
    import pickle

    from supplynet.decide.forecast_refit import DemandRefit

    now = T0 + timedelta(days=30)
    inline_sensor = _sensor_with_sales()
    DemandRefit(inline_sensor, background=False).decide(None, now)
    want = inline_sensor.estimate(("S1", "A"))

    sensor = _sensor_with_sales()
    refit = DemandRefit(sensor, background=True)
    refit.decide(None, now)  # started: nothing installed at this tick
    assert sensor.estimate(("S1", "A")).source == "online"
    blob = pickle.dumps((sensor, refit))  # the loop's state saved right after the tick
    refit.decide(None, now + timedelta(hours=1))
    assert sensor.estimate(("S1", "A")) == want and refit.refits == 1
    refit.close()

    sensor2, refit2 = pickle.loads(blob)  # restarted from the saved state
    assert refit2._running is not None and sensor2.estimate(("S1", "A")).source == "online"
    refit2.decide(None, now + timedelta(hours=1))
    assert sensor2.estimate(("S1", "A")) == want and refit2.refits == 1
    refit2.decide(None, now + timedelta(hours=2))  # the schedule survived: no refit before a day has passed
    assert refit2._running is None and refit2.last_started == now
    refit2.close()


def test_quiet_hours_hold_auto_replenishment_until_they_end_instead_of_asking_a_person(tmp_path):
    from supplynet.events import StockCount
    from supplynet.loop import Loop

    tiny = load_network(example_path("tiny"))
    policy = parse_policy({"timezone": "UTC", "high_impact_cost": 1e9, "costly_action_cost": 1e9, "kinds": {
        "replenish": {"level": "auto", "guardrails": {"quiet_hours": {"start": "23:00", "end": "05:00"}}},
        "rebalance": {"level": "auto"}}})
    night = datetime(2026, 1, 5, 23, 30, tzinfo=UTC)
    with open_store(f"sqlite:///{tmp_path / 's.db'}") as store:
        loop = Loop(store, tiny, policy)
        store.log.append([StockCount(source="RFID-1", seq=1, ts=night, site="STORE-1", sku="BREAD-800G", quantity=0.0,
                                     method="cycle_count")])
        loop.sync()

        def step(now):
            return [s.decision for s in loop.step(now).submitted]

        assert step(night) == []  # quiet: nothing made, nothing waits for a person
        assert step(night + timedelta(hours=4)) == []
        made = step(night + timedelta(hours=5, minutes=30))  # 05:00 has passed
        orders = [d for d in made if d.action.site == "STORE-1" and d.action.sku == "BREAD-800G"]
        assert orders and all(d.status == "executed" for d in orders)
        assert not [d for d in made if d.status == "proposed"]


def test_propose_hands_decisions_and_alerts_to_the_caller_and_writes_nothing(tmp_path, net):
    with open_store(f"sqlite:///{tmp_path / 's.db'}") as store:
        cold, geo = ColdChainWatch(net, store=store, policy=POLICY), GeoWatch(net, store=store)
        twin = Twin.rebuild(store, net)
        store.log.append([_departure(), *_temps([4.0, 9.5, 9.8, 10.2, 9.9, 4.0])])
        for rec in store.log.read(order="offset"):
            twin.apply(rec.event, rec.offset)
            cold.observe(rec.event, twin)
            geo.observe(rec.event, twin)
        n = store.log.count()
        found, raised = cold.propose(twin, T0 + timedelta(hours=2))
        assert [d.kind for d in found] == ["quality"] and found[0].id == "" and found[0].status == "proposed"
        assert [a.code for a in raised] == ["cold_chain_excursion", "product_at_risk"]
        assert geo.propose(twin, T0 + timedelta(hours=2)) == ([], [])
        assert store.log.count() == n  # the caller records them


def test_demand_refit_forecasts_only_the_sites_it_is_given():
    from supplynet.decide.forecast_refit import DemandRefit
    from supplynet.events import Sale

    sensor = _sensor_with_sales()
    for d in range(30):  # a DC's lumpy echelon demand: a big batch every fifth day
        sensor.record(("DC1", "A"), (T0 + timedelta(days=d)).date(), 900.0 if d % 5 == 0 else 0.0)
    sensor.observe(Sale(source="pos", seq=99, ts=T0 + timedelta(days=30), site="S1", sku="A", quantity=1.0))
    DemandRefit(sensor, background=False, sites=["S1"]).decide(None, T0 + timedelta(days=30))
    assert sensor.estimate(("S1", "A")).source == "forecast"
    assert sensor.estimate(("DC1", "A")).source == "online"


def test_the_plain_float_geofences_find_what_the_numpy_ones_find(net):
    """Few sites: GeoWatch measures in plain floats with a latitude bound; many: numpy over every site.
    Random walks past and through the fences give the same alerts either way."""
    import numpy as np

    rng = np.random.default_rng(14)
    sites = [s.location for s in net.sites]
    fast, full = GeoWatch(net), GeoWatch(net)
    full._few = None
    assert fast._few is not None
    twin = Twin(net)
    seq = 0
    for k in range(40):
        here = sites[k % len(sites)]
        lat, lon = here.lat + rng.normal(0, 0.004), here.lon + rng.normal(0, 0.004)
        for _ in range(12):  # in and out of the 300 m fence, with 375 m hysteresis
            seq += 1
            lat += rng.normal(0, 0.002)
            lon += rng.normal(0, 0.003)
            e = Position(source="GPS-T", seq=seq, ts=T0 + timedelta(minutes=seq), asset_id="T", lat=lat, lon=lon)
            fast.observe(e, twin)
            full.observe(e, twin)
    a, b = fast.alerts.drain(), full.alerts.drain()
    assert [(x.code, x.data.get("site"), x.seq) for x in a] == [(x.code, x.data.get("site"), x.seq) for x in b]
    assert sum(x.code == "geofence_arrival" for x in a) >= 10  # the walk did cross fences

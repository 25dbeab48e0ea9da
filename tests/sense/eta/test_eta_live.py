"""The live delay path with the backtest's default ETA model (TodEtaModel) fitted on a lane's GPS history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from supplynet.model import Network
from supplynet.sense.eta.delay import DelayDetector, DelayPolicy, fit_lane_eta_model
from supplynet.sense.eta.eta import EtaModel, match_trip
from supplynet.sense.eta.eta_tod import TodEtaModel
from supplynet.sense.eta.trips import Trip, generate_trips

ROUTE = [(53.40, -2.98), (53.40, -2.935), (53.427, -2.935)]  # about 3 km east then 3 km north
SPEEDS = [(0.0, 4.0), (2000.0, 9.0), (4000.0, 5.0)]
STOPS = [(1500.0, 60.0), (3500.0, 90.0)]
T0 = 1_767_600_000.0  # a Monday 08:00 UTC


def _net() -> Network:
    return Network.model_validate({
        "name": "live-eta",
        "sites": [{"id": "A", "kind": "dc", "location": {"lat": ROUTE[0][0], "lon": ROUTE[0][1]}},
                  {"id": "B", "kind": "store", "location": {"lat": ROUTE[-1][0], "lon": ROUTE[-1][1]}}],
        "products": [{"sku": "X", "unit_cost": 1.0, "price": 2.0}],
        "lanes": [{"id": "L1", "origin": "A", "destination": "B", "route": [list(p) for p in ROUTE],
                   "lead_time": {"mean_days": 0.02, "std_days": 0.005}}],
    })


def _history_and_live() -> tuple[list[Trip], Trip, Trip]:
    """Twelve past trips, then a live trip like them and one jammed to a third of the speed after 2 km."""
    trips = generate_trips(ROUTE, n_trips=14, seed=11, speeds_mps=SPEEDS, stops=STOPS, pace_cv=0.05,
                           first_departure=T0, headway_s=600.0)
    jam = [(0.0, 4.0), (2000.0, 3.0), (4000.0, 5.0 / 3)]
    jammed = generate_trips(ROUTE, n_trips=14, seed=11, speeds_mps=jam, stops=STOPS, pace_cv=0.05,
                            first_departure=T0, headway_s=600.0)[13]
    return trips[:12], trips[12], jammed


def _replay(det: DelayDetector, model: TodEtaModel, trip: Trip, promised: float):
    """Feed the trip's fixes from its departure to its arrival; (fix index, forecast, newly late)."""
    m = match_trip(model.geometry, trip)
    dep = datetime.fromtimestamp(float(trip.t[m.start_idx]), tz=UTC)
    det.observe_status(trip.trip_id, "departed", "L1", dep, event_id=f"{trip.trip_id}:dep")
    out = []
    for i in range(m.start_idx, m.arr_idx):  # from the departure fix (the last in the origin geofence) on
        at = datetime.fromtimestamp(float(trip.t[i]), tz=UTC)
        fc, late = det.observe_position(trip.trip_id, "L1", float(trip.lat[i]), float(trip.lon[i]), at,
                                        datetime.fromtimestamp(promised, tz=UTC), departed_at=dep,
                                        event_id=f"{trip.trip_id}:{i}")
        out.append((i, fc, late))
    return m, out


def test_the_live_path_gives_the_backtested_models_forecast():
    net = _net()
    past, live, _ = _history_and_live()
    model = fit_lane_eta_model(net, "L1", past)
    assert isinstance(model, TodEtaModel) and model.n_trips == 12
    det = DelayDetector(net, eta_models={"L1": model})
    m, rows = _replay(det, model, live, promised=float(live.t[-1]) + 3600)
    truth_arr = float(m.trip.t[m.arr_idx])
    gaps, errors = [], []
    for i, fc, _ in rows:
        assert fc.method == "segment_tod"
        assert fc.p10 <= fc.p50 <= fc.p90
        # the same model as in the backtest, on the same fixes
        gaps.append(abs(fc.p50 - model.predict_matched(m.trip.t[: i + 1], m.s[: i + 1], m.start_idx).eta_p50))
        errors.append(abs(fc.p50 - truth_arr))
    # the detector holds progress through moves of less than 50 m (GPS jitter at a stop), which
    # shifts a forecast by a minute at most; elsewhere it is the backtest's
    assert np.median(gaps) < 1.0 and max(gaps) < 90.0
    assert np.mean(errors) < 0.05 * (truth_arr - float(m.trip.t[m.start_idx]))


def test_a_jammed_trip_is_declared_late_by_the_fitted_model_and_a_normal_one_is_not():
    net = _net()
    past, live, jammed = _history_and_live()
    model = fit_lane_eta_model(net, "L1", past)
    policy = DelayPolicy(confidence=0.9, tolerance_s=120.0, min_pings=3, min_span_s=60.0)
    usual = float(np.median([match_trip(model.geometry, tr).arrival_t - tr.t[match_trip(model.geometry, tr).start_idx]
                             for tr in past]))

    def promised(tr: Trip) -> float:  # the usual trip time from the trip's departure, plus five minutes
        return float(tr.t[match_trip(model.geometry, tr).start_idx]) + usual + 300.0

    _, rows = _replay(DelayDetector(net, policy=policy, eta_models={"L1": model}), model, live, promised(live))
    assert not any(late for _, _, late in rows)
    m, rows = _replay(DelayDetector(net, policy=policy, eta_models={"L1": model}), model, jammed, promised(jammed))
    declared = [(i, fc) for i, fc, late in rows if late]
    assert declared, "the jam doubles the trip time: it must be declared"
    i, fc = declared[0]
    assert fc.method == "segment_tod"
    assert m.trip.t[i] < m.trip.t[m.arr_idx] - 300  # declared well before it arrives
    assert fc.p50 > promised(jammed) + policy.tolerance_s


def test_fit_lane_eta_model_choices():
    net = _net()
    past, _, _ = _history_and_live()
    gp = fit_lane_eta_model(net, "L1", past[:6], model="gp", dest_radius_m=100.0)
    assert isinstance(gp, EtaModel) and gp.geometry.dest_radius_m == 100.0
    with pytest.raises(ValueError, match="model must be"):
        fit_lane_eta_model(net, "L1", past, model="analog")  # type: ignore[arg-type]
    det = DelayDetector(net, eta_models={"L1": gp})
    at = datetime.fromtimestamp(float(past[0].t[10]), tz=UTC)
    fc, _ = det.observe_position("S", "L1", float(past[0].lat[10]), float(past[0].lon[10]), at,
                                 at + timedelta(hours=1), departed_at=at - timedelta(minutes=3))
    assert fc is not None and fc.method == "segment_gp"

"""The time-of-day segment ETA model (backtest default) on generated trips with known physics."""

from __future__ import annotations

import numpy as np
import pytest

from supplynet.errors import DataError
from supplynet.sense.eta.eta import LaneGeometry, match_trip
from supplynet.sense.eta.eta_backtest import backtest
from supplynet.sense.eta.eta_tod import TodEtaModel
from supplynet.sense.eta.geo import Route
from supplynet.sense.eta.trips import Trip, generate_trips

ROUTE = [(53.40, -2.98), (53.40, -2.935), (53.427, -2.935)]  # about 3 km east then 3 km north
SPEEDS = [(0.0, 4.0), (2000.0, 9.0), (4000.0, 5.0)]  # slow town centre, fast road, slow suburb
STOPS = [(1500.0, 60.0), (3500.0, 90.0)]
T0 = 1_767_600_000.0  # a Monday 08:00 UTC


def _geom() -> LaneGeometry:
    return LaneGeometry(Route.from_points(ROUTE))


def _renamed(trips: list[Trip], prefix: str) -> list[Trip]:
    return [Trip(f"{prefix}{tr.trip_id}", tr.t, tr.lat, tr.lon) for tr in trips]


def _rush_day(seed: int) -> list[Trip]:
    """Trips every 10 minutes over 6 hours; for those departing in hours 2-4 the town centre (the
    first 2 km) is congested to 40% of its speed, the rest of the route runs as usual."""
    calm = generate_trips(ROUTE, n_trips=36, seed=seed, speeds_mps=SPEEDS, stops=STOPS, pace_cv=0.03,
                          first_departure=T0, headway_s=600.0)
    jam = [(0.0, 0.4 * SPEEDS[0][1]), *SPEEDS[1:]]
    slow = generate_trips(ROUTE, n_trips=36, seed=seed, speeds_mps=jam, stops=STOPS, pace_cv=0.03,
                          first_departure=T0, headway_s=600.0)
    return [s if 2 * 3600 <= c.t[0] - T0 < 4 * 3600 else c for c, s in zip(calm, slow, strict=True)]


def test_known_speeds_give_the_expected_segment_times_and_eta():
    trips = generate_trips(ROUTE, n_trips=12, seed=1, speeds_mps=SPEEDS, stops=STOPS, pace_cv=0.02)
    geom = _geom()
    model = TodEtaModel(geom).fit(trips[1:])
    assert model.n_trips == 11
    edges, exp_t = model.expected_times(float(trips[5].t[0]))
    # a segment on the fast road (2.0-2.4 km, no stop) takes 400 m / 9 m/s; one in town 400 m / 4 m/s
    k_fast, k_town = int(np.searchsorted(edges, 2000.0)), int(np.searchsorted(edges, 400.0))
    assert exp_t[k_fast] == pytest.approx(400 / 9.0, rel=0.1)
    assert exp_t[k_town] == pytest.approx(400 / 4.0, rel=0.1)
    # the held-out trip: P50 within 5% of the truth all along, or a minute (a bus standing at a stop
    # has some of its dwell still ahead, which the segment's uniform share does not know), P10 <= P50 <= P90
    m = match_trip(geom, trips[0])
    for c in range(m.start_idx + 1, m.arr_idx, 5):
        f = model.predict_matched(m.trip.t[: c + 1], m.s[: c + 1], m.start_idx)
        truth = m.trip.t[m.arr_idx] - m.trip.t[c]
        assert 0 <= f.p10_s <= f.p50_s <= f.p90_s
        assert abs(f.p50_s - truth) < max(0.05 * truth, 60.0)
    assert model.predict(trips[0].head(c + 1)).p50_s == pytest.approx(f.p50_s)


def test_time_of_day_profile_finds_the_rush_hours():
    day = _rush_day(seed=3)
    model = TodEtaModel(_geom()).fit(day)
    # a finite bandwidth wins the marginal likelihood over the all-day mean
    assert np.isfinite(model.bandwidth_s) and model.bandwidth_s <= 3600
    assert model.log_likelihoods[model.bandwidth_s] > model.log_likelihoods[float("inf")]
    edges, calm = model.expected_times(T0 + 0.5 * 3600)
    _, rush = model.expected_times(T0 + 3 * 3600)
    town = edges[1:] <= 2000.0
    # 40% speed, but the stop's dwell does not stretch: the town takes about twice as long
    assert 1.8 < np.sum(rush[town]) / np.sum(calm[town]) < 2.5
    assert np.sum(rush[~town]) == pytest.approx(np.sum(calm[~town]), rel=0.1)
    # a jam in one part of the route is no slow driver: the trip effect stays small
    assert model.trip_sd < 0.1


def test_a_held_out_rush_trip_is_forecast_from_its_hour():
    day = _rush_day(seed=4)
    geom = _geom()
    live = day[18]  # departs at 3 h: rush
    model = TodEtaModel(geom).fit(day[:18] + day[19:])
    m = match_trip(geom, live)
    c = m.start_idx + 1  # just after departure: no segment done, the hour alone must tell
    truth = m.trip.t[m.arr_idx] - m.trip.t[c]
    f = model.predict_matched(m.trip.t[: c + 1], m.s[: c + 1], m.start_idx)
    assert abs(f.p50_s - truth) < 0.1 * truth
    flat = TodEtaModel(geom, bandwidths_s=(float("inf"),)).fit(day[:18] + day[19:])
    assert flat.predict_matched(m.trip.t[: c + 1], m.s[: c + 1], m.start_idx).p50_s < 0.9 * truth


def test_causal_profile_ignores_traversals_completed_after_the_forecast():
    # the live trip leaves 10 minutes before the jam starts; the jammed trips that leave after it
    # are time-of-day neighbours, but none of their traversals is complete when it departs
    day = _rush_day(seed=7)
    geom = _geom()
    live, train = day[11], day[:11] + day[12:]
    m = match_trip(geom, live)
    c = m.start_idx + 1
    truth = m.trip.t[m.arr_idx] - m.trip.t[c]
    full = TodEtaModel(geom).fit(train).predict_matched(m.trip.t[: c + 1], m.s[: c + 1], m.start_idx)
    causal = TodEtaModel(geom, causal=True).fit(train).predict_matched(m.trip.t[: c + 1], m.s[: c + 1],
                                                                         m.start_idx)
    assert full.p50_s > 1.1 * truth  # the later jammed trips pull the profile up
    assert abs(causal.p50_s - truth) < 0.05 * truth


def test_trip_effect_is_shrunk_toward_zero_and_grows_with_the_segments_done():
    trips = generate_trips(ROUTE, n_trips=14, seed=6, speeds_mps=SPEEDS, stops=STOPS, pace_cv=0.2)
    geom = _geom()
    model = TodEtaModel(geom).fit(trips[1:])
    assert 0.08 < model.trip_sd < 0.4  # the generator's lognormal pace has sd ~0.2
    m = match_trip(geom, trips[0])
    i0 = m.start_idx
    slow_t = m.trip.t.copy()
    slow_t[i0:] = slow_t[i0] + 1.5 * (slow_t[i0:] - slow_t[i0])  # the same trip 1.5x slower
    prev = 0.0
    for x in (1500.0, 3000.0, 4500.0):
        c = int(np.searchsorted(m.s, x))
        u_fast, _ = model.trip_effect(m.trip.t[: c + 1], m.s[: c + 1], i0)
        u_slow, var = model.trip_effect(slow_t[: c + 1], m.s[: c + 1], i0)
        gap = u_slow - u_fast
        assert 0 < gap < np.log(1.5) and var < model.trip_sd**2  # shrunk, and learned from
        assert gap > prev  # more segments done: less shrinkage
        prev = gap
        fast = model.predict_matched(m.trip.t[: c + 1], m.s[: c + 1], i0)
        slow = model.predict_matched(slow_t[: c + 1], m.s[: c + 1], i0)
        assert slow.p50_s / fast.p50_s == pytest.approx(np.exp(gap), rel=1e-6)


def _loaded(trips: list[Trip], geom: LaneGeometry, factors: np.ndarray, theta: float) -> list[Trip]:
    """The trips with trip ``j``'s time after its departure stretched by ``factors[j] ** lambda(s)``,
    ``lambda(s) = exp(theta (s / L - 1/2))``: a pace effect whose log fades (theta < 0) along the route."""
    out = []
    for tr, f in zip(trips, factors, strict=True):
        m = match_trip(geom, tr)
        mid = 0.5 * (m.s[1:] + m.s[:-1]) / geom.route.length_m
        scale = np.where(np.arange(1, tr.n) > m.start_idx, f ** np.exp(theta * (mid - 0.5)), 1.0)
        out.append(Trip(tr.trip_id, tr.t[0] + np.concatenate([[0.0], np.cumsum(np.diff(tr.t) * scale)]), tr.lat, tr.lon))
    return out


def test_a_pace_effect_fading_along_the_route_is_learned_from_the_training_trips():
    geom = _geom()
    base = generate_trips(ROUTE, n_trips=24, seed=8, speeds_mps=SPEEDS, stops=STOPS, pace_cv=0.02, headway_s=600.0)
    trips = _loaded(base, geom, np.random.default_rng(8).lognormal(0.0, 0.3, len(base)), theta=-2.0)
    err_fit, err_flat = [], []
    for k in range(4):  # each held-out trip is forecast by models fitted on the others only
        train = trips[:k] + trips[k + 1:]
        model = TodEtaModel(geom).fit(train)
        flat = TodEtaModel(geom, loading_slopes=(0.0,)).fit(train)
        assert model.loading_slope == pytest.approx(-2.0, abs=0.5)  # picked by marginal likelihood
        assert model.loadings[0] > 2.0 * model.loadings[-1]
        m = match_trip(geom, trips[k])
        c = int(np.searchsorted(m.s, 2500.0))  # 40% along: the slow start must not be extrapolated
        truth = m.trip.t[m.arr_idx] - m.trip.t[c]
        err_fit.append(abs(model.predict_matched(m.trip.t[: c + 1], m.s[: c + 1], m.start_idx).p50_s - truth))
        err_flat.append(abs(flat.predict_matched(m.trip.t[: c + 1], m.s[: c + 1], m.start_idx).p50_s - truth))
    assert np.mean(err_fit) < 0.5 * np.mean(err_flat)
    # a pace that scales the whole trip alike: the constant effect (slope 0) wins
    const = generate_trips(ROUTE, n_trips=14, seed=6, speeds_mps=SPEEDS, stops=STOPS, pace_cv=0.2)
    assert TodEtaModel(geom).fit(const).loading_slope == 0.0


def test_the_time_still_ahead_in_a_segment_with_a_stop_comes_from_its_past_traversals():
    trips = generate_trips(ROUTE, n_trips=12, seed=1, speeds_mps=SPEEDS, stops=STOPS, pace_cv=0.02)
    geom = _geom()
    err_at_stop, err_prof, err_lin = [], [], []
    for k in range(3):
        train = trips[:k] + trips[k + 1:]
        prof, lin = TodEtaModel(geom).fit(train), TodEtaModel(geom, within_profile=False).fit(train)
        m = match_trip(geom, trips[k])
        at_stop = int(np.nonzero(m.s >= 3450.0)[0][0])  # first fix at (or just before) the 90 s stop at 3.5 km
        for c in range(m.start_idx + 1, m.arr_idx):
            truth = m.trip.t[m.arr_idx] - m.trip.t[c]
            a = prof.predict_matched(m.trip.t[: c + 1], m.s[: c + 1], m.start_idx).p50_s - truth
            b = lin.predict_matched(m.trip.t[: c + 1], m.s[: c + 1], m.start_idx).p50_s - truth
            err_prof.append(abs(a))
            err_lin.append(abs(b))
            if c == at_stop:
                err_at_stop.append((abs(a), abs(b)))
    # a share of the segment's length would put most of the 3.2-3.6 km segment's time behind a bus
    # that has reached the stop at 3.5 km, though its dwell is still ahead
    assert all(a < 0.6 * b for a, b in err_at_stop)
    assert np.mean(err_prof) < np.mean(err_lin)


def test_backtest_default_is_the_time_of_day_model_and_gp_stays_reachable():
    trips = _rush_day(seed=5)[::2]
    route = Route.from_points(ROUTE)
    tod = backtest(trips, route=route, seed=0, cuts_per_trip=5)
    gp = backtest(trips, route=route, seed=0, cuts_per_trip=5, model="gp")
    # the same cuts and the same naive baselines, whichever model
    np.testing.assert_array_equal(tod.cuts[:, [0, 4, 5]], gp.cuts[:, [0, 4, 5]])
    assert tod.naive_mae_min == gp.naive_mae_min
    assert tod.model_mae_min < 0.5 * tod.naive_mae_min
    with pytest.raises(ValueError, match="model must be one of"):
        backtest(trips, route=route, model="analog")  # type: ignore[arg-type]


def test_validation_and_unfitted_errors():
    geom = _geom()
    with pytest.raises(ValueError, match="segment_m"):
        TodEtaModel(geom, segment_m=0)
    with pytest.raises(ValueError, match="bandwidths_s"):
        TodEtaModel(geom, bandwidths_s=())
    with pytest.raises(ValueError, match="bandwidths_s"):
        TodEtaModel(geom, bandwidths_s=(600.0, -1.0))
    with pytest.raises(ValueError, match="loading_slopes"):
        TodEtaModel(geom, loading_slopes=())
    with pytest.raises(ValueError, match="loading_slopes"):
        TodEtaModel(geom, loading_slopes=(0.0, float("nan")))
    with pytest.raises(ValueError, match="n_samples"):
        TodEtaModel(geom, n_samples=10)
    with pytest.raises(ValueError, match="em_iterations"):
        TodEtaModel(geom, em_iterations=0)
    with pytest.raises(DataError, match="not fitted"):
        TodEtaModel(geom).predict_matched(np.array([0.0, 1.0]), np.array([0.0, 10.0]))
    silent = generate_trips(ROUTE, n_trips=2, seed=2, speeds_mps=SPEEDS, silent_after_m={0: 2000.0, 1: 2000.0})
    with pytest.raises(DataError, match="observed arrival"):
        TodEtaModel(geom).fit(silent)

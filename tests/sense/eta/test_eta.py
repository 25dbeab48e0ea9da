"""Trip loaders, route learning, trip classification, the segment-GP ETA model and the backtest,
on generated trips with known physics and (marked ``data``) on the Liverpool route-14 file."""

from __future__ import annotations

import os
from pathlib import Path

import gpxpy.gpx
import numpy as np
import pytest

from supplynet.errors import DataError
from supplynet.sense.eta.eta import (
    EtaModel,
    LaneGeometry,
    classify_trips,
    learn_route,
    match_trip,
    weighted_quantiles,
)
from supplynet.sense.eta.eta_backtest import backtest, backtest_seeds
from supplynet.sense.eta.geo import Route, haversine_m
from supplynet.sense.eta.trips import Trip, generate_trips, load_gpx, load_trips, load_trips_csv
from supplynet.testing.require import require_or_skip

ROUTE = [(53.40, -2.98), (53.40, -2.935), (53.427, -2.935)]  # about 3 km east then 3 km north
SPEEDS = [(0.0, 4.0), (2000.0, 9.0), (4000.0, 5.0)]  # slow town centre, fast road, slow suburb
STOPS = [(1500.0, 60.0), (3500.0, 90.0)]


def _data_dir() -> Path:
    return Path(os.environ.get("SUPPLYNET_DATA_DIR", Path(__file__).resolve().parents[4] / "shared" / "data"))


LIVERPOOL = _data_dir() / "gps-trajectories" / "liverpool_bus_route14_outbound.csv"
GPX_304 = _data_dir() / "gps-trajectories" / "304_to_UL_2019-02-18_0745.gpx"


@pytest.fixture(scope="module")
def trips() -> list[Trip]:
    # trip index 3 goes silent at 2.5 km, trip 5 is first seen at 2 km
    return generate_trips(ROUTE, n_trips=12, seed=1, speeds_mps=SPEEDS, stops=STOPS,
                          silent_after_m={3: 2500.0}, start_at_m={5: 2000.0})


# ------------------------------------------------------------------------------------------ loaders
def _write_csv(path: Path, trips: list[Trip], header=("trip", "when", "y", "x")) -> None:
    rows = [",".join(header)]
    for tr in trips:
        for t, la, lo in zip(tr.t, tr.lat, tr.lon, strict=True):
            stamp = np.datetime64(int(t), "s").astype(str) + "Z"
            rows.append(f"{tr.trip_id},{stamp},{la:.6f},{lo:.6f}")
    path.write_text("\n".join(rows) + "\n")


def test_csv_loader_with_configured_columns_round_trips(tmp_path, trips):
    p = tmp_path / "t.csv"
    _write_csv(p, trips[:3], header=("run", "stamp", "northing", "easting"))
    got = load_trips_csv(p, trip_col="run", time_col="stamp", lat_col="northing", lon_col="easting")
    assert [g.trip_id for g in got] == [t.trip_id for t in trips[:3]]
    np.testing.assert_allclose(got[0].t, np.floor(trips[0].t))
    np.testing.assert_allclose(got[1].lat, trips[1].lat, atol=1e-6)


def test_csv_loader_finds_common_names_and_splits_on_silence(tmp_path, trips):
    a = trips[0]
    b = Trip("later", trips[1].t + 7200, trips[1].lat, trips[1].lon)  # two hours later, same vehicle
    p = tmp_path / "t.csv"
    _write_csv(p, [a, b], header=("unused", "timestamp", "latitude", "longitude"))
    got = load_trips_csv(p)  # no trip column: one track, split where fixes are > 30 min apart
    assert [g.n for g in got] == [a.n, b.n]
    assert len(load_trips_csv(p, split_gap_s=4 * 3600)) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("trip,time,lat,lon\nA,2026-01-01T00:00:00Z,53.4,-2.9\nA,yesterday,53.4,-2.9\n", "'yesterday'"),
        ("trip,time,lat,lon\nA,2026-01-01T00:00:00Z,93.4,-2.9\n", "column 'lat'"),
        ("trip,time,lon\nA,2026-01-01T00:00:00Z,-2.9\n", "latitude"),
        ("", "not a readable CSV"),
    ],
)
def test_csv_loader_bad_files_raise_clear_data_errors(tmp_path, body, message):
    p = tmp_path / "bad.csv"
    p.write_text(body)
    with pytest.raises(DataError, match=message):
        load_trips_csv(p)


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_trips(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="unknown trip file format"):
        load_trips(tmp_path / "x.kml")


def test_gpx_loader(tmp_path, trips):
    gpx = gpxpy.gpx.GPX()
    for tr in trips[:2]:
        trk = gpxpy.gpx.GPXTrack(name=tr.trip_id)
        seg = gpxpy.gpx.GPXTrackSegment()
        for t, la, lo in zip(tr.t, tr.lat, tr.lon, strict=True):
            seg.points.append(gpxpy.gpx.GPXTrackPoint(la, lo, time=np.datetime64(int(t * 1e6), "us").item()))
        trk.segments.append(seg)
        gpx.tracks.append(trk)
    p = tmp_path / "t.gpx"
    p.write_text(gpx.to_xml())
    got = load_trips(p)
    assert [g.trip_id for g in got] == ["T001", "T002"]
    np.testing.assert_allclose(got[0].t, trips[0].t, atol=1e-3)
    # a GPX point without a time is refused, naming the track
    gpx.tracks[0].segments[0].points[3].time = None
    p.write_text(gpx.to_xml())
    with pytest.raises(DataError, match="without a time"):
        load_gpx(p)
    p.write_text("<gpx><trk>")
    with pytest.raises(DataError, match="not a valid GPX"):
        load_gpx(p)


# ------------------------------------------------------------------------------------------ geometry
def test_learned_route_matches_the_true_route(trips):
    learned = learn_route(trips)
    true = Route.from_points(ROUTE)
    assert learned.length_m == pytest.approx(true.length_m, rel=0.03)
    assert haversine_m(*learned.origin, *true.origin) < 40
    assert haversine_m(*learned.destination, *true.destination) < 40
    # every fix of every trip lies close to the learned route
    for tr in trips:
        assert np.percentile(learned.project(tr.lat, tr.lon).cross_track_m, 95) < 25


def test_match_and_classify_find_departure_arrival_and_missing_ends(trips):
    geom = LaneGeometry(Route.from_points(ROUTE))
    matched = [match_trip(geom, tr) for tr in trips]
    m0 = matched[0]
    # departure is the last fix within the origin geofence, after the origin dwell
    assert m0.dep_idx is not None and m0.s[m0.dep_idx] < 300 < m0.s[m0.dep_idx + 1]
    assert m0.trip.t[m0.dep_idx] - m0.trip.t[0] > 30
    assert m0.arr_idx is not None and m0.s[m0.arr_idx] >= geom.arrival_s_m
    assert np.all(np.diff(m0.s) >= 0)
    status = classify_trips(geom, matched)
    by_id = {s.trip_id: s for s in status}
    assert by_id["T004"].status == "tracker_silent"
    assert by_id["T004"].last_remaining_m > 3000
    assert by_id["T006"].status == "complete" and not by_id["T006"].start_observed
    assert sum(s.status == "complete" for s in status) == 11
    # the last trip's data cut short at the end of the file is "data_stops"
    cut = trips[-1].head(trips[-1].n // 2)
    st = classify_trips(geom, [match_trip(geom, cut)], data_end_t=float(cut.t[-1]))
    assert st[0].status == "data_stops"


# ------------------------------------------------------------------------------------------ model
def test_weighted_quantiles():
    v = np.array([4.0, 1.0, 3.0, 2.0])
    np.testing.assert_allclose(weighted_quantiles(v, np.ones(4), [0.125, 0.5, 0.875]), [1.0, 2.5, 4.0])
    # weight on one value pulls the median to it
    w = np.array([10.0, 1, 1, 1])
    assert weighted_quantiles(v, w, [0.7])[0] == 4.0 and weighted_quantiles(v, w, [0.5])[0] > 3.5
    with pytest.raises(ValueError, match="empty"):
        weighted_quantiles(np.array([]), np.array([]), [0.5])


def test_forecast_is_ordered_close_to_truth_and_reacts_to_live_pace(trips):
    geom = LaneGeometry(Route.from_points(ROUTE))
    model = EtaModel(geom).fit(trips[1:])
    assert model.n_trips == 10  # trips with an observed arrival (the silent one still lends its segments)
    assert set(model.hyperparameters) == {"route_sd", "route_time_s", "segment_sd", "segment_time_s", "clock_sd",
                                          "clock_time_s", "trip_sd", "noise_sd"}
    m = match_trip(geom, trips[0])
    errs = []
    for c in range(m.dep_idx + 5, m.arr_idx, 7):
        f = model.predict_matched(m.trip.t[: c + 1], m.s[: c + 1], m.start_idx)
        assert 0 <= f.p10_s <= f.p50_s <= f.p90_s
        truth = m.trip.t[m.arr_idx] - m.trip.t[c]
        errs.append(abs(f.p50_s - truth) / max(truth, 60))
    assert np.median(errs) < 0.15
    # same position, but the live trip took twice as long since its departure: its own segments raise
    # the trip effect, so a later ETA
    c = int(np.searchsorted(m.s, 3000))
    t_slow = m.trip.t[: c + 1].copy()
    k = m.start_idx
    t_slow[k:] = t_slow[k] + 2 * (t_slow[k:] - t_slow[k])
    fast = model.predict_matched(m.trip.t[: c + 1], m.s[: c + 1], m.start_idx)
    slow = model.predict_matched(t_slow, m.s[: c + 1], m.start_idx)
    assert slow.p50_s > fast.p50_s * 1.3
    # predict() from raw fixes agrees with the matched kernel
    assert model.predict(trips[0].head(c + 1)).p50_s == pytest.approx(fast.p50_s)


def test_segment_profile_reflects_known_speeds(trips):
    model = EtaModel(LaneGeometry(Route.from_points(ROUTE))).fit(trips)
    edges, med = model.segment_profile(6)
    speed = np.diff(edges) / med
    # 4 m/s (with a stop) in the first km, 9 m/s on the fast road between 2 and 3.5 km
    assert speed[0] < 5 and speed[2] > 7
    assert speed[2] > 1.5 * speed[0]


def test_model_validation_and_unfitted_errors():
    geom = LaneGeometry(Route.from_points(ROUTE))
    with pytest.raises(ValueError, match="segment_m"):
        EtaModel(geom, segment_m=0)
    with pytest.raises(DataError, match="not fitted"):
        EtaModel(geom).predict_matched(np.array([0.0, 1.0]), np.array([0.0, 10.0]))
    with pytest.raises(ValueError, match="shorter than the route"):
        LaneGeometry(Route.from_points(ROUTE), origin_radius_m=4000, dest_radius_m=3000)


# ------------------------------------------------------------------------------------------ backtest
def test_backtest_beats_naive_counts_exclusions_and_is_seeded(trips):
    r = backtest(trips, seed=7, cuts_per_trip=10)
    assert r.n_trips == 11 and r.n_excluded_trips == 1 and r.excluded == {"T004": "tracker_silent"}
    assert r.n_cuts == 110 and r.n_start_unobserved == 1
    assert r.naive_mae_min == min(r.naive_since_departure_mae_min, r.naive_median_speed_mae_min)
    assert r.model_mae_min < 0.8 * r.naive_mae_min
    assert 0.7 <= r.p90_coverage <= 1.0
    d = r.to_dict()
    assert set(d) >= {"n_trips", "n_cuts", "model", "naive"}
    assert set(d["model"]) >= {"mae_min", "p90_coverage"} and "mae_min" in d["naive"]
    again = backtest(trips, seed=7, cuts_per_trip=10)
    np.testing.assert_array_equal(again.cuts, r.cuts)
    other = backtest(trips, seed=8, cuts_per_trip=10)
    assert not np.array_equal(other.cuts[:, 0], r.cuts[:, 0])
    # several seeds at the cost of one fit per fold: the same cuts and forecasts as one seed at a time
    many = backtest_seeds(trips, seeds=(7, 8), cuts_per_trip=10)
    np.testing.assert_array_equal(many[0].cuts, r.cuts)
    np.testing.assert_array_equal(many[1].cuts, other.cuts)


def test_backtest_needs_two_complete_trips(trips):
    with pytest.raises(DataError, match="at least 2 trips"):
        backtest(trips[:1])
    silent = generate_trips(ROUTE, n_trips=3, seed=2, speeds_mps=SPEEDS,
                            silent_after_m={0: 2000.0, 1: 2000.0})
    with pytest.raises(DataError, match="found 1"):
        backtest(silent, route=Route.from_points(ROUTE))


# ------------------------------------------------------------------------------------------ real data
@pytest.mark.data
def test_liverpool_file_loads_with_its_columns():
    if not LIVERPOOL.is_file():
        require_or_skip(f"{LIVERPOOL} not found (set SUPPLYNET_DATA_DIR)", "data")
    trips = load_trips(LIVERPOOL)
    assert len(trips) == 16 and sum(t.n for t in trips) == 1533
    assert {t.lane for t in trips} == {"14"}
    assert all(np.all(np.diff(t.t) > 0) for t in trips)


@pytest.mark.data
def test_gpx_304_journey_loads():
    if not GPX_304.is_file():
        require_or_skip(f"{GPX_304} not found (set SUPPLYNET_DATA_DIR)", "data")
    (trip,) = load_trips(GPX_304)
    assert trip.n == 2144 and 60 * 60 < trip.duration_s < 90 * 60


@pytest.mark.data
@pytest.mark.slow
def test_liverpool_backtest_beats_the_stronger_naive():
    if not LIVERPOOL.is_file():
        require_or_skip(f"{LIVERPOOL} not found (set SUPPLYNET_DATA_DIR)", "data")
    rs = backtest_seeds(load_trips(LIVERPOOL), seeds=range(5), cuts_per_trip=20)
    r = rs[0]
    # 10 trips reach Petherick Road; 2 trackers fall silent mid-route, 4 trips run past the data's end
    assert r.n_trips == 10 and r.n_excluded_trips == 6
    assert sorted(r.excluded.values()).count("tracker_silent") == 2
    # the default (time-of-day segment) model over seeds 0-4, as bench/eta.py states it: the claim is
    # 42.5% below the naive (target 40%); the guard is the target, 2.5 points under the claim. No
    # seed falls under 33% (seed range 36.7-48.2% when measured). P90 coverage: 0.85-0.95 on the mean
    # over seeds (the claim 0.931; single seeds range 0.915-0.96)
    model = np.mean([x.model_mae_min for x in rs])
    naive = np.mean([x.naive_mae_min for x in rs])
    assert 1 - model / naive >= 0.40, (model, naive)
    assert min(x.mae_reduction for x in rs) >= 0.33, [x.mae_reduction for x in rs]
    assert 0.85 <= np.mean([x.p90_coverage for x in rs]) <= 0.95


# ------------------------------------------------------------------------------------------ recency, calibration
def _renamed(trips: list[Trip], prefix: str) -> list[Trip]:
    return [Trip(f"{prefix}{tr.trip_id}", tr.t, tr.lat, tr.lon, tr.vehicle_id, tr.lane) for tr in trips]


def test_realtime_follows_a_regime_shift_using_only_traversals_already_seen():
    # 8 trips at normal speed, then (from the 9th departure on) traffic at 60% of that speed
    t0 = 1_767_600_000.0
    normal = _renamed(generate_trips(ROUTE, n_trips=8, seed=4, speeds_mps=SPEEDS, stops=STOPS, pace_cv=0.03,
                                     first_departure=t0, headway_s=900.0), "N")
    slow_speeds = [(a, 0.6 * v) for a, v in SPEEDS]
    # (enough slow trips in a row that the likelihood prefers a lasting traffic state to 7 slow drivers)
    slow = _renamed(generate_trips(ROUTE, n_trips=8, seed=5, speeds_mps=slow_speeds, stops=STOPS, pace_cv=0.03,
                                   first_departure=t0 + 8 * 900.0, headway_s=900.0), "S")
    geom = LaneGeometry(Route.from_points(ROUTE))
    live, train = slow[-1], normal + slow[:-1]
    m = match_trip(geom, live)
    c = m.start_idx + 1  # just after departure: the live trip has not completed a segment yet
    truth = m.trip.t[m.arr_idx] - m.trip.t[c]
    rt = EtaModel(geom, calibrate=False).fit(train)
    flat = EtaModel(geom, realtime=False, calibrate=False).fit(train)
    f_rt = rt.predict_matched(m.trip.t[: c + 1], m.s[: c + 1], m.start_idx)
    f_flat = flat.predict_matched(m.trip.t[: c + 1], m.s[: c + 1], m.start_idx)
    # most training trips are normal-speed: the segment baseline alone predicts far too early
    assert f_flat.p50_s < 0.8 * truth and f_flat.n_analogs == 0
    # the slow trips that passed shortly before now carry the forecast
    assert abs(f_rt.p50_s - truth) < 0.1 * truth and f_rt.n_analogs > 0
    # causal: traversals completed after the forecast time are not used, so a model fitted on the same
    # trips moved six hours later forecasts as the one without real-time conditioning
    later = [Trip(tr.trip_id, tr.t + 6 * 3600.0, tr.lat, tr.lon) for tr in train]
    fa = EtaModel(geom, calibrate=False).fit(later).predict_matched(m.trip.t[: c + 1], m.s[: c + 1], m.start_idx)
    fb = EtaModel(geom, realtime=False, calibrate=False).fit(later).predict_matched(
        m.trip.t[: c + 1], m.s[: c + 1], m.start_idx)
    assert (fa.p10_s, fa.p50_s, fa.p90_s) == pytest.approx((fb.p10_s, fb.p50_s, fb.p90_s))


def test_conformal_calibration_moves_the_interval_ends_only():
    # trips with a widely varying pace
    noisy = generate_trips(ROUTE, n_trips=14, seed=6, speeds_mps=SPEEDS, stops=STOPS, pace_cv=0.25)
    route = Route.from_points(ROUTE)
    geom = LaneGeometry(route)
    cal = EtaModel(geom, calibrate=True).fit(noisy)
    raw = EtaModel(geom).fit(noisy)
    assert raw.calibration == (0.0, 0.0)
    c_lo, c_hi = cal.calibration
    assert np.isfinite(c_lo) and np.isfinite(c_hi) and (c_lo, c_hi) != (0.0, 0.0)
    m = match_trip(geom, noisy[0])
    for c in range(m.start_idx + 3, m.arr_idx, 9):
        fc, fr = (x.predict_matched(m.trip.t[: c + 1], m.s[: c + 1], m.start_idx) for x in (cal, raw))
        assert 0 <= fc.p10_s <= fc.p50_s <= fc.p90_s
        assert fc.p50_s == pytest.approx(fr.p50_s)  # calibration moves the ends, not the median
        assert fc.p90_s == pytest.approx(max((fr.p90_s + 60) * np.exp(c_hi) - 60, fr.p50_s))
    # leave-one-trip-out on these very uneven trips the posterior's own interval is too narrow (P90
    # covers about 81%); calibration moves both ends toward their nominal levels and leaves the MAE alone
    r_cal = backtest(noisy, route=route, seed=0, cuts_per_trip=15, model="gp", calibrate=True)
    r_raw = backtest(noisy, route=route, seed=0, cuts_per_trip=15, model="gp")
    assert 0.7 <= r_raw.p90_coverage < r_cal.p90_coverage
    assert abs(r_cal.p90_coverage - 0.9) < abs(r_raw.p90_coverage - 0.9)
    assert abs(r_cal.p10_coverage - 0.1) < abs(r_raw.p10_coverage - 0.1)
    assert r_cal.model_mae_min == pytest.approx(r_raw.model_mae_min)
    # too few trips to calibrate on: left uncalibrated
    assert EtaModel(geom, calibrate=True).fit(noisy[:2]).calibration == (0.0, 0.0)


def test_new_options_are_validated():
    geom = LaneGeometry(Route.from_points(ROUTE))
    with pytest.raises(ValueError, match="max_obs"):
        EtaModel(geom, max_obs=5)
    with pytest.raises(ValueError, match="n_samples"):
        EtaModel(geom, n_samples=10)
    with pytest.raises(ValueError, match="calibration_cuts"):
        EtaModel(geom, calibration_cuts=0)

"""Geometry kernels: haversine, projection onto a route, speed, dwell, geofence, deviation."""

from __future__ import annotations

import numpy as np
import pytest

from supplynet.sense.eta.geo import (
    EARTH_RADIUS_M,
    Geofence,
    Route,
    detect_deviations,
    detect_dwells,
    geofence_events,
    haversine_m,
    path_length_m,
    speeds_mps,
)

K = np.pi / 180 * EARTH_RADIUS_M  # metres per degree of latitude
LAT0, LON0 = 53.40, -2.98


def east(m: float) -> float:
    return LON0 + m / (K * np.cos(np.radians(LAT0)))


def north(m: float) -> float:
    return LAT0 + m / K


def test_haversine_one_degree_of_latitude_and_symmetry():
    assert haversine_m(0, 0, 1, 0) == pytest.approx(K, rel=1e-9)
    d1 = haversine_m(53.4075, -2.9833, 53.4621, -2.8951)
    d2 = haversine_m(53.4621, -2.8951, 53.4075, -2.9833)
    assert d1 == pytest.approx(d2) and 8300 < d1 < 8500
    assert haversine_m(10, 20, 10, 20) == 0


def test_projection_gives_distance_along_and_cross_track():
    # L-shaped route: 1 km east, then 1 km north
    route = Route.from_points([(LAT0, LON0), (LAT0, east(1000)), (north(1000), east(1000))])
    assert route.length_m == pytest.approx(2000, rel=2e-3)
    # a fix 30 m north of the first leg at 400 m, and one 20 m east of the second leg at 1600 m
    p = route.project([north(30), north(600)], [east(400), east(1020)])
    assert p.s_m[0] == pytest.approx(400, abs=3)
    assert p.cross_track_m[0] == pytest.approx(30, abs=1)
    assert p.s_m[1] == pytest.approx(1600, abs=3)
    assert p.cross_track_m[1] == pytest.approx(20, abs=1)
    assert p.remaining_m[1] == pytest.approx(route.length_m - p.s_m[1])


def test_monotone_projection_keeps_the_return_leg_of_an_out_and_back_route():
    # out 1 km east, 40 m north, back 1 km west on a parallel road
    route = Route.from_points([(LAT0, LON0), (LAT0, east(1000)), (north(40), east(1000)), (north(40), LON0)])
    lat = [LAT0, LAT0, north(20), north(18), north(18)]
    lon = [east(100), east(900), east(1000), east(700), east(300)]
    mono = route.project(lat, lon)
    assert np.all(np.diff(mono.s_m) > 0)
    assert mono.s_m[-1] == pytest.approx(1040 + 700, abs=15)
    free = route.project(lat, lon, monotone=False)  # nearest-leg matching is ambiguous here
    assert free.s_m[-1] < mono.s_m[-1]


def test_speeds_of_a_constant_speed_track():
    t = np.arange(0, 100, 10.0)
    lon = [east(8 * x) for x in t]
    v = speeds_mps(t, np.full(t.size, LAT0), lon)
    assert v[0] == 0
    np.testing.assert_allclose(v[1:], 8.0, rtol=5e-3)
    assert path_length_m(np.full(t.size, LAT0), lon) == pytest.approx(8 * 90, rel=5e-3)


def test_dwell_detection_finds_the_stop_and_its_length():
    rng = np.random.default_rng(3)
    # move 10 m/s for 60 s, stop for 150 s (GPS jitter 3 m), move again for 60 s
    t = np.arange(0, 270, 5.0)
    x = np.where(t < 60, 10 * t, np.where(t < 210, 600, 600 + 10 * (t - 210)))
    x = x + rng.normal(0, 3, t.size)
    lat = np.full(t.size, LAT0)
    lon = np.array([east(v) for v in x])
    dwells = detect_dwells(t, lat, lon, radius_m=30, min_duration_s=60)
    assert len(dwells) == 1
    d = dwells[0]
    assert 140 <= d.duration_s <= 160
    assert haversine_m(d.lat, d.lon, LAT0, east(600)) < 10
    # a track that never stops has no dwell
    assert detect_dwells(t, lat, [east(10 * v) for v in t]) == []


def test_geofence_arrival_and_departure_with_hysteresis():
    fence = Geofence("DC1", LAT0, east(1000), radius_m=100)
    # approach, jitter around the edge while inside (95..110 m: within the exit circle), then leave
    dist = [500, 300, 99, 105, 95, 110, 50, 0, 50, 200, 400]
    t = np.arange(len(dist)) * 10.0
    lon = [east(1000 - d) for d in dist]
    ev = geofence_events(t, np.full(len(dist), LAT0), lon, [fence])
    assert [(e.kind, e.index) for e in ev] == [("arrival", 2), ("departure", 9)]
    with pytest.raises(ValueError, match="radius_m"):
        Geofence("X", 0, 0, radius_m=0)


def test_deviation_needs_consecutive_fixes_beyond_threshold():
    xt = np.array([5, 8, 300, 6, 5, 150, 220, 260, 180, 10, 4.0])
    t = np.arange(xt.size) * 30.0
    devs = detect_deviations(t, xt, threshold_m=100, min_fixes=2)
    assert len(devs) == 1
    assert (devs[0].first, devs[0].last, devs[0].max_m) == (5, 8, 260)


def test_route_validation_names_the_problem():
    with pytest.raises(ValueError, match="at least 2 vertices"):
        Route.from_points([(LAT0, LON0)])
    with pytest.raises(ValueError, match="zero length"):
        Route.from_points([(LAT0, LON0), (LAT0, LON0)])
    with pytest.raises(ValueError, match="lat must lie"):
        Route.from_points([(95, 0), (0, 0)])
    with pytest.raises(ValueError, match="sorted"):
        detect_dwells([10, 0], [0, 0], [0, 0])

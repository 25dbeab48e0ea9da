"""The demo's jam: on the tracked store lane where a late load weighs most against what a load costs to
send on it, catching a load the store needs; the reference run faces the same rule."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from supplynet.fleet._setup import JAM_NEEDED_SHARE, _sales_per_cost, schedule_jam
from supplynet.model import example_path, load_network

START = datetime(2026, 1, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def realistic():
    return load_network(example_path("realistic"))


def _world(net):
    jams: list = []
    by_lane = defaultdict(list)
    for a in net.assets:
        if a.kind in ("truck", "reefer"):
            by_lane[getattr(a, "lane", None) or ""].append(a.id)
    return SimpleNamespace(trucks_by_lane=by_lane, jams=jams,
                           jam=lambda lane, **kw: jams.append((lane, kw)))


def test_the_jam_goes_where_a_late_load_weighs_most_against_its_transport(realistic):
    world = _world(realistic)
    said = schedule_jam(realistic, world, START, 21, 20.0)
    [(lane, kw)] = world.jams
    ln = realistic.lane(lane)
    assert realistic.site(ln.destination).kind == "store"
    assert said == f"{lane} for 20 h from day 7"
    assert kw == {"at": START + timedelta(days=7), "hours": 20.0, "tracked": True, "needed_share": JAM_NEEDED_SHARE}
    store_lanes = [x for x in world.trucks_by_lane if x and realistic.site(realistic.lane(x).destination).kind == "store"]
    assert _sales_per_cost(realistic, lane) == max(_sales_per_cost(realistic, x) for x in store_lanes)
    # the longest haul (the old choice) costs more to expedite than its store loses in a day
    longest = max(store_lanes, key=lambda x: realistic.lane(x).lead_time.mean)
    assert longest != lane and _sales_per_cost(realistic, longest) < _sales_per_cost(realistic, lane)


def test_sales_per_cost_is_the_stores_lost_sales_a_day_over_a_days_load():
    from supplynet.model import Network

    net = Network.model_validate({
        "name": "two-stores", "sites": [
            {"id": "SUP", "kind": "supplier", "location": {"lat": 51.0, "lon": 0.0}},
            {"id": "DC", "kind": "dc", "location": {"lat": 52.0, "lon": 0.0}},
            {"id": "S1", "kind": "store", "location": {"lat": 52.1, "lon": 0.1}}],
        "products": [{"sku": "A", "unit_cost": 1.0, "price": 3.0}, {"sku": "B", "unit_cost": 1.0, "price": 1.5}],
        "lanes": [{"id": "L-SUP", "origin": "SUP", "destination": "DC", "lead_time": 2.0},
                  {"id": "L", "origin": "DC", "destination": "S1", "lead_time": 0.5, "cost_per_unit": 0.1,
                   "fixed_cost_per_shipment": 100.0}],
        "demand": [{"site": "S1", "sku": "A", "mean_per_day": 100.0}, {"site": "S1", "sku": "B", "mean_per_day": 50.0}]})
    # lost sales a day at the margin: 100 x 2 + 50 x 0.5 = 225; a day's load: 100 + 0.1 x 150 = 115
    assert _sales_per_cost(net, "L") == pytest.approx(225.0 / 115.0)


def test_no_jam_without_hours_or_a_tracked_lane(realistic):
    world = _world(realistic)
    assert schedule_jam(realistic, world, START, 21, 0.0) == "" and world.jams == []
    bare = SimpleNamespace(trucks_by_lane={}, jams=[], jam=lambda *a, **k: None)
    assert schedule_jam(realistic, bare, START, 21, 20.0) == ""

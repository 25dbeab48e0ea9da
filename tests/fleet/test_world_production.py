"""The plants' MES follows a production plan: each line makes what the open orders on its plant need
plus what brings finished goods back to the plan's level, at most its rate - not its rate whatever the
demand (a plant that makes 4,000 loaves a day for stores that sell 300 piles bread)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from supplynet.fleet import Fleet
from supplynet.model import example_path, load_network

START = datetime(2026, 1, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def tiny():
    return load_network(example_path("tiny"))


def _fleet(net, seed=2):
    fleet = Fleet(net, seed=seed, start=START, sink=None, cover_days=3)
    fleet.world.produce_to_plan = True  # opt-in (the default plant makes its rate: see World._produce)
    fleet.start()
    return fleet


def _day(fleet):
    for _ in range(24):
        fleet.step()


def test_without_orders_the_plant_holds_its_plan_level(tiny):
    fleet = _fleet(tiny)
    w = fleet.world
    (key, level), = w.plan_level.items()
    assert key == ("PLANT-1", "BREAD-800G") and level == w.stock[key] > 0
    rate = next(b.rate_per_day for b in tiny.boms)
    assert level < rate  # the line could make more than the plan needs: the plan, not the rate, decides
    for _ in range(4):
        _day(fleet)
    assert w.stock[key] == level  # nothing shipped, nothing to make
    assert w.stats.produced == 0


def test_open_orders_are_made_up_to_the_line_rate(tiny):
    fleet = _fleet(tiny)
    w = fleet.world
    key = ("PLANT-1", "BREAD-800G")
    level = w.plan_level[key]
    rate = next(b.rate_per_day for b in tiny.boms)
    lane = next(ln for ln in tiny.lanes if ln.origin == "PLANT-1")
    for c in next(b for b in tiny.boms).components:  # components enough for a week at the rate
        w.stock[("PLANT-1", c.sku)] = 7 * rate * c.quantity
    # an order the plant cannot fill from stock: it ships what it has and owes the rest
    w.place(SimpleNamespace(order_id="PO1", lane_id=lane.id, origin="PLANT-1", site=lane.destination,
                            sku="BREAD-800G", quantity=level + 3 * rate))
    made = []
    for _ in range(5):
        before = w.stats.produced
        _day(fleet)
        made.append(w.stats.produced - before)
    assert made[0] == rate  # a full day's rate while the order is open
    assert all(m <= rate for m in made)
    assert sum(made) == pytest.approx(3 * rate + level)  # the order, then back to the plan's level
    assert w.stock[key] == pytest.approx(level)
    assert not [b for b in w.backlog if b.origin == "PLANT-1"]

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


def _production_order(did: str, qty: float, sku: str = "BREAD-800G", site: str = "PLANT-1") -> dict:
    """An executed production order as the loop enqueues it (decide/record.py's decision body)."""
    body = {"action_id": f"act-{did}", "action": "production_order", "decision_id": did, "kind": "replenish",
            "created_at": "2026-01-05T06:00:00+00:00", "why": "below base stock", "cost": 10.0,
            "detail": {"type": "order", "site": site, "sku": sku, "quantity": qty, "origin": site,
                       "lane_id": f"make:{site}:{sku}", "order_type": "production"}, "event_ids": []}
    return {"action": "production_order", "action_id": f"act-{did}", "body": body, "decision_id": did}


def test_production_orders_are_made_up_to_the_rate_and_closed(tiny):
    """From its first production order a line makes what the orders ask (at most its rate, components
    allowing) at the day's close and the MES closes each order; without orders it keeps pushing its rate."""
    from supplynet.fleet._actions import ActionCarrier

    fleet = Fleet(tiny, seed=2, start=START, sink=None, cover_days=3)
    fleet.start()
    w = fleet.world
    key = ("PLANT-1", "BREAD-800G")
    bom = next(b for b in tiny.boms)
    for c in bom.components:
        w.stock[("PLANT-1", c.sku)] = 7 * bom.rate_per_day * c.quantity
    before = w.stats.produced
    _day(fleet)
    assert w.stats.produced - before == bom.rate_per_day  # no production orders yet: the line's rate
    seen = []
    emit = w._emit
    w._emit = lambda cls, source, **kw: (seen.append((cls.__name__, kw)), emit(cls, source, **kw))[1]
    carrier = ActionCarrier(w, tiny)
    assert carrier.carry_out(_production_order("D1", 30.0))
    assert carrier.carried == {"production_order": 1} and "make 30 BREAD-800G at PLANT-1" in carrier.done[0]
    stock0, before = w.stock[key], w.stats.produced
    _day(fleet)
    made = w.stats.produced - before
    assert made == 30.0
    closed = [kw for name, kw in seen if name == "OrderEvent"]
    assert [(c["order_id"], c["status"], c["order_type"]) for c in closed] == [("PO-D1", "received", "production")]
    prod = [kw for name, kw in seen if name == "Production"]
    assert prod and prod[0]["order_id"] == "PO-D1"
    assert w.stock[key] <= stock0 + 30.0
    # a planned line makes nothing without an order, and never more than its rate
    before = w.stats.produced
    _day(fleet)
    assert w.stats.produced == before
    assert carrier.carry_out(_production_order("D2", 10 * bom.rate_per_day))
    _day(fleet)
    assert w.stats.produced - before == bom.rate_per_day
    # an order for a line the network lacks is refused, named
    assert not carrier.carry_out(_production_order("D3", 5.0, sku="MILK-2L"))
    assert "no such line" in carrier.refused[-1]


class _FailsAtOnce:
    """A machine's wear source that fails at its first reading (then runs fine after its repair)."""

    cycle = 0

    def __init__(self):
        self.failed = False

    def next(self):
        fail, self.failed = not self.failed, True
        return {}, {}, fail

    def reset(self):
        pass


@pytest.mark.parametrize("repair_days", [None, 1.0])
def test_a_failed_machine_is_down_for_the_network_s_repair_time(tiny, repair_days):
    """The world repairs a failure in the asset's ``repair_time_days`` (declared, or the maintenance lead time
    plus two days): the time the twin's prediction takes it to be down."""
    oven = tiny.asset("OVEN-1")
    net = tiny.model_copy(update={"assets": [a.model_copy(update={"repair_days": repair_days}) if a.id == oven.id
                                             else a for a in tiny.assets]})
    import numpy as np

    from supplynet.fleet._world import World

    world = World(net, np.random.default_rng(2), START, cover_days=3, machine_source=lambda i: _FailsAtOnce())
    world.step()
    m = world.machines[oven.id]
    assert m.failures == 1 and m.down_reason == "failure"
    expected = repair_days if repair_days is not None else max(oven.maintenance_lead_time_days, 1.0) + 2.0
    assert (m.down_until - m.next_reading).total_seconds() / 86400.0 == pytest.approx(expected)

"""The live loop on a real SQLite store: decisions follow events, and the log rebuilds the twin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from supplynet.demo import run_demo
from supplynet.model import example_path, load_network
from supplynet.store import open_store
from supplynet.twin import Twin


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("rul-cache")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, cache):
    home = tmp_path_factory.mktemp("demo")
    res = run_demo(cache_dir=cache, network=example_path("tiny"), days=8, seed=5, home=home, data_dir=None, stress_replications=30,
                   stress_horizon=30)
    return home, res


def test_demo_places_orders_and_delivers(demo_run):
    _, res = demo_run
    assert res.orders > 0 and res.delivered > 0
    assert 0.5 < res.fill_rate <= 1.0
    assert res.events > 500
    assert res.by_kind["sale"] > 0 and res.by_kind["position"] > 0
    # every device message went through the gate and was stored
    assert res.gate.get("stored", 0) > 0 and set(res.gate) == {"stored"}
    # every order is a decision; the closing stress test ranks every site
    assert sum(res.decisions.values()) == res.orders
    assert set(res.ranking["site"]) == {"SUP-1", "PLANT-1", "DC-1", "STORE-1", "STORE-2"}
    assert res.ranking["risk_exposure"].max() == pytest.approx(1.0)


def test_rebuild_from_the_log_equals_the_live_twin(demo_run):
    home, res = demo_run
    net = load_network(example_path("tiny"))
    with open_store(f"sqlite:///{home / 'demo.db'}") as store:
        rebuilt = Twin.rebuild(store, net)
        assert rebuilt.state.inventory.keys() == {tuple(k) for k in rebuilt.state.inventory}
        inv = res.inventory.set_index(["site", "sku"])
        for (site, sku), p in rebuilt.state.inventory.items():
            assert inv.loc[(site, sku), "on_hand"] == pytest.approx(p.on_hand)
            assert inv.loc[(site, sku), "position"] == pytest.approx(p.position)
        # snapshot, then rebuild from it: the same state
        rebuilt.save_snapshot(store)
        again = Twin.rebuild(store, net)
        assert again.state.inventory == rebuilt.state.inventory
        assert again.state.shipments == rebuilt.state.shipments


def test_as_of_sees_the_past(demo_run):
    home, _ = demo_run
    net = load_network(example_path("tiny"))
    start = datetime(2026, 1, 5, tzinfo=UTC)
    with open_store(f"sqlite:///{home / 'demo.db'}") as store:
        early = Twin.rebuild(store, net, as_of=start + timedelta(hours=1))
        late = Twin.rebuild(store, net)
    assert early.state.events_applied < late.state.events_applied
    sold_early = sum(p.sold for p in early.state.inventory.values())
    sold_late = sum(p.sold for p in late.state.inventory.values())
    assert sold_early == 0 and sold_late > 0


def test_demo_is_reproducible(tmp_path, cache):
    a = run_demo(cache_dir=cache, network=example_path("tiny"), days=3, seed=9, home=tmp_path / "a", stress_replications=0)
    b = run_demo(cache_dir=cache, network=example_path("tiny"), days=3, seed=9, home=tmp_path / "b", stress_replications=0)
    assert (a.events, a.orders, a.demand, a.fill_rate) == (b.events, b.orders, b.demand, b.fill_rate)


def test_as_of_includes_events_at_that_instant(tmp_path):
    from supplynet.events import Sale

    at = datetime(2026, 2, 1, 12, tzinfo=UTC)
    with open_store(f"sqlite:///{tmp_path / 'x.db'}") as store:
        store.log.append([Sale(source="pos", seq=1, ts=at, site="S", sku="A", quantity=3)])
        assert Twin.rebuild(store, as_of=at).state.position("S", "A").sold == 3
        assert Twin.rebuild(store, as_of=at - timedelta(microseconds=1)).state.position("S", "A").sold == 0

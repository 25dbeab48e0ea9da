"""The engine started from the live twin: events appended to a real SQLite store -> twin -> day 0."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from typer.testing import CliRunner

from supplynet.events import Line, Maintenance, OrderEvent, Sale, ShipmentStatus, StockCount
from supplynet.model import example_path, load_network
from supplynet.sim import run_scenarios
from supplynet.sim.engine import Simulation
from supplynet.sim.live import initial_state_from_twin
from supplynet.sim.network import SimNetwork
from supplynet.store import open_store
from supplynet.twin import Twin

T0 = datetime(2024, 3, 4, 8, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def live_events() -> list:
    ev: list = []
    seq = iter(range(1, 1000))

    def add(cls, hours, **kw):
        ev.append(cls(source="test", seq=next(seq), ts=at(hours), **kw))

    counts = {("DC-1", "BREAD-800G"): 900, ("DC-1", "MILK-2L"): 640, ("STORE-1", "BREAD-800G"): 75,
              ("STORE-1", "MILK-2L"): 52, ("STORE-2", "BREAD-800G"): 110, ("STORE-2", "MILK-2L"): 93,
              ("PLANT-1", "BREAD-800G"): 210, ("PLANT-1", "FLOUR-25KG"): 17}
    for (site, sku), q in counts.items():
        add(StockCount, 0, site=site, sku=sku, quantity=q, method="manual")
    add(Sale, 1, site="DC-1", sku="MILK-2L", quantity=640, unfilled=35)          # DC-1 milk: 0 on hand, 35 backordered
    add(Sale, 1.5, site="STORE-1", sku="BREAD-800G", quantity=20, unfilled=0)
    add(OrderEvent, 2, order_id="PO-MILK", order_type="purchase", status="created", site="DC-1", sku="MILK-2L",
        quantity=400, origin="SUP-1", lane_id="L-SUP-DC")
    add(OrderEvent, 2, order_id="TO-S2", order_type="transfer", status="released", site="STORE-2", sku="BREAD-800G",
        quantity=120, origin="DC-1", lane_id="L-DC-STORE-2")
    # 150 of the milk order leave the supplier, due in 2.5 days; the rest is still open
    add(ShipmentStatus, 3, shipment_id="SH-MILK", status="departed", origin="SUP-1", destination="DC-1",
        lane_id="L-SUP-DC", lines=[Line(sku="MILK-2L", quantity=150, order_id="PO-MILK")], eta=at(3 + 60))
    # bread from the plant, only a promised time (1 day)
    add(ShipmentStatus, 4, shipment_id="SH-BREAD", status="in_transit", origin="PLANT-1", destination="DC-1",
        lane_id="L-PLANT-DC", lines=[Line(sku="BREAD-800G", quantity=200)], promised_at=at(4 + 20))
    # a delivered shipment is stock, not pipeline
    add(ShipmentStatus, 5, shipment_id="SH-OLD", status="delivered", origin="DC-1", destination="STORE-1",
        lines=[Line(sku="BREAD-800G", quantity=30)])
    add(Maintenance, 6, asset_id="OVEN-1", action="work_order_opened", work_order_id="WO-1")
    # after the cut-off used for --at below
    add(StockCount, 30, site="STORE-2", sku="MILK-2L", quantity=5, method="manual")
    return ev


@pytest.fixture()
def store_and_model(tmp_path):
    model = load_network(example_path("tiny"))
    with open_store(tmp_path / "live.db") as store:
        store.log.append(live_events())
        yield store, model


def test_simulation_starts_from_exactly_the_twins_positions(store_and_model):
    store, model = store_and_model
    twin = Twin.rebuild(store, model)
    net = SimNetwork.from_network(model)
    live = initial_state_from_twin(net, twin)
    assert live.at == at(30)
    sim = Simulation(live.network, horizon=20, replications=5, seed=0, scenario=live.scenario())
    checked = 0
    for i, (site, sku) in enumerate(zip([net.sites[s] for s in net.item_site], net.item_sku, strict=True)):
        if net.source[i]:
            continue
        p = twin.state.position(site, sku)
        if (site, sku) not in twin.state.inventory:
            continue
        np.testing.assert_allclose(sim.on_hand[:, i], p.on_hand, err_msg=f"{site}/{sku} on hand")
        np.testing.assert_allclose(sim.backlog[:, i], p.backorders, err_msg=f"{site}/{sku} backorders")
        np.testing.assert_allclose(sim.in_transit[:, i], p.in_transit, err_msg=f"{site}/{sku} in transit")
        np.testing.assert_allclose(sim.on_order[:, i], p.in_transit + p.on_order, err_msg=f"{site}/{sku} pipeline")
        checked += 1
    assert checked == 8
    dc_milk = net.item_names.index("DC-1/MILK-2L")
    assert sim.backlog[0, dc_milk] == 35 and sim.on_hand[0, dc_milk] == 0
    # the twin's open quantities: 400 - 150 shipped of the milk PO, the whole transfer to STORE-2
    assert twin.state.position("DC-1", "MILK-2L").on_order == 250
    assert sim.position[0, dc_milk] == pytest.approx(0 + 150 + 250 - 35)


def test_shipments_arrive_on_their_current_eta(store_and_model):
    store, model = store_and_model
    twin = Twin.rebuild(store, model)
    live = initial_state_from_twin(SimNetwork.from_network(model), twin, at=at(6))
    sim = Simulation(live.network, horizon=10, replications=3, seed=0)
    arr = sim.scheduled_arrivals(6)
    names = live.network.item_names
    milk, bread = names.index("DC-1/MILK-2L"), names.index("DC-1/BREAD-800G")
    # eta 63 h after T0 is 57 h after `at`: the start of day 3; bread promised 24 h after T0: day 1
    assert arr[0, milk, 3] == 150 and arr[0, milk, [0, 1, 2, 4, 5]].sum() == 0
    assert arr[0, bread, 1] == 200 and arr[0, bread, [0, 2, 3, 4, 5]].sum() == 0
    sim.run(until=3)
    assert np.all(sim.scheduled_arrivals(1)[:, milk, 0] >= 150)  # due at the start of today (day 3)
    # the shipment due today is all that is on its way to DC-1's milk (the rest of the order came earlier)
    assert np.all(sim.in_transit[:, milk] == 150) and np.all(sim.on_order[:, milk] == 150)
    on_hand = sim.on_hand[:, milk].copy()
    sim.step()
    # it arrived, once: nothing is owed or scheduled any more and no new order went out (so nothing
    # new is on its way); the stock rose by the 150 less what left for the stores that day
    assert np.all(sim.in_transit[:, milk] == 0) and np.all(sim.on_order[:, milk] == 0)
    assert np.all(sim.scheduled_arrivals(None)[:, milk, :] == 0)
    rise = sim.on_hand[:, milk] - on_hand
    assert np.all((rise > 0) & (rise <= 150)), rise


def test_a_shipment_without_an_eta_arrives_after_the_given_lead_time_not_its_padded_promise(store_and_model):
    """The bread left at hour 4 with only a promise (hour 24): given the lane's learned mean lead time (1.5 days,
    what the loop measured), it arrives at departure plus that (hour 40: day 2 from hour 6), not at the promise
    (day 1); a shipment with an ETA estimate keeps its ETA, and a lane without a given mean keeps the promise."""
    store, model = store_and_model
    twin = Twin.rebuild(store, model)
    net = SimNetwork.from_network(model)
    live = initial_state_from_twin(net, twin, at=at(6), lead_times={"L-PLANT-DC": 1.5, "L-SUP-DC": 9.0})
    arr = Simulation(live.network, horizon=10, replications=2, seed=0).scheduled_arrivals(6)
    names = live.network.item_names
    milk, bread = names.index("DC-1/MILK-2L"), names.index("DC-1/BREAD-800G")
    assert arr[0, bread, 2] == 200 and arr[0, bread, [0, 1, 3, 4, 5]].sum() == 0
    assert arr[0, milk, 3] == 150  # its ETA (hour 63), not departure + 9 days
    other = initial_state_from_twin(net, twin, at=at(6), lead_times={"L-SUP-DC": 9.0})
    assert Simulation(other.network, horizon=10, replications=2, seed=0).scheduled_arrivals(6)[0, bread, 1] == 200


def test_machine_down_stops_its_production_line_for_the_repair_time(store_and_model):
    store, model = store_and_model
    live = initial_state_from_twin(SimNetwork.from_network(model), Twin.rebuild(store, model))
    assert live.down == ["OVEN-1"]
    (ev,) = live.health
    assert ev.type == "lane_closure" and ev.target.lane == ("bom:PLANT-1:BREAD-800G",)
    assert ev.severity == 1.0 and ev.duration.value == 2.0  # OVEN-1 maintenance_lead_time_days
    net = live.network
    bread = net.item_names.index("PLANT-1/BREAD-800G")
    down = Simulation(net, horizon=4, replications=4, seed=1, scenario=live.scenario()).run(until=2)
    up = Simulation(net, horizon=4, replications=4, seed=1).run(until=2)
    ev_arrays = live.scenario().compile(net, down.keys, 4)
    assert np.all(ev_arrays.start == 0) and np.all(ev_arrays.end == 2)
    # the line is stopped on days 0-1: its output only arrives after the repair, the inputs wait staged
    assert np.all(down.on_hand[:, bread] + 1 < up.on_hand[:, bread])
    flour_arc = int(np.nonzero(net.arc_dst == bread)[0][0])
    assert np.all(down.staged[:, flour_arc] > 0) and np.all(up.staged[:, flour_arc] < 1e-9)
    assert np.all(down.run().on_hand[:, bread] >= up.run().on_hand[:, bread] - 1e-9)


def test_rebuild_as_of_uses_only_earlier_events(store_and_model):
    store, model = store_and_model
    early = Twin.rebuild(store, model, as_of=at(10))
    late = Twin.rebuild(store, model)
    net = SimNetwork.from_network(model)
    i = net.item_names.index("STORE-2/MILK-2L")
    assert initial_state_from_twin(net, early).network.init_on_hand[i] == 93
    assert initial_state_from_twin(net, late).network.init_on_hand[i] == 5


def stress_test_from_twin(model, twin, **kw):
    """The stress test from the live state, as the demo runs it: site KPIs and the ranking."""
    report = run_scenarios(model, kw.pop("scenarios"), twin=twin, **kw)
    return report.site_kpis(), report.ranked_sites()


def test_stress_test_from_twin_ranks_sites_by_risk_exposure(store_and_model):
    store, model = store_and_model
    twin = Twin.rebuild(store, model)
    kpis, ranking = stress_test_from_twin(model, twin, scenarios=["supplier_fire", "demand_surge"],
                                          replications=16, horizon=40, seed=2)
    assert {"scenario", "site", "metric", "p5", "p50", "p95"} <= set(kpis.columns)
    assert set(kpis["scenario"]) == {"baseline", "supplier_fire", "demand_surge"}
    assert {"site", "tts_days", "ttr_days", "flagged", "risk_exposure"} <= set(ranking.columns)
    assert list(ranking["rank"]) == list(range(1, len(ranking) + 1))
    assert ranking["risk_exposure"].is_monotonic_decreasing
    assert ranking["risk_exposure"].iloc[0] == pytest.approx(1.0)
    assert ranking["flagged"].dtype == bool
    assert (ranking.loc[ranking["flagged"], "tts_days"] < ranking.loc[ranking["flagged"], "ttr_days"] + 1e-9).all() \
        or ranking["flagged"].sum() == 0
    # same seed, same answer (common random numbers)
    _, again = stress_test_from_twin(model, twin, scenarios=["supplier_fire", "demand_surge"],
                                     replications=16, horizon=40, seed=2)
    assert again[["site", "risk_exposure"]].equals(ranking[["site", "risk_exposure"]])


def test_cli_simulate_from_live(store_and_model, tmp_path):
    from supplynet.commands.simulate import app

    store, _ = store_and_model
    out = tmp_path / "report"
    res = CliRunner().invoke(app, ["--network", str(example_path("tiny")), "--from-live", "--store",
                                   f"sqlite:///{tmp_path / 'live.db'}", "--at", at(10).isoformat(),
                                   "--scenario", "supplier_fire", "--replications", "8", "--horizon", "20",
                                   "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["live"]["at"] == at(10).isoformat() and doc["live"]["down"] == ["OVEN-1"]
    assert doc["ranking"] and {"site", "tts_days", "ttr_days", "flagged", "risk_exposure"} <= set(doc["ranking"][0])
    assert (out / "report.json").exists()


def test_cli_simulate_from_live_prints_tables_without_json(store_and_model, tmp_path):
    from supplynet.commands.simulate import app

    res = CliRunner().invoke(app, ["--network", str(example_path("tiny")), "--from-live", "--store",
                                   f"sqlite:///{tmp_path / 'live.db'}", "--at", at(10).isoformat(),
                                   "--scenario", "supplier_fire", "--replications", "6", "--horizon", "15",
                                   "--out", str(tmp_path / "rep")], terminal_width=80)
    assert res.exit_code == 0, res.output
    assert "total cost (GBP)" in res.stdout and "Risk exposure from the live state" in res.stdout
    assert "{" not in res.stdout and max(len(line) for line in res.stdout.splitlines()) <= 80

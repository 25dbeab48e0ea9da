"""Alternatives to a late load, costed with the what-if engine on common random numbers, and chosen
by the objective; every option weighed is recorded in the decision."""

from __future__ import annotations

import numpy as np
import pytest

from supplynet.decide.autonomy import AutonomyPolicy, Guardrails, KindPolicy
from supplynet.decide.decision import OrderAction, RerouteAction, submit
from supplynet.decide.impact import assess_impact
from supplynet.decide.reroute import alternatives, choose, cost_alternatives, plan_response
from supplynet.decide.whatif import WhatIfOutcome
from supplynet.errors import DecisionError
from supplynet.loop import sim_whatif
from supplynet.store import open_store

from ._response_net import T0, declared, network, twin_with_late_load


@pytest.fixture(scope="module")
def case():
    net = network()
    twin = twin_with_late_load(net)
    d = declared(48.0)
    imp = assess_impact(net, twin.state, shipment_id="SH1", destination="PLANT", lines=list(d.lines), now=T0,
                        arrival=d.eta_p50, on_time=d.promised_at)
    alts = alternatives(net, twin.state, d, imp, now=T0)
    costed = cost_alternatives(net, twin.state, d, imp, alts, now=T0, simulate=sim_whatif, replications=48, seed=5)
    return net, twin, d, imp, alts, costed


def test_alternatives_of_every_kind(case):
    _, _, _, _, alts, _ = case
    kinds = {a.kind for a in alts}
    assert {"wait", "expedite", "alt_supplier"} <= kinds
    sup = next(a for a in alts if a.kind == "alt_supplier")
    assert sup.origin == "SUP-B" and sup.path == ("L-B-PLANT",)
    assert sup.arrival_days == pytest.approx(3.0)
    assert sup.action_cost == pytest.approx(0.6 * sup.quantity + 300.0)
    air = next(a for a in alts if a.label == "expedite:air:L-A-PLANT")
    assert air.arrival_days == pytest.approx(2 * 0.2 + 0.25)
    assert air.action_cost == pytest.approx(8.0 * (0.5 * air.quantity + 400.0))
    # the at-risk quantity covers the gap (need 80/day over the 2 days late, +20%), not the whole load
    assert 0 < air.quantity <= 600 and air.quantity == pytest.approx(192.0)


def test_common_random_numbers_make_differences_paired(case):
    net, twin, d, imp, alts, _ = case
    again = cost_alternatives(net, twin.state, d, imp, alts, now=T0, simulate=sim_whatif, replications=48, seed=5)
    first = cost_alternatives(net, twin.state, d, imp, alts, now=T0, simulate=sim_whatif, replications=48, seed=5)
    assert [o.sim_cost for o in again] == [o.sim_cost for o in first]  # seeded: reproducible
    wait, air = first[0], next(o for o in first if o.alt.label == "expedite:air:L-A-PLANT")
    assert wait.diff_vs_wait == 0.0
    # stock arrives 1.85 days sooner: less shortage on the same demand, replication by replication
    assert air.shortage_cost < wait.shortage_cost
    assert air.fill_rate > wait.fill_rate


def test_the_simulation_is_handed_in(case):
    """decide costs the alternatives with whatever Simulate it is given: a fake sees the affected part of the
    network, one call per arrival point of the late load (its forecast P10, P50 and P90), each with every
    alternative on the same seed over that point's own window (until the load would arrive and reach the
    customers); the options report the outcomes weighted 0.3/0.4/0.3."""
    net, twin, d, imp, alts, _ = case
    calls = []

    def fake(network, starts, *, horizon, replications, seed):
        calls.append(dict(network=network, starts=list(starts), horizon=horizon, replications=replications, seed=seed))
        p = len(calls) - 1
        return [WhatIfOutcome(holding_cost=np.full(4, 10.0 * k + 100.0 * p), shortage_cost=np.arange(4.0) + k,
                              revenue_at_risk=np.zeros(4), fill_rate=np.full(4, 0.5)) for k in range(len(starts))]

    costed = cost_alternatives(net, twin.state, d, imp, alts, now=T0, simulate=fake, replications=4, seed=9)
    moves = [bool(a.detail.get("moves_load")) for a in alts]
    assert len(calls) == 3 and all((c["replications"], c["seed"]) == (4, 9) for c in calls)
    assert all(len(c["starts"]) == len(alts) for c in calls)
    sub = calls[0]["network"]
    assert sub.periods_per_day == 24  # hourly: hours sooner are not lost in a day's rounding
    assert ("PLANT", alts[1].lines[0][0]) in sub.items and sub.frozen  # the destination does not reorder
    assert [sub.items[i][0] for i in sub.frozen] == ["PLANT"] * len(sub.frozen)
    # each window: until the late load's arrival at that point and the days its goods take to the customers
    p10, p90 = ((t - T0).total_seconds() / 86400.0 for t in (d.eta_p10, d.eta_p90))
    horizons = [c["horizon"] for c in calls]
    assert horizons == sorted(horizons) and horizons[0] > p10 and horizons[2] > p90
    assert horizons[2] - p90 == pytest.approx(horizons[0] - p10)  # the same way downstream after each
    expected = [sum(w * (11.0 * k + 100.0 * p + 1.5) for p, w in enumerate((0.3, 0.4, 0.3))) for k in range(len(alts))]
    assert [o.sim_cost for o in costed] == [pytest.approx(e) for e in expected]
    assert costed[0].diff_vs_wait == 0.0
    assert costed[1].diff_vs_wait == pytest.approx(expected[1] - expected[0] + alts[1].action_cost)
    # waiting: the late load is on its way at the forecast's P10, P50 and P90, one point per call
    days = []
    for c in calls:
        rows = [s for s in c["starts"][0].in_transit if s[0][0] == "PLANT" and s[0][1] == d.lines[0][0]
                and s[1] == pytest.approx(float(d.lines[0][1]))]
        assert len(rows) == 1
        days.append(rows[0][2])
    assert days == sorted(days) and days[0] < days[2]
    assert days[1] == pytest.approx((imp.arrival - T0).total_seconds() / 86400.0)
    # the take-over moves the load itself: it arrives when the option says, at every point
    for k, m in enumerate(moves):
        if m:
            for c in calls:
                loads = [s for s in c["starts"][k].in_transit if s[0][0] == "PLANT" and s[0][1] == d.lines[0][0]
                         and s[1] == pytest.approx(float(d.lines[0][1]))]
                assert [s[2] for s in loads] == [pytest.approx(alts[k].arrival_days)]
    with pytest.raises(DecisionError, match="returned 1 outcomes for"):
        cost_alternatives(net, twin.state, d, imp, alts, now=T0, replications=4,
                          simulate=lambda network, starts, **kw: fake(network, starts[:1], **kw))


def test_lowest_cost_picks_a_cheaper_option_and_fastest_a_faster_one(case):
    _, _, _, _, _, costed = case
    cheap, why_cheap = choose(costed, "lowest_cost")
    fast, why_fast = choose(costed, "fastest")
    assert cheap.total_cost == min(o.total_cost for o in costed)
    assert fast.alt.arrival_days == min(o.alt.arrival_days for o in costed)
    assert cheap.alt.label != fast.alt.label
    assert cheap.total_cost < fast.total_cost and fast.alt.arrival_days < cheap.alt.arrival_days
    assert "lowest_cost" in why_cheap and "fastest" in why_fast
    bal, _ = choose(costed, "balanced")
    assert bal in costed
    with pytest.raises(DecisionError, match="unknown objective"):
        choose(costed, "cheapest")


def test_objective_set_per_network_or_per_decision(case):
    _, twin, d, imp, _, _ = case
    fast_net = network(reroute_objective="fastest")
    r = plan_response(fast_net, twin.state, d, imp, now=T0, simulate=sim_whatif, replications=24)
    assert r.objective == "fastest" and r.chosen.alt.arrival_days == min(o.alt.arrival_days for o in r.options)
    r2 = plan_response(fast_net, twin.state, d, imp, now=T0, simulate=sim_whatif, replications=24, objective="lowest_cost")
    assert r2.objective == "lowest_cost" and r2.chosen.total_cost == min(o.total_cost for o in r2.options)


def test_the_decision_records_everything_weighed(case, tmp_path):
    net, twin, d, imp, alts, _ = case
    r = plan_response(net, twin.state, d, imp, now=T0, simulate=sim_whatif, replications=24, objective="fastest")
    dec = r.to_decision(T0)
    assert dec.kind == "reroute" and dec.chosen == r.chosen.alt.label
    assert [o.label for o in dec.options] == [a.label for a in alts]
    assert all(o.time_days is not None and o.detail["kind"] for o in dec.options)
    assert dec.trigger_event_ids[:3] == ["gps-1:10", "gps-1:11", "gps-1:12"]
    assert dec.model_output["delay"]["probability_late"] == pytest.approx(0.97)
    assert dec.model_output["impact"]["starved_runs"][0]["output_sku"] == "PROD"
    assert dec.model_output["sim"]["common_random_numbers"] is True
    assert dec.cost == pytest.approx(r.chosen.alt.action_cost)
    assert isinstance(dec.action, RerouteAction | OrderAction)
    policy = AutonomyPolicy(costly_action_cost=1e9, kinds={"reroute": KindPolicy(
        level="auto", guardrails=Guardrails(max_spend_per_decision=1e6))})
    with open_store(tmp_path / "s.db") as store:
        sub = submit(store, dec, policy, now=T0)
        assert sub.decision.status == "executed" and sub.events
        assert [o.label for o in sub.decision.options] == [a.label for a in alts]
        tight = AutonomyPolicy(kinds={"reroute": KindPolicy(level="auto", guardrails=Guardrails(
            max_spend_per_decision=1.0))})
        d2 = dec.model_copy(update={"idempotency_key": "other"})
        prop = submit(store, d2, tight, now=T0).decision
        assert prop.status == "proposed" and "max_spend_per_decision" in prop.autonomy["reason"]


def test_shipment_watch_from_pings_to_a_recorded_decision(tmp_path):
    from datetime import timedelta

    from supplynet.decide.watch import ShipmentWatch
    from supplynet.events import Line, Position, ShipmentStatus
    from supplynet.sense.eta.delay import lane_route

    net = network()
    twin = twin_with_late_load(net)
    with open_store(tmp_path / "w.db") as store:
        watch = ShipmentWatch(net, simulate=sim_whatif, store=store, replications=16, objective="fastest")
        dep = T0 - timedelta(days=1)
        st = ShipmentStatus(source="wms-SUP-A", seq=1, ts=dep, shipment_id="SH1", status="departed",
                            lane_id="L-A-PLANT", origin="SUP-A", destination="PLANT",
                            lines=(Line(sku="COMP", quantity=600.0),), promised_at=T0 + timedelta(hours=12))
        watch.observe(st, twin)
        route = lane_route(net, "L-A-PLANT")
        decisions = []
        for k in range(200):
            at = dep + timedelta(minutes=15 * k)
            f = min(k * 15 / (2 * 1440), 0.3)  # on pace, then stuck at 30% of the way
            la, lo = route.point_at(f * route.length_m)
            e = Position(source="gps-1", seq=k + 1, ts=at, asset_id="TRK", shipment_id="SH1", lat=float(la),
                         lon=float(lo))
            twin.apply(e)
            watch.observe(e, twin)
            decisions += watch.decide(twin, at)
            if decisions:
                break
        assert len(decisions) == 1 and watch.stats.delays == 1
        d = decisions[0]
        assert d.id and d.status in ("executed", "proposed")
        assert "gps-1" in d.independent_sources() and "wms-SUP-A" in d.independent_sources()
        assert d.chosen == min(d.options, key=lambda o: (o.time_days, o.cost)).label
        # promised 36 h after departure on a 2-day lane: late from the first pings, declared on the third
        assert k == 2 and watch.eta("SH1").progress == pytest.approx(f, abs=0.005)
        assert watch.decide(twin, at) == []  # nothing new declared since


def test_a_newer_answer_supersedes_the_waiting_proposal(tmp_path):
    from datetime import timedelta

    from supplynet.decide import decision as decisions_mod
    from supplynet.decide.watch import ShipmentWatch
    from supplynet.events import Line, Position, ShipmentStatus
    from supplynet.sense.eta.delay import lane_route

    net = network()
    twin = twin_with_late_load(net)
    propose = AutonomyPolicy(kinds={"reroute": KindPolicy(level="propose")})
    with open_store(tmp_path / "s.db") as store:
        watch = ShipmentWatch(net, simulate=sim_whatif, store=store, policy=propose, replications=8, objective="fastest")
        dep = T0 - timedelta(days=1)
        watch.observe(ShipmentStatus(source="wms-SUP-A", seq=1, ts=dep, shipment_id="SH1", status="departed",
                                     lane_id="L-A-PLANT", origin="SUP-A", destination="PLANT",
                                     lines=(Line(sku="COMP", quantity=600.0),), promised_at=T0 + timedelta(hours=12)),
                      twin)
        route = lane_route(net, "L-A-PLANT")
        made = []
        for k in range(400):  # stuck at 30% of the way for days: the forecast keeps slipping
            at = dep + timedelta(minutes=15 * k)
            la, lo = route.point_at(min(k * 15 / (2 * 1440), 0.3) * route.length_m)
            e = Position(source="gps-1", seq=k + 1, ts=at, asset_id="TRK", shipment_id="SH1", lat=float(la),
                         lon=float(lo))
            twin.apply(e)
            watch.observe(e, twin)
            if k % 48 == 47:  # decide twice a day: several declarations wait in one call
                made += watch.decide(twin, at)
        assert watch.stats.delays > len(made) >= 2  # escalations answered, one decision per call at most
        stored = [decisions_mod.get(store, d.id) for d in made]
        assert [d.status for d in stored] == ["rejected"] * (len(made) - 1) + ["proposed"]
        for old, new in zip(stored, stored[1:], strict=False):
            assert new.id in old.rejection["reason"] and old.rejection["by"] == "supplynet"
        assert watch.stats.superseded == len(made) - 1


def test_the_late_load_itself_can_be_taken_over(case):
    """The take-over moves the late load (all of it) where it stands: priced on the part of the trip left
    (60% at progress 0.4), sooner than waiting; simulated without the load arriving twice."""
    net, twin, d, imp, alts, costed = case
    take = next(a for a in alts if a.label.startswith("expedite:takeover:"))
    assert take.detail["moves_load"] is True and take.lines == (("COMP", 600.0),)
    assert take.arrival_days == pytest.approx(2 * 0.6 * 0.6 + 2 / 24)
    # priced by the network's one cost model: (1 + expedite_premium) x the lane's transport, for what is left
    assert take.action_cost == pytest.approx(0.6 * net.cost_model.expedite("L-A-PLANT", 600))
    assert take.action_cost == pytest.approx((1 + net.costs.expedite_premium) * 0.6 * (0.5 * 600 + 400.0))
    wait = next(a for a in alts if a.kind == "wait")
    assert take.arrival_days < wait.arrival_days
    by = {c.alt.label: c for c in costed}
    # the same 600 units, sooner: fewer shortages than waiting, and no more stock than waiting brings
    assert by[take.label].shortage_cost < by["wait"].shortage_cost


def test_the_action_says_whether_it_moves_the_late_load_or_sends_goods_ahead(case):
    """The world carries out an express truck from the origin as a new shipment (the late load still comes)
    and the take-over as the late load moving: the action says which."""
    from supplynet.decide.reroute import Response

    _, _, d, imp, _, costed = case
    by = {c.alt.label: c for c in costed}
    take = next(c for c in costed if c.alt.label.startswith("expedite:takeover:"))
    ahead = by["expedite:express_truck:L-A-PLANT"]
    assert ahead.alt.detail.get("moves_load") is None
    for chosen, moves in ((take, True), (ahead, False)):
        act = Response(d, imp, costed, chosen, "", "lowest_cost", {}).action()
        assert isinstance(act, RerouteAction) and act.option == "expedite" and act.moves_load is moves
        assert act.lines == [(s, q) for s, q in chosen.alt.lines] and act.origin == "SUP-A"
    wait = Response(d, imp, costed, costed[0], "", "lowest_cost", {}).action()
    assert wait.option == "wait" and wait.moves_load is None


def test_no_take_over_when_waiting_is_as_quick(case):
    net, twin, _, _, _, _ = case
    d = declared(0.5)  # half an hour late: nothing beats waiting by an hour
    imp = assess_impact(net, twin.state, shipment_id="SH1", destination="PLANT", lines=list(d.lines), now=T0,
                        arrival=d.eta_p50, on_time=d.promised_at)
    alts = alternatives(net, twin.state, d, imp, now=T0)
    assert not [a for a in alts if a.label.startswith("expedite:takeover:")]


def test_the_decision_record_shows_the_counterfactual(case):
    net, twin, d, imp, _, _ = case
    resp = plan_response(net, twin.state, d, imp, now=T0, simulate=sim_whatif, objective="lowest_cost", replications=32, seed=3)
    cf = resp.to_decision(T0).model_output["counterfactual"]
    wait = next(o for o in resp.options if o.alt.kind == "wait")
    assert cf["wait"]["option"] == "wait" and cf["wait"]["total_cost"] == pytest.approx(round(wait.total_cost, 2))
    assert cf["act"]["option"] == resp.chosen.alt.label
    assert cf["cost_saved"] == pytest.approx(round(wait.total_cost - resp.chosen.total_cost, 2), abs=0.02)
    assert cf["hours_sooner"] == pytest.approx((wait.alt.arrival_days - resp.chosen.alt.arrival_days) * 24, abs=0.01)
    assert cf["cost_saved"] >= 0  # lowest_cost never picks an answer dearer than waiting


def test_a_truck_standing_still_is_expected_to_stand_on(case):
    """The tracker's forecast has a standing truck move on at once; a stop that has lasted s days goes on (its
    rest: a Pareto tail with the mean s), so waiting costs more the longer the truck has stood, and the
    take-over (which leaves the stop) gains on it; the decision records the points it costed."""
    net, twin, d, imp, alts, _ = case
    from supplynet.decide.reroute import _late_arrivals

    now_p = [(w, x) for w, x in _late_arrivals(d, imp, T0)]
    stood = _late_arrivals(d, imp, T0, standing_days=1.0)
    assert [w for w, _ in stood] == [0.3, 0.4, 0.3]
    extra = [b - a for (_, a), (_, b) in zip(now_p, stood, strict=True)]
    assert extra == pytest.approx([0.9 ** -0.5 - 1, 0.5 ** -0.5 - 1, 0.1 ** -0.5 - 1])
    kw = dict(now=T0, simulate=sim_whatif, replications=32, seed=5)
    moving = {c.alt.label: c for c in cost_alternatives(net, twin.state, d, imp, alts, **kw)}
    standing = {c.alt.label: c for c in cost_alternatives(net, twin.state, d, imp, alts, standing_days=1.0, **kw)}
    take = next(a.label for a in alts if a.label.startswith("expedite:takeover:"))
    assert standing["wait"].shortage_cost > moving["wait"].shortage_cost
    assert standing[take].diff_vs_wait < moving[take].diff_vs_wait
    resp = plan_response(net, twin.state, d, imp, standing_days=1.0, **kw)
    sim = resp.to_decision(T0).model_output["sim"]
    assert sim["standing_hours"] == 24.0 and len(sim["late_arrival_days"]) == 3


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_load_stuck_for_a_day_is_taken_over_and_the_record_shows_what_it_saves(case, seed):
    """Two days late and the tracker reports the truck standing for a day: the take-over (the cost model's
    premium on the part of the trip left) costs less than the shortage waiting brings, on every seed; the
    same delay with the truck moving is answered by waiting."""
    net, twin, _, _, _, _ = case
    d = declared(48.0)
    imp = assess_impact(net, twin.state, shipment_id="SH1", destination="PLANT", lines=list(d.lines), now=T0,
                        arrival=d.eta_p50, on_time=d.promised_at)
    moving = plan_response(net, twin.state, d, imp, now=T0, simulate=sim_whatif, replications=32, seed=seed)
    assert moving.chosen.alt.kind == "wait"
    stuck = plan_response(net, twin.state, d, imp, now=T0, simulate=sim_whatif, replications=32, seed=seed,
                          standing_days=1.0)
    assert stuck.chosen.alt.label.startswith("expedite:takeover:")
    cf = stuck.to_decision(T0).model_output["counterfactual"]
    assert cf["cost_saved"] > 0 and cf["hours_sooner"] > 24
    assert cf["wait"]["arrival_days"] > moving.options[0].alt.arrival_days  # the stop's median rest included
    action = stuck.action()
    assert isinstance(action, RerouteAction) and action.option == "expedite" and action.shipment_id == "SH1"


def test_the_destinations_regular_deliveries_go_on_in_the_what_if():
    """The destination places no order in the what-if, but its regular replenishment goes on as it would live:
    a cycle's mean need each cycle, the first half a cycle plus its quickest inbound lane's lead time away,
    alike for every option (what the next delivery brings anyway is no credit to sending goods early)."""
    from supplynet.decide.impact import affected_items
    from supplynet.decide.reroute import regular_deliveries

    net = network()
    nodes = affected_items(net, "ST-1", ["PROD"])
    rows = regular_deliveries(net, nodes, {("ST-1", "PROD")}, horizon=3.2)
    # DC-1 -> ST-1 takes half a day: deliveries of 80 (a day's need) at 1.0, 2.0 and 3.0 days
    assert rows == [(("ST-1", "PROD"), 80.0, 1.0), (("ST-1", "PROD"), 80.0, 2.0), (("ST-1", "PROD"), 80.0, 3.0)]
    assert regular_deliveries(net, nodes, {("ST-1", "PROD")}, horizon=0.9) == []
    two = regular_deliveries(net, nodes, {("ST-1", "PROD")}, horizon=3.2, cycle_days=2.0)
    assert two == [(("ST-1", "PROD"), 160.0, 1.5)]
    plant = affected_items(net, "PLANT", ["COMP"])  # the quicker of its two suppliers: 2 days
    assert [r[2] for r in regular_deliveries(net, plant, {("PLANT", "COMP")}, horizon=4.0)] == [2.5, 3.5]


def test_every_option_meets_the_same_regular_deliveries(case):
    net, twin, d, imp, alts, _ = case
    calls = []

    def fake(network, starts, *, horizon, replications, seed):
        calls.append((list(starts), horizon))
        return [WhatIfOutcome(holding_cost=np.zeros(2), shortage_cost=np.zeros(2), revenue_at_risk=np.zeros(2),
                              fill_rate=np.ones(2)) for _ in starts]

    cost_alternatives(net, twin.state, d, imp, alts, now=T0, simulate=fake, replications=2, seed=1)
    for starts, _horizon in calls:
        regular = [[r for r in s.in_transit if r[0] == ("PLANT", "COMP") and r[1] == pytest.approx(80.0)]
                   for s in starts]
        assert regular[0] and all(r == regular[0] for r in regular)  # the same for every option
        assert [r[2] for r in regular[0]][0] == pytest.approx(2.5)

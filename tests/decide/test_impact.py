"""Impact of a late load, read from the twin: stock-outs downstream and production starved via the BOM."""

from __future__ import annotations

from datetime import timedelta

import pytest

from supplynet.decide.impact import affected_items, assess_impact

from ._response_net import T0, network, twin_with_late_load


def _impact(delay_h: float, comp: float = 40.0):
    net = network()
    twin = twin_with_late_load(net, comp_at_plant=comp)
    return assess_impact(net, twin.state, shipment_id="SH1", destination="PLANT", lines=[("COMP", 600.0, None)],
                         now=T0, arrival=T0 + timedelta(hours=12 + delay_h), on_time=T0 + timedelta(hours=12))


def test_affected_items_follow_lanes_and_the_bom():
    nodes = affected_items(network(), "PLANT", ["COMP"])
    assert list(nodes) == [("PLANT", "COMP"), ("PLANT", "PROD"), ("DC-1", "PROD"), ("ST-1", "PROD")]
    # needs flow back up: the store's 80/day is the DC's, the plant's, and (x1 per unit) the component's
    assert nodes[("ST-1", "PROD")].need == pytest.approx(80.0)
    assert nodes[("DC-1", "PROD")].need == pytest.approx(80.0)
    assert nodes[("PLANT", "COMP")].need == pytest.approx(80.0)
    assert nodes[("PLANT", "PROD")].components == [(("PLANT", "COMP"), 1.0)]


def test_a_long_delay_starves_production_and_stocks_out_the_store():
    imp = _impact(delay_h=48.0)
    assert [(r.plant, r.output_sku, r.short_of) for r in imp.starved] == [("PLANT", "PROD", ("COMP",))]
    run = imp.starved[0]
    # 40 units of component cover half a day of an 80/day need; the load comes 2.5 days from now
    assert run.starts_at < T0 + timedelta(days=1)
    assert run.units_lost > 80.0
    out = {(i.site, i.sku): i for i in imp.stockouts}
    assert ("ST-1", "PROD") in out
    store = out[("ST-1", "PROD")]
    assert store.stockout_at_on_time is None or store.stockout_at < store.stockout_at_on_time
    assert imp.revenue_at_risk == pytest.approx((store.units_short - store.units_short_on_time) * 6.0)
    assert imp.revenue_at_risk > 0


def test_impact_grows_with_the_delay_and_vanishes_without_one():
    none, short, long_ = _impact(0.0), _impact(24.0), _impact(60.0)
    assert none.revenue_at_risk == pytest.approx(0.0) and none.starved == ()
    assert 0 < short.starved[0].units_lost < long_.starved[0].units_lost
    # a day late is absorbed by the stock downstream; two and a half are not
    assert short.revenue_at_risk == pytest.approx(0.0)
    assert long_.revenue_at_risk > 0


def test_enough_stock_means_no_impact():
    imp = _impact(48.0, comp=2000.0)
    assert imp.stockouts == [] and imp.starved == () and imp.revenue_at_risk == 0.0
    d = imp.to_dict()
    assert d["items_assessed"] == 4 and d["stockouts"] == []


def test_the_delay_is_priced_by_the_cost_model_in_its_currency():
    imp = _impact(delay_h=48.0)
    store = next(i for i in imp.items if (i.site, i.sku) == ("ST-1", "PROD"))
    extra = store.units_short - store.units_short_on_time
    # ST-1 backorders (the default): the penalty defaults to the margin, 6 - 2 per unit
    assert store.shortage_cost == pytest.approx(extra * 4.0) and imp.shortage_cost > 0
    doc = imp.to_dict()
    assert doc["currency"] == "USD" and doc["shortage_cost"] == pytest.approx(round(imp.shortage_cost, 2))
    # a penalty set in the network's costs: section is the one used
    net = network().model_copy(update={"currency": "EUR", "costs": {"penalties": [
        {"sku": "PROD", "site": "ST-1", "backorder": 10.0}]}})
    twin = twin_with_late_load(net, comp_at_plant=40.0)
    priced = assess_impact(net, twin.state, shipment_id="SH1", destination="PLANT", lines=[("COMP", 600.0, None)],
                           now=T0, arrival=T0 + timedelta(hours=60), on_time=T0 + timedelta(hours=12))
    st = next(i for i in priced.items if (i.site, i.sku) == ("ST-1", "PROD"))
    assert st.shortage_cost == pytest.approx((st.units_short - st.units_short_on_time) * 10.0)
    assert priced.currency == "EUR" and priced.revenue_at_risk == pytest.approx(imp.revenue_at_risk)


def test_a_delay_that_empties_a_shelf_costs_what_is_lost_until_the_load_arrives():
    """Nobody reorders in the projection: over a long window both runs would sell the same stock out in a
    different order and a shelf emptied by the delay would read as free. The window ends with the late load
    (and its way downstream): 120 on the shelf last 1.5 days at 80 a day, the load comes a day after that."""
    net = network()
    twin = twin_with_late_load(net)
    imp = assess_impact(net, twin.state, shipment_id="SH-ST", destination="ST-1", lines=[("PROD", 160.0, None)],
                        now=T0, arrival=T0 + timedelta(days=2.5), on_time=T0 + timedelta(hours=12))
    assert imp.horizon_days == pytest.approx(2.5 + 0.25)  # a store feeds its customers itself: no way further
    store = next(i for i in imp.items if (i.site, i.sku) == ("ST-1", "PROD"))
    assert store.units_short_on_time == pytest.approx(0.0)
    assert store.units_short == pytest.approx(80.0, abs=80 * 0.25)  # a day at 80 a day (to a step)
    assert imp.shortage_cost == pytest.approx(store.units_short * 4.0) and imp.stockouts == [store]
    # on time, or late within the shelf's cover, it costs nothing
    early = assess_impact(net, twin.state, shipment_id="SH-ST", destination="ST-1", lines=[("PROD", 160.0, None)],
                          now=T0, arrival=T0 + timedelta(days=1.25), on_time=T0 + timedelta(hours=12))
    assert early.shortage_cost == pytest.approx(0.0) and early.stockouts == []


def test_the_window_reaches_the_customers_downstream():
    imp = _impact(delay_h=48.0)
    # the load arrives 2.5 days from now; the plant makes (a day), then PLANT->DC and DC->store half a day each
    assert imp.horizon_days == pytest.approx(2.5 + 1.0 + 0.5 + 0.5 + 0.25)

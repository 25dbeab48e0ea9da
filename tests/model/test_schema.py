"""The parts of a network check themselves when made, and the Network answers look-ups."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from supplynet.errors import ModelError, ModelValidationError
from supplynet.model import (
    Binding,
    Demand,
    Device,
    LeadTime,
    Location,
    Network,
    PolicySpec,
    Product,
    UnknownIdError,
    example_path,
    load_network,
)


def _message(exc: ValidationError) -> str:
    return exc.errors()[0]["msg"]


def test_location_bounds_name_the_value() -> None:
    assert Location(lat=-90, lon=180).lat == -90.0
    with pytest.raises(ValidationError) as info:
        Location(lat=90.5, lon=0)
    assert "must be between -90 and 90, got 90.5" in _message(info.value)
    assert Location.model_validate([51.5, -0.12]) == Location(lat=51.5, lon=-0.12)


def test_product_defaults_and_perishable() -> None:
    p = Product(sku="A", unit_cost=2.0, price=5.0)
    assert (p.name, p.shortage_cost, p.pack_size, p.perishable) == ("A", 3.0, 1, False)
    assert p.holding_cost_per_day == pytest.approx(2.0 * 0.25 / 365)
    assert Product(sku="B", unit_cost=5, price=4).shortage_cost == 0.0  # never negative
    assert Product(sku="C", unit_cost=1, price=2, shortage_cost=7, shelf_life_days=3).shortage_cost == 7.0
    assert Product(sku="C", unit_cost=1, price=2, shelf_life_days=3).perishable
    with pytest.raises(ValidationError):
        Product(sku="D", unit_cost=1, price=2, pack_size=0)


def test_lead_time_shorthand_and_moments() -> None:
    fixed = LeadTime.model_validate(3)
    assert (fixed.dist, fixed.mean, fixed.std) == ("fixed", 3.0, 0.0)
    normal = LeadTime.model_validate({"mean_days": 4, "std_days": 1})
    assert normal.dist == "normal"
    uni = LeadTime.model_validate({"min_days": 2, "max_days": 6})
    assert (uni.dist, uni.mean, uni.std) == ("uniform", 4.0, pytest.approx(4 / np.sqrt(12)))
    with pytest.raises(ValidationError):
        LeadTime(dist="gamma")  # mean_days missing
    with pytest.raises(ValidationError):
        LeadTime(dist="fixed", mean_days=-1)


@pytest.mark.parametrize("dist", ["normal", "lognormal", "gamma"])
def test_lead_time_sampling_matches_its_moments(dist: str) -> None:
    lt = LeadTime(dist=dist, mean_days=5.0, std_days=1.0)
    x = lt.sample(np.random.default_rng(7), 200_000)
    assert x.shape == (200_000,) and (x >= 0).all()
    assert x.mean() == pytest.approx(5.0, rel=0.01)
    assert x.std() == pytest.approx(1.0, rel=0.03)
    assert np.array_equal(lt.sample(3, 10), lt.sample(np.random.default_rng(3), 10))  # seeded


def test_lead_time_sampling_fixed_and_uniform() -> None:
    assert np.array_equal(LeadTime.model_validate(2.5).sample(0, 4), np.full(4, 2.5))
    u = LeadTime(dist="uniform", min_days=1, max_days=3).sample(1, 50_000)
    assert u.min() >= 1 and u.max() <= 3 and u.mean() == pytest.approx(2.0, abs=0.02)


def test_demand_spread() -> None:
    assert Demand(site="S", sku="A", mean_per_day=10).std == 5.0
    assert Demand(site="S", sku="A", mean_per_day=10, cv=0.2).std == 2.0
    d = Demand(site="S", sku="A", mean_per_day=10, std_per_day=3)
    assert (d.std, d.cv) == (3.0, 0.3)
    assert Demand(site="S", sku="A", mean_per_day=10, std_per_day=3, cv=0.3).std == 3.0  # agreeing is fine
    assert Demand(site="S", sku="A", mean_per_day=0, std_per_day=1).std == 1.0


def test_binding_and_device_defaults() -> None:
    with pytest.raises(ValidationError):
        Binding()
    d = Device(id="G", kind="temperature_logger", bound_to={"asset": "R"})
    assert d.measures == ["temperature", "humidity"] and d.report_interval_s == 60.0


def test_policy_params() -> None:
    assert PolicySpec(site="S", type="sS", params={"s": 1, "S": 2}).sku == "*"
    assert PolicySpec(site="S", type="RS", params={"R": 7}, service_level=0.9).params == {"R": 7.0}
    assert PolicySpec(site="S", type="newsvendor").params == {}
    for bad in ({"type": "RQ", "params": {"r": 1, "Q": 0}}, {"type": "base_stock"},
                {"type": "sS", "params": {"s": 1, "S": 2}, "sku": "not an id"}):
        with pytest.raises(ValidationError):
            PolicySpec(site="S", **bad)


def test_models_are_frozen() -> None:
    with pytest.raises(ValidationError):
        Location(lat=1, lon=2).lat = 3  # type: ignore[misc]


@pytest.fixture(scope="module")
def tiny() -> Network:
    return load_network(example_path("tiny"))


def test_lookups(tiny: Network) -> None:
    assert tiny.site("DC-1").kind == "dc"
    assert tiny.product("MILK-2L").perishable
    assert tiny.lane("L-SUP-DC").destination == "DC-1"
    assert [ln.id for ln in tiny.lanes_from("DC-1")] == ["L-DC-STORE-1", "L-DC-STORE-2"]
    assert {ln.id for ln in tiny.lanes_to("DC-1")} == {"L-PLANT-DC", "L-SUP-DC"}
    assert [s.id for s in tiny.sites_of_kind("store")] == ["STORE-1", "STORE-2"]
    assert tiny.policy_for("STORE-2", "MILK-2L").type == "RS"
    assert tiny.policy_for("STORE-1", "MILK-2L").sku == "*"  # falls back to the site's "*" entry
    assert tiny.policy_for("PLANT-1", "BREAD-800G") is None
    assert tiny.demand_for("STORE-2", "MILK-2L").std == 12.0
    assert tiny.demand_for("DC-1", "MILK-2L") is None
    assert tiny.boms_at("PLANT-1")[0].output_sku == "BREAD-800G"
    assert [d.id for d in tiny.devices_on(asset="TRUCK-1")] == ["GPS-TRUCK-1"]
    assert tiny.skus_at("STORE-1") == ["BREAD-800G", "MILK-2L"]
    with pytest.raises(UnknownIdError, match="unknown site 'NOPE'"):
        tiny.site("NOPE")
    assert issubclass(UnknownIdError, ModelError) and issubclass(UnknownIdError, KeyError)


def test_graph(tiny: Network) -> None:
    g = tiny.graph()
    assert set(g.nodes) == {s.id for s in tiny.sites}
    assert g.nodes["PLANT-1"]["kind"] == "plant"
    assert g.number_of_edges() == len(tiny.lanes)
    edge = g.edges["DC-1", "STORE-2"]
    assert edge["lane"] == "L-DC-STORE-2" and edge["lead_time_days"] == 1.5 and edge["mode"] == "truck"
    assert edge["cost_per_unit"] == 0.03


def test_graph_keeps_parallel_lanes(tiny: Network) -> None:
    data = tiny.model_dump()
    extra = dict(data["lanes"][3], id="L-DC-STORE-1-RAIL", mode="rail")
    data["lanes"].append(extra)
    g = Network.model_validate(data).graph()
    assert g.edges["DC-1", "STORE-1"]["lanes"] == ["L-DC-STORE-1", "L-DC-STORE-1-RAIL"]


def test_model_validate_checks_references_without_lines(tiny: Network) -> None:
    data = tiny.model_dump()
    data["assets"][1]["lane"] = "L-DC-STORE-3"
    with pytest.raises(ModelValidationError) as info:
        Network.model_validate(data)
    assert [str(i) for i in info.value.issues] == [
        "<network> assets[1].lane: unknown lane 'L-DC-STORE-3' (did you mean 'L-DC-STORE-2'?)"]


def test_round_trip_through_dict(tiny: Network) -> None:
    again = Network.model_validate(tiny.model_dump())
    assert again == tiny
    assert again.summary() == "5 sites, 3 products, 5 lanes, 1 boms, 4 demand entries, 3 assets, 5 devices, 5 policies"


def test_model_copy_with_update_revalidates(tiny: Network) -> None:
    lanes = [ln.model_dump() for ln in tiny.lanes if ln.id != "L-DC-STORE-2"]
    with pytest.raises(ModelValidationError, match="nothing supplies sku 'BREAD-800G' to site 'STORE-2'"):
        tiny.model_copy(update={"lanes": lanes})
    renamed = tiny.model_copy(update={"name": "tiny-2"})
    assert renamed.name == "tiny-2" and renamed.site("DC-1") == tiny.site("DC-1")


def test_a_machine_s_repair_time_is_declared_or_its_lead_time_plus_two_days() -> None:
    """What a failure stops a machine for: ``repair_days`` when the network gives it, else the parts (its
    maintenance lead time, at least a day) plus two days of work - the rule the world repairs by and the
    twin's prediction reads (supplynet.sim.forecast_live)."""
    from supplynet.model import Asset

    assert Asset(id="M", kind="machine", site="P", maintenance_lead_time_days=2).repair_time_days == 4.0
    assert Asset(id="M", kind="machine", site="P", maintenance_lead_time_days=0.5).repair_time_days == 3.0
    assert Asset(id="M", kind="machine", site="P", maintenance_lead_time_days=2, repair_days=1.5).repair_time_days == 1.5
    with pytest.raises(ValidationError):
        Asset(id="M", kind="machine", site="P", repair_days=-1)

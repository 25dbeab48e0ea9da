"""The shipped example networks: valid, complete as promised, packaged, and reproducible."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from supplynet.errors import DataError
from supplynet.model import Network, example_path, load_network

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def realistic() -> Network:
    return load_network(example_path("realistic"))


@pytest.mark.parametrize("name", ["tiny", "realistic"])
def test_packaged_copy_is_identical(name: str) -> None:
    source = ROOT / "examples" / f"{name}.yaml"
    assert example_path(name).read_bytes() == source.read_bytes()
    assert load_network(source) == load_network(example_path(name))


def test_unknown_example() -> None:
    with pytest.raises(DataError, match="unknown example network 'huge'; choose one of: realistic, tiny"):
        example_path("huge")


def test_generator_reproduces_the_committed_file() -> None:
    spec = importlib.util.spec_from_file_location("make_realistic", ROOT / "examples" / "make_realistic.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    assert module.main() == (ROOT / "examples" / "realistic.yaml").read_text(encoding="utf-8")


def test_tiny_is_minimal_but_complete() -> None:
    net = load_network(example_path("tiny"))
    kinds = [s.kind for s in net.sites]
    assert (kinds.count("supplier"), kinds.count("plant"), kinds.count("dc"), kinds.count("store")) == (1, 1, 1, 2)
    assert 2 <= len(net.products) <= 3
    assert {a.kind for a in net.assets} == {"machine", "truck", "reefer"}
    assert {d.kind for d in net.devices} >= {"gps_tracker", "temperature_logger", "machine_sensor"}
    assert net.demand and net.policies and net.boms


def test_realistic_has_what_the_issue_asks(realistic: Network) -> None:
    count = {k: len(realistic.sites_of_kind(k)) for k in ("supplier", "plant", "dc", "store")}
    assert count["supplier"] >= 3 and count == {**count, "plant": 2, "dc": 3, "store": 20}
    assert len(realistic.products) == 50
    assert sum(p.perishable for p in realistic.products) >= 10
    # plants have machines with a machine and a vibration sensor each, and costs to weigh maintenance
    for plant in realistic.sites_of_kind("plant"):
        machines = [a for a in realistic.assets if a.kind == "machine" and a.site == plant.id]
        assert machines
        for m in machines:
            assert m.failure_cost > m.preventive_cost > 0
            assert {d.kind for d in realistic.devices_on(asset=m.id)} == {"machine_sensor", "vibration_sensor"}
    # BOMs at plants turn supplier components into products
    suppliers = {s.id for s in realistic.sites_of_kind("supplier")}
    for bom in realistic.boms:
        for comp in bom.components:
            assert any(ln.origin in suppliers and ln.carries(comp.sku) for ln in realistic.lanes_to(bom.plant))
    kind = {s.id: s.kind for s in realistic.sites}
    lane_kinds = {(kind[ln.origin], kind[ln.destination]) for ln in realistic.lanes}
    assert lane_kinds == {("supplier", "plant"), ("plant", "dc"), ("supplier", "dc"), ("dc", "store")}
    trucks = [a for a in realistic.assets if a.kind == "truck"]
    reefers = [a for a in realistic.assets if a.kind == "reefer"]
    assert trucks and reefers
    assert all("gps_tracker" in {d.kind for d in realistic.devices_on(asset=t.id)} for t in trucks)
    assert all("temperature_logger" in {d.kind for d in realistic.devices_on(asset=r.id)} for r in reefers)
    assert all(r.temperature_limit_c is not None for r in reefers)
    for store in realistic.sites_of_kind("store"):
        assert {d.kind for d in realistic.devices_on(site=store.id)} == {"pos_terminal", "shelf_sensor"}
        assert realistic.skus_at(store.id)  # sells something, and has a policy for each sku it sells
        assert all(realistic.policy_for(store.id, sku) for sku in realistic.skus_at(store.id))
    for dc in realistic.sites_of_kind("dc"):
        assert realistic.policy_for(dc.id, "PASTA-500G") is not None


def test_realistic_coordinates_are_in_great_britain(realistic: Network) -> None:
    for s in realistic.sites:
        assert 49.9 < s.location.lat < 55.9 and -5.8 < s.location.lon < 1.8, s.id


def test_realistic_uses_the_fast_parser_when_available(monkeypatch: pytest.MonkeyPatch, libyaml: None) -> None:
    """Speed guard without a timing assertion: with libyaml present the loader uses it (bench/model_load.py
    measures the time)."""
    import supplynet.model._yaml as y

    calls: list[str] = []
    real = y._compose_libyaml
    monkeypatch.setattr(y, "_compose_libyaml", lambda text: calls.append("libyaml") or real(text))
    assert y._libyaml_available()
    load_network(example_path("realistic"))
    assert calls == ["libyaml"]

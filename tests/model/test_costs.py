"""The network's one cost model: the ``costs:`` section, its defaults, its errors and CostModel."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from supplynet.errors import ModelValidationError
from supplynet.model import COMPONENTS, CostModel, example_path, load_network, parse_network

BASE = """\
name: costs
sites:
  - {id: S, kind: supplier, location: [52.0, 1.0]}
  - {id: DC, kind: dc, location: [52.2, -1.1]}
  - {id: ST, kind: store, location: [52.4, -1.9], backorders: false}
  - {id: PL, kind: plant, location: [52.6, -1.1]}
products:
  - {sku: A, unit_cost: 2.0, price: 5.0}
  - {sku: B, unit_cost: 1.0, price: 1.5, holding_cost_rate: 0.4}
lanes:
  - {id: L1, origin: S, destination: DC, lead_time: 2}
  - {id: L2, origin: DC, destination: ST, lead_time: 1, mode: rail, cost_per_unit: 0.3}
demand:
  - {site: ST, sku: A, mean_per_day: 10}
  - {site: ST, sku: B, mean_per_day: 5}
assets:
  - {id: M1, kind: machine, site: PL, failure_cost: 9000, preventive_cost: 960, maintenance_lead_time_days: 2}
"""


def net(costs: str = "", top: str = ""):
    return parse_network(top + BASE + costs, "net.yaml")


def errors(costs: str, top: str = "") -> list[str]:
    with pytest.raises(ModelValidationError) as exc:
        net(costs, top)
    return [str(i) for i in exc.value.issues]


def test_a_file_without_costs_loads_unchanged_with_margin_penalties():
    n = net()
    cm = n.cost_model
    assert n.currency == "USD" and cm.currency == "USD"
    assert cm.lost_sale("ST", "A", 4) == pytest.approx(4 * 3.0)          # the margin per unit lost
    assert cm.shortage_rate("ST", "A") == pytest.approx(3.0)
    assert cm.backorder_rate_per_day("DC", "A") == pytest.approx(0.1 * 2.0 * 0.25 / 365)
    assert cm.holding("B", 10, days=365) == pytest.approx(10 * 1.0 * 0.4)
    assert cm.ordering(3) == 0.0
    assert cm.transport("L2", 100) == pytest.approx(30.0) and n.lane("L1").cost_per_unit == 0.0
    assert cm.downtime("M1", 24) == pytest.approx(960 / 2)             # preventive cost over its repair days
    assert cm.spoilage("A", 3) == pytest.approx(6.0)                  # write-off at unit cost
    assert cm.expedite("L2", 100) == pytest.approx(1.5 * 30.0)        # default premium 50%
    assert cm.format(1234.5) == "USD 1,234.50" and cm.format(float("nan")) == "USD -"


def test_the_costs_section_sets_every_component():
    n = net("""\
costs:
  currency: EUR
  holding_rate: 0.3
  ordering_cost: 7.5
  expedite_premium: 0.8
  transport: {truck: {cost_per_unit: 0.12, fixed_cost_per_shipment: 90}, rail: {cost_per_unit: 9}}
  penalties:
    - {sku: A, lost_sale: 4.5}
    - {sku: A, site: ST, lost_sale: 6, backorder_per_day: 0.2}
    - {sku: B, backorder: 0.7}
  downtime_cost_per_hour: {M1: 125}
  spoilage: {B: 0.25}
""")
    cm = n.cost_model
    assert isinstance(cm, CostModel) and n.currency == "EUR" and cm.currency == "EUR"
    assert n.product("A").holding_cost_rate == 0.3 and n.product("B").holding_cost_rate == 0.4  # own rate kept
    assert n.lane("L1").cost_per_unit == 0.12 and n.lane("L1").fixed_cost_per_shipment == 90
    assert n.lane("L2").cost_per_unit == 0.3                          # the lane's own cost wins over its mode
    assert cm.ordering(2) == 15.0
    assert cm.lost_sale("ST", "A", 1) == 6.0 and cm.lost_sale("DC", "A", 1) == 4.5   # sku-site, then sku
    assert cm.backorder_rate_per_day("ST", "A") == 0.2
    assert cm.backorder_rate("DC", "B") == 0.7 and cm.lost_sale_rate("DC", "B") == pytest.approx(0.5)
    assert cm.downtime("M1", 2) == 250.0 and cm.site_downtime_rate("PL") == 125.0
    assert cm.spoilage("B", 4) == 1.0
    assert cm.expedite("L1", 10) == pytest.approx(1.8 * (1.2 + 90))
    assert cm.describe()["components"] == list(COMPONENTS)


def test_currency_in_both_places_must_agree_and_errors_name_line_and_field():
    assert net("costs:\n  currency: GBP\n", top="currency: GBP\n").currency == "GBP"
    found = errors("costs:\n  currency: EUR\n", top="currency: GBP\n")
    assert any(e.startswith("net.yaml:") and "costs.currency" in e and "disagrees" in e for e in found), found
    found = errors("costs:\n  currency: euro\n")
    assert any("costs.currency" in e and "ISO 4217" in e for e in found), found


@pytest.mark.parametrize(("costs", "where", "says"), [
    ("costs:\n  penalties:\n    - {sku: NOPE, lost_sale: 1}\n", "costs.penalties[0].sku", "unknown sku 'NOPE'"),
    ("costs:\n  penalties:\n    - {sku: A, site: XX, lost_sale: 1}\n", "costs.penalties[0].site", "unknown site"),
    ("costs:\n  penalties:\n    - {sku: A, lost_sale: -2}\n", "costs.penalties[0].lost_sale", "must be >= 0"),
    ("costs:\n  penalties:\n    - {sku: A}\n", "costs.penalties[0].lost_sale", "give at least one"),
    ("costs:\n  penalties:\n    - {sku: A, lost_sale: 1}\n    - {sku: A, backorder: 2}\n",
     "costs.penalties[1].sku", "duplicate penalty"),
    ("costs:\n  downtime_cost_per_hour: {M2: 5}\n", "costs.downtime_cost_per_hour.M2", "unknown asset 'M2'"),
    ("costs:\n  spoilage: {A: .nan}\n", "costs.spoilage.A", "finite"),
    ("costs:\n  transport: {boat: {cost_per_unit: 1}}\n", "costs.transport.boat", "must be one of"),
    ("costs:\n  ordering_cost: lots\n", "costs.ordering_cost", "expected a number"),
    ("costs:\n  holding_rate: -0.1\n", "costs.holding_rate", "must be >= 0"),
    ("costs:\n  expedite_premium: 1e999\n", "costs.expedite_premium", "finite"),
    ("costs:\n  surcharge: 3\n", "costs.surcharge", "unknown field"),
    ("costs: [1, 2]\n", "costs", "expected a mapping"),
])
def test_bad_costs_are_one_line_each_with_line_and_field(costs, where, says):
    found = errors(costs)
    hit = [e for e in found if f" {where}: " in e]
    assert hit and says in hit[0], found
    line = int(hit[0].split(":")[1].split(" ")[0])
    assert line > BASE.count("\n")  # the line of the costs section, not of the top of the file


def test_the_examples_carry_a_costs_section_and_are_tracked_identically():
    root = Path(__file__).resolve().parents[2]
    for name in ("tiny", "realistic"):
        packaged = example_path(name)
        assert (root / "examples" / f"{name}.yaml").read_text() == packaged.read_text(), name
        n = load_network(packaged)
        assert "costs:" in packaged.read_text() and n.currency == "GBP"
        cm = n.cost_model
        for a in n.assets:
            if a.kind == "machine":
                assert cm.downtime_rate(a.id) > 0 and math.isfinite(cm.downtime_rate(a.id))
        for p in n.products:
            assert cm.lost_sale_rate(None, p.sku) >= cm.margin(p.sku) - 1e-12 or p.shortage_cost is not None

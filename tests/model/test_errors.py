"""Every kind of bad network file gives its exact message: file, line, field and what is wrong.

Each case breaks one thing in a small valid network (BASE) and checks the complete list of
issues, so a case also proves that nothing else is reported. Both YAML parsers run every case.
"""

from __future__ import annotations

import pytest

from supplynet.errors import ModelValidationError
from supplynet.model import load_network, parse_network

BASE = """\
name: test-net
currency: EUR
sites:
  - id: S1
    kind: supplier
    location: {lat: 48.1, lon: 11.5}
  - id: P1
    kind: plant
    location: {lat: 48.2, lon: 11.6}
  - id: D1
    kind: dc
    location: {lat: 48.3, lon: 11.7}
  - id: R1
    kind: store
    location: {lat: 48.4, lon: 11.8}
products:
  - {sku: RAW, unit_cost: 1, price: 2}
  - {sku: GOOD, unit_cost: 3, price: 5, shelf_life_days: 5}
lanes:
  - id: L1
    origin: S1
    destination: P1
    lead_time: 2
    skus: [RAW]
  - {id: L2, origin: P1, destination: D1, lead_time: {dist: gamma, mean_days: 1, std_days: 0.2}, skus: [GOOD]}
  - {id: L3, origin: D1, destination: R1, lead_time: 1}
boms:
  - {plant: P1, output_sku: GOOD, components: [{sku: RAW, quantity: 2}], machines: [M1]}
demand:
  - {site: R1, sku: GOOD, mean_per_day: 10}
assets:
  - {id: M1, kind: machine, site: P1}
  - {id: T1, kind: truck, site: D1, lane: L3}
devices:
  - {id: G1, kind: gps_tracker, bound_to: {asset: T1}}
  - {id: V1, kind: vibration_sensor, bound_to: {asset: M1}}
  - {id: POS1, kind: pos_terminal, bound_to: {site: R1}}
policies:
  - {site: R1, sku: GOOD, type: sS, params: {s: 20, S: 60}}
  - {site: D1, type: base_stock, service_level: 0.95}
"""


def mutate(old: str, new: str, text: str = BASE) -> str:
    """``text`` with the one occurrence of ``old`` replaced by ``new``."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def line_of(text: str, snippet: str, nth: int = 1) -> int:
    """1-based line number of the ``nth`` line containing ``snippet``."""
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if snippet in line]
    assert len(hits) >= nth, f"{snippet!r} not found {nth} times"
    return hits[nth - 1]



def issues_of(text: str, parser: str = "ruamel", filename: str = "network.yaml") -> list[str]:
    """The issues ``text`` raises, one string each (fails if it is valid)."""
    with pytest.raises(ModelValidationError) as info:
        parse_network(text, filename, parser=parser)
    return [str(i) for i in info.value.issues]


def test_base_network_is_valid(parser: str) -> None:
    net = parse_network(BASE, "network.yaml", parser=parser)
    assert [s.id for s in net.sites] == ["S1", "P1", "D1", "R1"]
    assert net.lane("L1").lead_time.mean == 2.0


SUPPLY = "(no chain of lanes carrying the sku leads there from a supplier or a plant that makes it)"

# (case id, old text, new text, snippet on the expected line, "field: message")
CASES = [
    ("lat", "lat: 48.2", "lat: 95", "lat: 95", "sites[1].location.lat: must be between -90 and 90, got 95"),
    ("lon", "lon: 11.8", "lon: -181.5", "lon: -181.5",
     "sites[3].location.lon: must be between -180 and 180, got -181.5"),
    ("negative cost", "unit_cost: 3", "unit_cost: -3", "unit_cost: -3", "products[1].unit_cost: must be >= 0, got -3"),
    ("negative lead time", "lead_time: 2", "lead_time: -2", "lead_time: -2",
     "lanes[0].lead_time.mean_days: must be >= 0, got -2"),
    ("negative lead time mapping", "mean_days: 1,", "mean_days: -1,", "mean_days: -1",
     "lanes[1].lead_time.mean_days: must be >= 0, got -1"),
    ("negative std", "std_days: 0.2", "std_days: -0.2", "std_days: -0.2",
     "lanes[1].lead_time.std_days: must be >= 0, got -0.2"),
    ("fixed with std", "lead_time: 1}", "lead_time: {dist: fixed, mean_days: 1, std_days: 0.5}}", "dist: fixed",
     "lanes[2].lead_time.std_days: must be 0 for a fixed lead time, got 0.5 (say dist: normal, gamma or lognormal)"),
    ("uniform bounds", "lead_time: 1}", "lead_time: {min_days: 3, max_days: 2}}", "min_days: 3",
     "lanes[2].lead_time.max_days: must be >= min_days (3), got 2"),
    ("pack size", "price: 2}", "price: 2, pack_size: 0}", "pack_size: 0", "products[0].pack_size: must be >= 1, got 0"),
    ("pack size not whole", "price: 2}", "price: 2, pack_size: 2.5}", "pack_size: 2.5",
     "products[0].pack_size: expected a whole number, got 2.5"),
    ("shelf life", "shelf_life_days: 5", "shelf_life_days: 0", "shelf_life_days: 0",
     "products[1].shelf_life_days: must be > 0, got 0"),
    ("wrong type", "mean_per_day: 10", "mean_per_day: abc", "mean_per_day: abc",
     "demand[0].mean_per_day: expected a number, got 'abc'"),
    ("quoted number", "lat: 48.3", "lat: '48.3'", "lat: '48.3'", "sites[2].location.lat: expected a number, got '48.3'"),
    ("id not a string", "id: G1", "id: 17", "id: 17", "devices[0].id: expected a string, got 17 (quote it to make it a string)"),
    ("id with space", "id: G1", "id: G 1", "id: G 1",
     "devices[0].id: must be an id of letters, digits and _ - . : / # + (starting with a letter or digit, no spaces), "
     "got 'G 1'"),
    ("bool", "mean_per_day: 10}", "mean_per_day: 10, cv: yes}", "cv: yes", "demand[0].cv: expected a number, got 'yes'"),
    ("unknown field", "lead_time: 2", "lead_tme: 2", "lead_tme",
     [("id: L1", "lanes[0].lead_time: required field missing"),
      ("lead_tme", "lanes[0].lead_tme: unknown field 'lead_tme' (did you mean 'lead_time'?)")]),
    ("unknown field no hint", "kind: dc", "kind: dc\n    colour: red", "colour",
     "sites[2].colour: unknown field 'colour'; expected one of: id, name, kind, location, city, capacity_per_day, "
     "storage_capacity, backorders, meta"),
    ("unknown top-level", "policies:", "policy:", "policy:",
     "policy: unknown field 'policy' (did you mean 'policies'?)"),
    ("kind typo", "kind: plant", "kind: plnt", "kind: plnt",
     "sites[1].kind: must be one of 'supplier', 'plant', 'dc' or 'store', got 'plnt' (did you mean 'plant'?)"),
    ("missing field", "  - {sku: RAW, unit_cost: 1, price: 2}", "  - {sku: RAW, unit_cost: 1}", "sku: RAW",
     "products[0].price: required field missing"),
    ("empty list", "components: [{sku: RAW, quantity: 2}]", "components: []", "components: []",
     "boms[0].components: needs at least 1 item, got 0"),
    ("currency", "currency: EUR", "currency: euro", "currency", "currency: must be a 3-letter ISO 4217 code in capitals "
     "(like USD, EUR, GBP), got 'euro'"),
    ("unknown site in lane", "destination: P1", "destination: P2", "destination: P2",
     [("destination: P2", "lanes[0].destination: unknown site 'P2' (did you mean 'P1'?)"),
      ("output_sku: GOOD", "boms[0].components[0].sku: nothing supplies sku 'RAW' to site 'P1' for its BOM "
       + SUPPLY)]),
    ("unknown sku in lane", "skus: [GOOD]", "skus: [GOOD, BAD]", "skus: [GOOD, BAD]", "lanes[1].skus[1]: unknown sku 'BAD'"),
    ("unknown sku in demand", "sku: GOOD, mean_per_day", "sku: GOD, mean_per_day", "sku: GOD",
     "demand[0].sku: unknown sku 'GOD' (did you mean 'GOOD'?)"),
    ("unknown site in demand", "site: R1, sku: GOOD, mean", "site: R9, sku: GOOD, mean", "site: R9",
     "demand[0].site: unknown site 'R9' (did you mean 'R1'?)"),
    ("unknown sku in bom", "[{sku: RAW, quantity: 2}]", "[{sku: RAWW, quantity: 2}]", "RAWW",
     "boms[0].components[0].sku: unknown sku 'RAWW' (did you mean 'RAW'?)"),
    ("unknown machine in bom", "machines: [M1]", "machines: [M2]", "machines: [M2]",
     "boms[0].machines[0]: unknown asset 'M2' (did you mean 'M1'?)"),
    ("unknown lane in asset", "lane: L3}", "lane: L4}", "lane: L4", "assets[1].lane: unknown lane 'L4' (did you mean 'L3'?)"),
    ("unknown asset in device", "{asset: T1}", "{asset: T2}", "asset: T2",
     "devices[0].bound_to.asset: unknown asset 'T2' (did you mean 'T1'?)"),
    ("unknown site in device", "{site: R1}}", "{site: X1}}", "site: X1", "devices[2].bound_to.site: unknown site 'X1'"),
    ("unknown sku in policy", "site: R1, sku: GOOD, type", "site: R1, sku: GOODS, type", "GOODS",
     "policies[0].sku: unknown sku 'GOODS' (did you mean 'GOOD'?)"),
    ("unknown site in policy", "site: D1, type", "site: DC1, type", "site: DC1",
     "policies[1].site: unknown site 'DC1' (did you mean 'D1'?)"),
    ("lane to itself", "destination: D1", "destination: P1", "destination: P1",
     [("id: L2", "lanes[1].destination: lane goes from site 'P1' to itself"),
      ("sku: GOOD, mean_per_day", "demand[0].sku: nothing supplies sku 'GOOD' to site 'R1' for its demand " + SUPPLY)]),
    ("bom at dc", "plant: P1, output_sku", "plant: D1, output_sku", "plant: D1",
     [("id: L2", "lanes[1].skus[0]: nothing supplies sku 'GOOD' to site 'P1' to ship on this lane "
       + SUPPLY),
      ("plant: D1", "boms[0].plant: BOM at site 'D1' of kind dc; BOMs belong at plants"),
      ("plant: D1", "boms[0].machines[0]: asset 'M1' is not a machine at plant 'D1'"),
      ("plant: D1", "boms[0].components[0].sku: nothing supplies sku 'RAW' to site 'D1' for its BOM "
       + SUPPLY)]),
    ("device bound to nothing", "{asset: T1}", "{}", "id: G1", "devices[0].bound_to: device is bound to nothing; give asset or site"),
    ("device bound to both", "{asset: T1}", "{asset: T1, site: D1}", "id: G1",
     [("id: G1", "devices[0].bound_to: device is bound to both asset 'T1' and site 'D1'; give one"),
      ("id: G1", "devices[0].bound_to.site: a gps_tracker goes on a truck or reefer asset, not on a site")]),
    ("sensor on a truck", "{asset: M1}", "{asset: T1}", "id: V1",
     "devices[1].bound_to.asset: a vibration_sensor goes on a machine, not on truck 'T1'"),
    ("pos terminal at dc", "{site: R1}}", "{site: D1}}", "id: POS1",
     "devices[2].bound_to.site: a pos_terminal goes in a store, not in dc 'D1'"),
    ("machine at a store", "kind: machine, site: P1", "kind: machine, site: R1", "id: M1",
     [("machines: [M1]", "boms[0].machines[0]: asset 'M1' is not a machine at plant 'P1'"),
      ("id: M1", "assets[0].site: machine at site 'R1' of kind store; machines belong at plants or dcs")]),
    ("temperature limit on a truck", "lane: L3}", "lane: L3, temperature_limit_c: 4}", "id: T1",
     "assets[1].temperature_limit_c: applies only to reefers, not to a truck"),
    ("policy s above S", "{s: 20, S: 60}", "{s: 80, S: 60}", "s: 80", "policies[0].params.s: must be <= S (60), got 80"),
    ("policy unknown param", "{s: 20, S: 60}", "{s: 20, SS: 60}", "SS: 60",
     "policies[0].params.SS: unknown parameter for type sS (expected s, S; optional: max_cycle_days)"),
    ("policy missing param", "{s: 20, S: 60}", "{s: 20}", "{s: 20}",
     "policies[0].params: type sS needs S (or give service_level to size it)"),
    ("policy type typo", "type: sS", "type: ss", "type: ss",
     "policies[0].type: must be one of 'base_stock', 'sS', 'RS', 'RQ' or 'newsvendor', got 'ss' (did you mean 'sS'?)"),
    ("service level", "service_level: 0.95", "service_level: 95", "service_level: 95",
     "policies[1].service_level: must be < 1, got 95"),
    ("nothing supplies demand", "skus: [GOOD]}", "skus: [RAW]}", "sku: GOOD, mean_per_day",
     "demand[0].sku: nothing supplies sku 'GOOD' to site 'R1' for its demand " + SUPPLY),
    ("cv and std", "mean_per_day: 10}", "mean_per_day: 10, cv: 0.3, std_per_day: 2}", "std_per_day",
     "demand[0].std_per_day: disagrees with cv 0.3 (cv x mean_per_day = 3); give one of them"),
]


@pytest.mark.parametrize(("old", "new", "snippet", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_message(parser: str, old: str, new: str, snippet: str,
                           expected: str | list[tuple[str, str]]) -> None:
    text = mutate(old, new)
    wanted = [(snippet, expected)] if isinstance(expected, str) else expected
    got = issues_of(text, parser)
    assert got == [f"network.yaml:{line_of(text, where)} {message}" for where, message in wanted]


def test_duplicate_ids_name_the_first_line(parser: str) -> None:
    text = mutate("  - id: D1\n", "  - id: P1\n")
    dup, first = line_of(text, "id: P1", 2), line_of(text, "id: P1")
    got = issues_of(text, parser)
    assert got[0] == f"network.yaml:{dup} sites[2].id: duplicate site id 'P1' (first at line {first})"
    # and every reference to the vanished D1 is reported too
    assert f"network.yaml:{line_of(text, 'destination: D1')} lanes[1].destination: unknown site 'D1'" in got


def test_duplicate_sku_and_policy(parser: str) -> None:
    text = mutate("{sku: GOOD, unit_cost: 3", "{sku: RAW, unit_cost: 3")
    text = mutate("  - {site: D1, type: base_stock, service_level: 0.95}\n",
                  "  - {site: D1, type: base_stock, service_level: 0.95}\n  - {site: D1, type: sS, service_level: 0.9}\n",
                  text)
    got = issues_of(text, parser)
    raw1, raw2 = line_of(text, "sku: RAW"), line_of(text, "sku: RAW", 2)
    assert f"network.yaml:{raw2} products[1].sku: duplicate sku 'RAW' (first at line {raw1})" in got
    p1, p2 = line_of(text, "site: D1, type: base_stock"), line_of(text, "site: D1, type: sS")
    assert f"network.yaml:{p2} policies[2].sku: duplicate policy for sku '*' at site 'D1' (first at line {p1})" in got


def test_bom_cycle(parser: str) -> None:
    text = mutate("lead_time: 2\n    skus: [RAW]", "lead_time: 2\n    skus: [RAW, GOOD]")
    text = mutate("  - {plant: P1, output_sku: GOOD, components: [{sku: RAW, quantity: 2}], machines: [M1]}\n",
                  "  - {plant: P1, output_sku: GOOD, components: [{sku: RAW, quantity: 2}], machines: [M1]}\n"
                  "  - {plant: P1, output_sku: RAW, components: [{sku: GOOD, quantity: 1}]}\n", text)
    assert issues_of(text, parser) == [
        f"network.yaml:{line_of(text, 'output_sku: GOOD')} boms[0].output_sku: BOM cycle: GOOD -> RAW -> GOOD "
        "(a sku cannot need itself)"]


def test_bom_self_cycle(parser: str) -> None:
    text = mutate("[{sku: RAW, quantity: 2}]", "[{sku: RAW, quantity: 2}, {sku: GOOD, quantity: 1}]")
    assert issues_of(text, parser) == [
        f"network.yaml:{line_of(text, 'output_sku: GOOD')} boms[0].output_sku: BOM cycle: GOOD -> GOOD "
        "(a sku cannot need itself)"]


def test_all_issues_are_collected_in_line_order(parser: str) -> None:
    text = mutate("lat: 48.2", "lat: 95")
    text = mutate("mean_per_day: 10", "mean_per_day: -10", text)
    text = mutate("destination: P1", "destination: Q1", text)
    got = issues_of(text, parser)
    assert got == [
        f"network.yaml:{line_of(text, 'lat: 95')} sites[1].location.lat: must be between -90 and 90, got 95",
        f"network.yaml:{line_of(text, 'destination: Q1')} lanes[0].destination: unknown site 'Q1'",
        f"network.yaml:{line_of(text, 'output_sku: GOOD')} boms[0].components[0].sku: nothing supplies sku 'RAW' "
        "to site 'P1' for its BOM " + SUPPLY,
        f"network.yaml:{line_of(text, 'mean_per_day')} demand[0].mean_per_day: must be >= 0, got -10",
    ]


def test_yaml_syntax_error_names_the_line(parser: str) -> None:
    text = mutate("    destination: P1\n", "    destination: [P1\n")
    got = issues_of(text, parser)
    assert len(got) == 1
    assert got[0].startswith("network.yaml:")
    assert "YAML syntax error:" in got[0]
    line = int(got[0].split(":")[1].split()[0])
    assert line_of(text, "destination: [P1") <= line <= line_of(text, "destination: [P1") + 2


def test_yaml_bad_indentation() -> None:
    text = mutate("    kind: plant\n", "   kind: plant\n")
    assert issues_of(text) == [
        f"network.yaml:{line_of(text, '   kind: plant')}: YAML syntax error: expected <block end>, but found "
        "'<block mapping start>' (while parsing a block collection)"]


def test_syntax_errors_read_the_same_with_both_parsers(libyaml: None) -> None:
    text = mutate("    destination: P1\n", "    destination: [P1\n")
    assert issues_of(text, "ruamel") == issues_of(text, "libyaml")


def test_duplicate_yaml_key(parser: str) -> None:
    text = mutate("    kind: plant\n", "    kind: plant\n    kind: dc\n")
    assert issues_of(text, parser) == [
        f"network.yaml:{line_of(text, 'kind: dc', 1)} sites[1].kind: duplicate key 'kind' "
        f"(first at line {line_of(text, 'kind: plant')})"]


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n"])
def test_empty_file(parser: str, text: str) -> None:
    assert issues_of(text, parser) == ["network.yaml: file is empty (expected a network mapping)"]


def test_top_level_not_a_mapping(parser: str) -> None:
    assert issues_of("- a\n- b\n", parser) == ["network.yaml:1: expected a network mapping at the top level, got a list"]


def test_load_network_names_the_file(tmp_path) -> None:
    path = tmp_path / "network.yaml"
    path.write_text(mutate("lat: 48.2", "lat: -91"), encoding="utf-8")
    with pytest.raises(ModelValidationError) as info:
        load_network(path)
    (issue,) = info.value.issues
    assert (issue.file, issue.line, issue.field) == (str(path), line_of(path.read_text(), "lat: -91"),
                                                     "sites[1].location.lat")
    assert str(info.value) == f"{path}:{issue.line} sites[1].location.lat: must be between -90 and 90, got -91"


def test_missing_file_is_a_data_error(tmp_path) -> None:
    from supplynet.errors import DataError

    with pytest.raises(DataError, match="nope.yaml: network file not found"):
        load_network(tmp_path / "nope.yaml")

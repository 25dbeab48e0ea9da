"""Willems (2008) chains become networks: a generated chain checked in detail, then all 38 real ones."""

from __future__ import annotations

import csv
import math
import re

import pytest

from supplynet.errors import DataError
from supplynet.model.willems import (
    load_willems,
    parse_stages,
    read_reported_costs,
    read_stages,
    willems_files,
)
from supplynet.testing.require import require_or_skip

HEADER = "stage_id,lead_time,max_s_time,cost_rate,risk_pool,ext_demand_mean,ext_demand_std,ext_demand_thres,up_stages\n"
# two parts -> an assembly -> a transport stage -> two retailers; a third retailer is fed by two stages
CHAIN = HEADER + """\
Part_0001,20,,5,2,,,,
Part_0002,10,,3,2,,,,
Manuf_0001,4,,10,2,,,,Part_0001,2,Part_0002,1
Trans_0001,2,,0.5,2,,,,Manuf_0001,1
Retail_0001,1,0,0.25,,100.0,30.0,1.645,Trans_0001,1
Retail_0002,0,0,0,,50.0,10.0,2.054,Trans_0001,1
Retail_0003,3,0,1,,5.0,2.0,1.645,Manuf_0001,1,Part_0002,1
"""


@pytest.fixture
def chain(tmp_path):
    path = tmp_path / "willems_99.csv"
    path.write_text(CHAIN, encoding="utf-8")
    return load_willems(path)


def test_kinds_and_skus(chain) -> None:
    kind = {s.id: s.kind for s in chain.sites}
    assert kind == {"Part_0001": "supplier", "Part_0002": "supplier", "Manuf_0001": "plant", "Trans_0001": "dc",
                    "Retail_0001": "store", "Retail_0002": "store", "Retail_0003": "plant"}
    assert [p.sku for p in chain.products] == ["Part_0001", "Part_0002", "Manuf_0001", "Retail_0003"]
    # a dc and its stores pass the manufactured sku on
    assert chain.lane("Manuf_0001--Trans_0001").skus == ["Manuf_0001"]
    assert chain.demand_for("Retail_0001", "Manuf_0001").mean_per_day == 100.0


def test_boms_costs_and_lead_times(chain) -> None:
    (asm,) = chain.boms_at("Manuf_0001")
    assert {(c.sku, c.quantity) for c in asm.components} == {("Part_0001", 2.0), ("Part_0002", 1.0)}
    assert asm.lead_time_days == 4.0
    assert chain.product("Manuf_0001").unit_cost == 10 + 2 * 5 + 3
    assert chain.product("Manuf_0001").price == pytest.approx(1.5 * (23 + 0.5 + 0.25))  # dearest at Retail_0001
    # supplier lead time on its outbound lane; a dc's or store's on its inbound lane
    assert chain.lane("Part_0001--Manuf_0001").lead_time.mean == 20.0
    assert chain.lane("Manuf_0001--Trans_0001").lead_time.mean == 2.0
    assert chain.lane("Trans_0001--Retail_0001").lead_time.mean == 1.0
    assert chain.lane("Part_0002--Retail_0003").lead_time.mean == 10.0  # into a plant: only the supplier's
    assert chain.lane("Trans_0001--Retail_0001").cost_per_unit == 0.25
    # every stage's lead time is counted exactly once along the lanes and BOMs
    assert chain.site("Retail_0001").meta["lead_time"] == 1.0


def test_demand_and_service_levels(chain) -> None:
    d = chain.demand_for("Retail_0003", "Retail_0003")
    assert (d.mean_per_day, d.std_per_day, d.dist) == (5.0, 2.0, "normal")
    assert chain.policy_for("Retail_0001", "Manuf_0001").service_level == pytest.approx(0.95, abs=1e-3)
    assert chain.policy_for("Retail_0002", "Manuf_0001").service_level == pytest.approx(0.98, abs=1e-3)
    assert chain.meta["stages"] == 7 and chain.name == "willems_99"


def test_graph_matches_the_stage_graph(chain) -> None:
    g = chain.graph()
    assert g.number_of_nodes() == 7 and g.number_of_edges() == 7
    assert set(g.predecessors("Retail_0003")) == {"Manuf_0001", "Part_0002"}


@pytest.mark.parametrize(("body", "message"), [
    ("A,x,,1,,,,,\n", "willems_99.csv:2 lead_time: expected a number, got 'x'"),
    ("A,1,,1,,,,,B,1\n", "willems_99.csv:2 up_stages: unknown stage 'B'"),
    ("A,1,,1,,,,,\nA,2,,1,,,,,\n", "willems_99.csv:3 stage_id: duplicate stage 'A' (first at line 2)"),
    ("A,1,,1,,,,,B,1\nB,1,,1,,,,,A,1\n", "the stages form a cycle"),
    ("A,1,,-1,,,,,\n", "willems_99.csv:2 cost_rate: must be >= 0, got -1"),
    ("A,1,,1,,,,,B\nB,1,,1,,,,,\n", "willems_99.csv:2 up_stages: expected pairs of stage id and quantity"),
    ("", "willems_99.csv: no stages"),
])
def test_bad_csv(tmp_path, body: str, message: str) -> None:
    path = tmp_path / "willems_99.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    with pytest.raises(DataError, match=re.escape(message)):
        load_willems(path)


def test_bad_header(tmp_path) -> None:
    path = tmp_path / "willems_99.csv"
    path.write_text("id,lt\nA,1\n", encoding="utf-8")
    with pytest.raises(DataError, match="willems_99.csv:1: expected the header stage_id,lead_time"):
        load_willems(path)


@pytest.mark.data
@pytest.mark.slow
def test_all_38_real_chains_load() -> None:
    files = willems_files()
    if not files:
        require_or_skip("../shared/data/willems2008 is absent (set SUPPLYNET_DATA_DIR to the data folder)", "data")
    assert len(files) == 38
    sizes = []
    for path in files:
        net = load_willems(path)
        with path.open(newline="") as f:
            rows = [r for r in list(csv.reader(f))[1:] if r and r[0]]
        assert len(net.sites) == len(rows)
        assert len(net.demand) == sum(1 for r in rows if r[5].strip())
        assert len(net.lanes) == sum(len([u for u in r[8::2] if u]) for r in rows)
        assert all(math.isfinite(p.unit_cost) and p.price >= p.unit_cost for p in net.products)
        sizes.append(len(net.sites))
    assert min(sizes) == 8 and max(sizes) >= 706


def test_read_stages_keeps_raw_values(tmp_path) -> None:
    path = tmp_path / "willems_99.csv"
    path.write_text(CHAIN, encoding="utf-8")
    stages = read_stages(path)
    assert stages[2].upstream == [("Part_0001", 2.0), ("Part_0002", 1.0)]
    assert stages[4].demand_z == 1.645 and stages[4].max_service_time == 0.0 and stages[0].max_service_time is None


def test_parse_stages_reads_text_and_the_textbook_cost_column(tmp_path) -> None:
    """The one parser of the format: text as files, and the ``cost`` column of the published
    textbook instances read as ``cost_rate``."""
    assert parse_stages(CHAIN, "x.csv") == read_stages_of(tmp_path, CHAIN)
    textbook = parse_stages(CHAIN.replace(",cost_rate,", ",cost,", 1), "x.csv")
    assert [s.cost_rate for s in textbook] == [5.0, 3.0, 10.0, 0.5, 0.25, 0.0, 1.0]
    with pytest.raises(DataError, match=re.escape("x.csv:1: expected the header stage_id,lead_time")):
        parse_stages(CHAIN.replace(",cost_rate,", ",price,", 1), "x.csv")
    with pytest.raises(DataError, match=re.escape("nowhere.csv: Willems chain file not found")):
        read_stages(tmp_path / "nowhere.csv")


def read_stages_of(tmp_path, text: str) -> list:
    path = tmp_path / "chain.csv"
    path.write_text(text, encoding="utf-8")
    return read_stages(path)


def test_reported_costs(tmp_path) -> None:
    path = tmp_path / "reported_optimal_cost.txt"
    path.write_text("12.5\n\n7\n", encoding="utf-8")
    assert read_reported_costs(path) == {1: 12.5, 3: 7.0}
    path.write_text("12.5\nabc\n", encoding="utf-8")
    with pytest.raises(DataError, match="reported_optimal_cost.txt:2: not a number"):
        read_reported_costs(path)

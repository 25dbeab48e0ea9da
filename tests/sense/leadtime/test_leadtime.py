"""Lead times per lane/mode, the late-delivery classifier on a time split, and the data-quality
report on messy cells: on a generated SCMS-shaped file, and (marked ``data``) on the real one."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from supplynet.datasets.scms import load_scms
from supplynet.errors import DataError
from supplynet.sense.leadtime.leadtime import (
    evaluate_late_delivery,
    lead_time_table,
    leadtime_report,
    time_split,
)
from supplynet.testing.require import require_or_skip

SCMS = Path(os.environ.get("SUPPLYNET_DATA_DIR", Path(__file__).resolve().parents[4] / "shared" / "data")) / \
    "scms-delivery"


def make_scms(path: Path, n: int = 800, seed: int = 0) -> dict[str, int]:
    """An SCMS-shaped CSV where ocean and truck to 'Nigeria' run late more often; returns how many
    messy cells of each kind were injected."""
    rng = np.random.default_rng(seed)
    modes = rng.choice(["Air", "Truck", "Ocean"], n, p=[0.6, 0.3, 0.1])
    country = rng.choice(["Nigeria", "Zambia", "Haiti"], n)
    po = pd.Timestamp("2010-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 1500, n)), unit="D")
    base = np.where(modes == "Air", 30, np.where(modes == "Truck", 15, 90))
    lead = rng.gamma(4, base / 4).round()
    sched = po + pd.to_timedelta(lead, unit="D")
    p_late = 0.05 + 0.5 * ((modes == "Ocean") | ((modes == "Truck") & (country == "Nigeria")))
    late = rng.random(n) < p_late
    delay = np.where(late, rng.integers(1, 40, n), -rng.integers(0, 10, n))
    delivered = sched + pd.to_timedelta(delay, unit="D")
    weight = rng.integers(10, 5000, n).astype(str).astype(object)
    freight = (rng.random(n) * 1e4).round(2).astype(str).astype(object)
    refs = rng.choice(np.arange(5, n), 40, replace=False)
    for i in refs:  # "See ASN-..." pointing at an earlier line's ID
        weight[i] = f"See ASN-{i} (ID#:{i - 3})"
        freight[i] = f"See ASN-{i} (ID#:{i - 3})"
    sep = rng.choice(np.setdiff1d(np.arange(n), refs), 25, replace=False)
    weight[sep] = "Weight Captured Separately"
    freight[sep] = "Freight Included in Commodity Cost"
    po_txt = np.array([d.strftime("%m/%d/%Y") for d in po], dtype=object)
    rdc = rng.choice(n, 60, replace=False)
    po_txt[rdc] = "N/A - From RDC"
    bad_date = rng.choice(np.setdiff1d(np.arange(n), rdc), 5, replace=False)
    po_txt[bad_date] = "Date Not Captured"
    df = pd.DataFrame({
        "ID": np.arange(1, n + 1), "Country": country, "Managed By": "PMO - US",
        "Fulfill Via": np.where(np.isin(np.arange(n), rdc), "From RDC", "Direct Drop"),
        "Vendor INCO Term": rng.choice(["EXW", "DDP", "FCA"], n), "Shipment Mode": modes,
        "PQ First Sent to Client Date": "Pre-PQ Process", "PO Sent to Vendor Date": po_txt,
        "Scheduled Delivery Date": [d.strftime("%d-%b-%y") for d in sched],
        "Delivered to Client Date": [d.strftime("%d-%b-%y") for d in delivered],
        "Product Group": rng.choice(["ARV", "HRDT"], n), "Sub Classification": "Adult", "Vendor": "V",
        "Dosage Form": "Tablet", "Line Item Quantity": rng.integers(1, 1000, n),
        "Line Item Value": rng.integers(100, 10**5, n), "Pack Price": rng.random(n) * 10,
        "Manufacturing Site": "M", "First Line Designation": "Yes",
        "Weight (Kilograms)": weight, "Freight Cost (USD)": freight, "Line Item Insurance (USD)": "",
    })
    df.to_csv(path, index=False)
    return {"refs": len(refs), "sep": len(sep), "rdc": len(rdc), "bad_date": len(bad_date), "n": n,
            "resolvable": int(sum(not str(weight[i - 4]).startswith(("See", "Weight")) for i in refs))}


@pytest.fixture(scope="module")
def scms(tmp_path_factory):
    p = tmp_path_factory.mktemp("scms") / "scms.csv"
    return p, make_scms(p)


def _issue(report, column, kind):
    return sum(i.count for i in report.issues if i.column == column and i.kind == kind)


def test_messy_cells_are_reported_not_fatal(scms):
    path, injected = scms
    df, report = load_scms(path)
    assert len(df) == injected["n"] and report.rows_dropped == 0
    assert _issue(report, "weight_kg", "reference to another shipment line") == injected["refs"]
    assert _issue(report, "weight_kg", "Weight Captured Separately") == injected["sep"]
    assert _issue(report, "freight_usd", "Freight Included in Commodity Cost") == injected["sep"]
    assert _issue(report, "po_sent", "not applicable") == injected["rdc"]
    assert _issue(report, "po_sent", "Date Not Captured") == injected["bad_date"]
    assert report.references_resolved["weight_kg"] == injected["resolvable"]
    ex = next(i for i in report.issues if i.kind == "reference to another shipment line")
    assert ex.examples[0].startswith("See ASN-")
    assert df["weight_kg"].isna().sum() == injected["sep"] + injected["refs"] - injected["resolvable"]
    assert pd.api.types.is_datetime64_any_dtype(df["scheduled"])
    lt = df["lead_time_days"]
    assert lt[df["po_sent"].isna()].isna().all() and (lt.dropna() >= 0).all()
    assert injected["n"] - injected["rdc"] - injected["bad_date"] - 30 < lt.notna().sum()


def test_lead_time_table_by_lane_and_mode(scms):
    df, _ = load_scms(scms[0])
    table = lead_time_table(df, min_n=20)
    assert table and all(s.n >= 20 for s in table)
    assert [s.n for s in table] == sorted((s.n for s in table), reverse=True)
    by = {(s.lane, s.mode): s for s in table}
    ocean = [s for (_, m), s in by.items() if m == "Ocean"]
    air = [s for (_, m), s in by.items() if m == "Air"]
    assert ocean and min(s.p50_days for s in ocean) > max(s.p50_days for s in air)
    s = table[0]
    assert s.p10_days <= s.p50_days <= s.p90_days and s.lognormal_sigma > 0
    with pytest.raises(ValueError, match="min_n"):
        lead_time_table(df, min_n=1)


def test_time_split_is_by_date(scms):
    df, _ = load_scms(scms[0])
    train, test = time_split(df, test_fraction=0.25)
    assert train["scheduled"].max() < test["scheduled"].min()
    assert len(train) + len(test) == len(df)


def test_late_delivery_classifier_learns_the_risky_lanes(scms):
    df, _ = load_scms(scms[0])
    res = evaluate_late_delivery(df, test_fraction=0.3)
    assert res["roc_auc"] > 0.7
    assert res["n_train"] + res["n_test"] == len(df)


def test_bad_files_raise_data_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_scms(tmp_path / "none.csv")
    p = tmp_path / "x.csv"
    p.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="missing column"):
        load_scms(p)
    with pytest.raises(DataError, match="no CSV"):
        load_scms(tmp_path / "empty_dir" if (tmp_path / "empty_dir").mkdir() is None else tmp_path)


@pytest.mark.data
@pytest.mark.slow
def test_real_scms_file_report():
    if not SCMS.is_dir():
        require_or_skip(f"{SCMS} not found (set SUPPLYNET_DATA_DIR)", "data")
    rep = leadtime_report(SCMS, top=5)
    q = rep["data_quality"]
    assert q["n_rows"] == 10324 and rep["n_shipments"] == 10324
    refs = [i for i in q["issues"] if i["column"] == "weight_kg" and i["kind"].startswith("reference")]
    assert refs and refs[0]["count"] > 2000
    assert q["references_resolved"]["weight_kg"] > 2000
    assert {m["mode"] for m in rep["lead_time_by_mode"]} >= {"Air", "Truck", "Ocean"}
    ld = rep["late_delivery"]
    assert ld["roc_auc"] > 0.7 and ld["roc_auc"] > ld["lane_rate_roc_auc"]

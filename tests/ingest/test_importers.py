"""``supplynet import KIND FILE``: a company's own files through the gate, signed by an operator."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
import pytest
from typer.testing import CliRunner

from supplynet.cli import app
from supplynet.errors import DataError
from supplynet.ingest.gate import Gate
from supplynet.ingest.importers import HISTORY, Mapping, check_file, import_file
from supplynet.security.signing import OperatorKey
from supplynet.store import open_store

runner = CliRunner()


@pytest.fixture
def gate(store) -> Gate:
    return Gate(store, config=HISTORY)


@pytest.fixture
def operator(gate) -> OperatorKey:
    cred = gate.registry.provision("operator:alice", kind="operator", now_us=int(gate.clock() * 1e6))
    return OperatorKey(cred.private_key)


def _events(store, kind=None):
    return [r.event for r in store.log.read(kinds=[kind] if kind else None)]


def test_sales_csv_semicolons_cp1252_day_first_decimal_comma(gate, operator, store, tmp_path):
    f = tmp_path / "ventes.csv"
    text = "Datum;Filiale;Artikel;Menge;Preis;Bemerkung\n"
    text += "".join(f"{d:02d}/01/2025;S1;A{d % 3};{d};2,5;Größe\n" for d in range(1, 21))
    f.write_bytes(text.encode("cp1252"))
    m = Mapping(columns={"Datum": "ts", "Filiale": "site", "Artikel": "sku", "Menge": "quantity", "Preis": "unit_price"})
    rep = import_file("sales", f, gate, operator, mapping=m)
    assert (rep.read, rep.refused, rep.stored, rep.duplicate) == (20, 0, 20, 0)
    assert rep.delimiter == ";" and rep.encoding == "cp1252"
    assert rep.ignored_columns == ["Bemerkung"]
    sales = sorted(_events(store, "sale"), key=lambda e: e.ts)
    assert [e.quantity for e in sales] == list(map(float, range(1, 21)))
    # 13/01 can only be the 13th of January: the whole column is day first
    assert sales[1].ts == datetime(2025, 1, 2, tzinfo=UTC) and sales[12].ts == datetime(2025, 1, 13, tzinfo=UTC)
    assert {e.unit_price for e in sales} == {2.5} and sales[0].source == "import:sales:ventes"
    again = import_file("sales", f, gate, operator, mapping=m)
    assert (again.stored, again.duplicate) == (0, 20) and len(_events(store)) == 20


def test_every_malformed_row_is_named_and_the_good_ones_stored(gate, operator, store, tmp_path):
    f = tmp_path / "sales.csv"
    f.write_text("\ufeffdate,store,item,qty\n"  # a byte-order mark before the header
                 "2025-03-01,S1,A,4\n"
                 "2025-03-02,S1,A,minus\n"
                 "2025-03-03,S 1,A,2\n"
                 "2025-13-45,S1,A,2\n"
                 "2025-03-05,S1,,2\n"
                 "2025-03-06,S1,B,-1\n"
                 "2025-03-07,S1,B,3\n", encoding="utf-8")
    dry = check_file("sales", f)
    assert dry.problems == [f"{f}:3:qty: not a number",
                            f"{f}:4:store: not an identifier (1-128 letters, digits, and _ . : @ / -)",
                            f"{f}:5:date: not a date/time", f"{f}:6:item: missing sku", f"{f}:7:qty: must be >= 0"]
    assert store.log.count() == 0  # a dry run writes nothing
    rep = import_file("sales", f, gate, operator)
    assert (rep.read, rep.refused, rep.stored, rep.quarantined) == (7, 5, 2, 0)
    assert sorted(e.quantity for e in _events(store)) == [3.0, 4.0]
    # the refused row, fixed in place, is stored by the next import; the others are duplicates
    f.write_text(f.read_text(encoding="utf-8").replace("minus", "5"), encoding="utf-8")
    rep = import_file("sales", f, gate, operator)
    assert (rep.stored, rep.duplicate, rep.refused) == (1, 2, 4)
    assert sorted(e.quantity for e in _events(store)) == [3.0, 4.0, 5.0]


def test_ambiguous_day_month_order_must_be_stated(gate, operator, store, tmp_path):
    f = tmp_path / "s.csv"
    f.write_text("date,site,sku,quantity\n01/02/2025,S1,A,1\n03/04/2025,S1,A,1\n")
    rep = check_file("sales", f)
    assert rep.refused == 2 and "ambiguous" in rep.problems[0] and rep.problems[0].startswith(f"{f}:2:date:")
    rep = import_file("sales", f, gate, operator, mapping=Mapping(dayfirst=True))
    assert rep.stored == 2
    assert sorted(e.ts for e in _events(store))[0] == datetime(2025, 2, 1, tzinfo=UTC)


def test_stock_from_excel_with_a_mapping_file_timezone_and_units(gate, operator, store, tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Bestand"
    ws.append(["Lager", "Material", "Bestand (Dutzend)", "Stichtag"])
    ws.append(["DC1", "A", 2, datetime(2025, 6, 1, 8, 0)])
    ws.append(["DC1", "B", 0.5, datetime(2025, 6, 1, 8, 0)])
    ws.append([None, None, None, None])  # a blank row: skipped, row numbers stay the sheet's
    ws.append(["DC2", "A", "lots", datetime(2025, 6, 1, 8, 0)])
    xlsx = tmp_path / "stock.xlsx"
    wb.save(xlsx)
    mapping = tmp_path / "stock.yaml"
    mapping.write_text("columns: {Lager: site, Material: sku, 'Bestand (Dutzend)': quantity, Stichtag: ts}\n"
                       "units: {quantity: dozen}\ntimezone: Europe/Berlin\nsheet: Bestand\n")
    rep = import_file("stock", xlsx, gate, operator, mapping=Mapping.load(mapping))
    assert (rep.read, rep.stored, rep.refused, rep.fmt) == (3, 2, 1, "xlsx")
    assert rep.problems == [f"{xlsx}:5:Bestand (Dutzend): not a number"]
    counts = {e.sku: e for e in _events(store, "stock_count")}
    assert counts["A"].quantity == 24 and counts["B"].quantity == 6 and counts["A"].method == "manual"
    assert counts["A"].ts == datetime(2025, 6, 1, 6, 0, tzinfo=UTC)  # 08:00 in Berlin (summer time)


def test_purchase_orders_from_parquet(gate, operator, store, tmp_path):
    f = tmp_path / "po.parquet"
    pd.DataFrame({"PO Number": ["PO-1", "PO-2"], "Supplier": ["SUP-9", "SUP-9"], "Ship To": ["DC1", "DC1"],
                  "SKU": ["A", "B"], "Qty Ordered": [100, 40],
                  "Order Date": pd.to_datetime(["2025-05-01", "2025-05-02"]),
                  "Due Date": pd.to_datetime(["2025-05-15", "2025-05-20"]),
                  "Status": ["open", "Confirmed"]}).to_parquet(f)
    rep = import_file("purchase-orders", f, gate, operator)
    assert (rep.read, rep.stored, rep.refused) == (2, 2, 0)
    orders = {e.order_id: e for e in _events(store, "order")}
    assert orders["PO-1"].status == "created" and orders["PO-2"].status == "released"
    assert orders["PO-1"].order_type == "purchase" and orders["PO-1"].origin == "SUP-9"
    assert orders["PO-2"].site == "DC1" and orders["PO-2"].quantity == 40
    assert orders["PO-2"].due == datetime(2025, 5, 20, tzinfo=UTC)


def test_shipments_with_gps_fixes(gate, operator, store, tmp_path):
    f = tmp_path / "ship.csv"
    f.write_text("shipment,timestamp,status,from,to,truck,sku,qty,lat,lon,speed\n"
                 "SH1,2025-04-01T08:00:00Z,departed,DC1,S1,TRK-7,A,10,,,\n"
                 "SH1,2025-04-01T08:00:00Z,departed,,,,B,5,,,\n"
                 "SH1,2025-04-01T09:00:00Z,,,,,,,48.85,2.35,72\n"
                 "SH1,2025-04-01T10:00:00Z,,,,,,,48.90,2.40,\n"
                 "SH1,2025-04-01T11:00:00Z,delivered,,,,,,48.95,2.45,\n"
                 "SH2,2025-04-01T11:00:00Z,departed,DC1,,,,,,,\n"
                 "SH3,2025-04-01T11:00:00Z,,,,,,,,,\n")
    rep = import_file("shipments", f, gate, operator, mapping=Mapping(units={"speed": "km/h"}))
    assert rep.problems == [f"{f}:7:to: a status row needs destination (on this row or another row of the "
                            "shipment)", f"{f}:8:status: neither a status nor a GPS fix (lat, lon)"]
    status = sorted(_events(store, "shipment"), key=lambda e: e.ts)
    assert [(e.status, e.origin, e.destination, e.asset_id) for e in status] == [
        ("departed", "DC1", "S1", "TRK-7"), ("delivered", "DC1", "S1", "TRK-7")]
    assert [(ln.sku, ln.quantity) for ln in status[0].lines] == [("A", 10.0), ("B", 5.0)]  # two rows, one event
    fixes = sorted(_events(store, "position"), key=lambda e: e.ts)
    assert [(p.lat, p.asset_id, p.shipment_id) for p in fixes] == [(48.85, "TRK-7", "SH1"), (48.9, "TRK-7", "SH1"),
                                                                   (48.95, "TRK-7", "SH1")]
    assert fixes[0].speed_m_s == pytest.approx(20.0) and fixes[0].source == "import:shipments:ship:gps"
    assert import_file("shipments", f, gate, operator).stored == 0


def test_sensor_log_with_cycles_and_maintenance_history(gate, operator, store, tmp_path):
    f = tmp_path / "engines.csv"
    rows = ["unit,cycle,setting_1,setting_2,s2,s3,remark"]
    rows += [f"{u},{c},0.{c},100,{640 + c * 0.1:.1f},{1580 + c},ok" for u in (1, 2) for c in range(1, 6)]
    f.write_text("\n".join(rows) + "\n")
    rep = import_file("sensor-log", f, gate, operator, mapping=Mapping(cycle_seconds=86_400))
    assert (rep.read, rep.stored, rep.refused) == (10, 10, 0) and rep.ignored_columns == ["remark"]
    readings = sorted(_events(store, "machine_reading"), key=lambda e: (e.asset_id, e.cycle))
    first = readings[0]
    assert first.asset_id == "1" and first.cycle == 1 and first.ts == datetime(2000, 1, 2, tzinfo=UTC)
    assert first.settings == {"setting_1": 0.1, "setting_2": 100.0} and first.sensors == {"s2": 640.1, "s3": 1581.0}
    m = tmp_path / "wo.csv"
    m.write_text("Equipment,Date,Type,WO Number,Description\n"
                 "1,2025-01-05,Breakdown,WO-1,bearing seized\n"
                 "1,2025-01-06,PM,WO-2,replaced bearing\n"
                 "2,2025-01-07,inspection,WO-3,\n")
    rep = import_file("maintenance-history", m, gate, operator)
    assert rep.refused == 1 and rep.problems[0].startswith(f"{m}:4:Type: unknown action; use one of cancelled, "
                                                           "completed, failure")
    done = sorted(_events(store, "maintenance"), key=lambda e: e.ts)
    assert [(e.asset_id, e.action, e.work_order_id, e.detail) for e in done] == [
        ("1", "failure", "WO-1", "bearing seized"), ("1", "completed", "WO-2", "replaced bearing")]


def test_a_missing_column_or_a_bad_mapping_is_one_clear_error(tmp_path):
    f = tmp_path / "s.csv"
    f.write_text("when,where,qty\n2025-01-01,S1,1\n")
    with pytest.raises(DataError, match=r"no column for 'sku' \(name a column sku, sku_id, item"):
        check_file("sales", f, Mapping(columns={"when": "ts", "where": "site"}))
    with pytest.raises(DataError, match="the mapping names column 'nope'"):
        check_file("sales", f, Mapping(columns={"nope": "sku"}))
    bad = tmp_path / "m.yaml"
    bad.write_text("timezone: Mars/Olympus\n")
    with pytest.raises(DataError, match="m.yaml: timezone: .*unknown time zone"):
        Mapping.load(bad)
    bad.write_text("colums: {}\n")
    with pytest.raises(DataError, match="colums: Extra inputs are not permitted"):
        Mapping.load(bad)


def test_cli_import_dry_run_then_run_and_errors(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 's.db'}"
    key = tmp_path / "op.key"
    res = runner.invoke(app, ["devices", "add", "operator:me", "--operator", "--key-out", str(key), "--store", url])
    assert res.exit_code == 0, res.output
    f = tmp_path / "sales.csv"
    f.write_text("date\tsite\tsku\tsold\n2025-01-01\tS1\tA\t3\n2025-01-02\tS1\tA\tthree\n")
    res = runner.invoke(app, ["import", "sales", str(f), "--dry-run", "--store", url])
    assert res.exit_code == 1 and res.stdout.splitlines() == [f"{f}:3:sold: not a number"]
    with open_store(url) as st:
        assert st.log.count() == 0
    res = runner.invoke(app, ["import", "sales", str(f), "--store", url, "--operator-key", str(key)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert (out["read"], out["stored"], out["duplicate"], out["refused"]) == (2, 1, 0, 1)
    assert out["delimiter"] == "\t" and out["problems"] == [f"{f}:3:sold: not a number"]
    res = runner.invoke(app, ["import", "sales", str(f), "--store", url, "--operator-key", str(key)])
    assert json.loads(res.stdout)["duplicate"] == 1
    res = runner.invoke(app, ["import", "invoices", str(f), "--store", url])
    assert res.exit_code == 2 and "error: unknown kind 'invoices'" in res.stderr
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SUPPLYNET_OPERATOR_KEY", raising=False)
    res = runner.invoke(app, ["import", "sales", str(f), "--store", url])
    assert res.exit_code == 2 and "error: no operator key" in res.stderr
    res = runner.invoke(app, ["import", "sales", str(tmp_path / "none.csv"), "--store", url, "--operator-key",
                              str(key)])
    assert res.exit_code == 2 and "file not found" in res.stderr


def test_utf16_file_with_bom(gate, operator, store, tmp_path):
    f = tmp_path / "u16.csv"
    f.write_bytes("sku,site,date,quantity\nA,S1,2025-01-01,1\n".encode("utf-16"))
    rep = import_file("sales", f, gate, operator)
    assert rep.stored == 1 and rep.encoding == "utf-16"


def test_a_row_the_gate_would_refuse_is_refused_alone_not_its_envelope(gate, operator, store, tmp_path):
    # 300 sensors: more than an event may carry; the gate's own check names each row, the import
    # sends none of them (the gate would quarantine a whole envelope of rows for one)
    f = tmp_path / "wide.csv"
    names = [f"s{i}" for i in range(300)]
    f.write_text("unit,ts," + ",".join(names) + "\n" + "".join(
        f"M{u},2025-01-01T00:0{u}:00Z," + ",".join("1" for _ in names) + "\n" for u in range(3)))
    rep = import_file("sensor-log", f, gate, operator)
    assert rep.refused == 3 and rep.quarantined == 0 and store.log.count() == 0
    assert rep.problems[0] == f"{f}:2:(row): 'sensors' must be an object of at most 256 numbers"
    narrow = import_file("sensor-log", f, gate, operator, mapping=Mapping(sensors=names[:10], source="wide-10"))
    assert narrow.stored == 3 and narrow.ignored_columns == names[10:]


def test_prices_beyond_the_plausible_range_are_refused_before_the_gate(gate, operator, store, tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("date,site,sku,quantity,price\n" + "".join(f"2025-01-{d:02d},S1,A,1,{p}\n"
                                                            for d, p in ((1, 3), (2, 2e7), (3, -1), (4, 4))))
    rep = import_file("sales", f, gate, operator)
    assert rep.problems == [f"{f}:3:price: must be <= 1e+07", f"{f}:4:price: must be >= 0"]
    assert (rep.stored, rep.quarantined) == (2, 0)


def test_only_an_operator_import_carries_orders_shipments_maintenance(gate, operator, store):
    from supplynet.ingest.envelope import seal
    from supplynet.security.signing import fingerprint

    order = {"kind": "order", "ts": "2025-01-01T00:00:00Z", "order_id": "PO-1", "order_type": "purchase",
             "status": "created", "site": "DC1", "sku": "A", "quantity": 5}
    cred = gate.registry.provision("erp-1", measures=["temperature"], asset="R1", now_us=int(gate.clock() * 1e6))
    now = datetime.fromtimestamp(gate.clock(), UTC)
    [device] = gate.submit([seal("erp-1", cred.kid, cred.private_key, 0, now, [order])], "mqtt")
    assert device.status == "quarantined" and device.reason == "schema" and "kind must be one of" in device.detail
    # the same reading signed by an operator for an unregistered source: a trusted import
    [imported] = gate.submit([seal("erp-import", fingerprint(operator.public), operator.private_b64u, 0, now,
                                   [order])], "replay")
    assert imported.status == "stored" and _events(store, "order")[0].order_id == "PO-1"
    # and an operator may not speak for a registered device with kinds it does not report
    [bound] = gate.submit([seal("erp-1", fingerprint(operator.public), operator.private_b64u, 5, now, [order])],
                          "replay")
    assert bound.status == "quarantined" and bound.reason == "schema"


def test_the_column_path_of_an_unbound_import_gives_the_canonical_events():
    """Sales of an operator's import (each reading names its site and time) take the gate's column
    path; it must store exactly the events, and refuse exactly what, the reading-by-reading path does."""
    from supplynet.errors import IngestError
    from supplynet.ingest.envelope import IMPORT_KINDS, Body, Rows, readings_to_events, readings_to_rows

    now = datetime(2026, 1, 1, tzinfo=UTC)

    def both(readings):
        body = Body("import:sales:x", 10, now, readings, {"quantity": "dozen"})
        out = []
        for fn in (readings_to_rows, readings_to_events):
            try:
                res = fn("import:sales:x", body, asset=None, site=None, allowed_kinds=None, any_site=True,
                         kinds=IMPORT_KINDS)
                out.append(res)
            except IngestError as exc:
                out.append(exc.reason)
        return out

    good = [{"kind": "sale", "ts": f"2024-0{1 + i % 9}-0{1 + i % 7}T0{i % 10}:00:00Z", "site": f"S{i % 3}",
             "sku": f"A-{i % 5}", "quantity": i % 4 + 0.5} for i in range(50)]
    fast, slow = both(good)
    assert isinstance(fast, Rows)  # the column path
    from supplynet.events import parse_event

    assert [parse_event(wire) for _, _, _, wire in fast] == slow  # read back: the very same events
    assert [tus for _, tus, _, _ in fast] == [int(e.ts.timestamp() * 1e6) for e in slow]
    assert slow[3].quantity == 12 * 3.5 and slow[3].site == "S0"
    for bad in ({"site": "S 1"}, {"ts": "2024-01-01T00:00:00"}, {"ts": "yesterday"}, {"quantity": -1},
                {"quantity": 2e9}, {"site": 7}):
        readings = [dict(r) for r in good[:5]]
        readings[2].update(bad)
        fast, slow = both(readings)
        assert (fast if isinstance(fast, str) else "stored") == (slow if isinstance(slow, str) else "stored"), bad
        assert isinstance(slow, str), bad  # each of these is refused

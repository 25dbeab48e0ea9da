"""Column envelopes (a body's readings given as columns, one signature over thousands of rows): the
same checks and the same events as the readings they stand for, every byte under the signature, and
the importer's column path (sales, stock) storing a file once, envelope by envelope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from supplynet.errors import IngestError
from supplynet.events import parse_event
from supplynet.ingest.envelope import (
    IMPORT_KINDS,
    MAX_READINGS,
    Body,
    ColumnReadings,
    Rows,
    parse_body,
    readings_to_events,
    readings_to_rows,
    seal,
)
from supplynet.ingest.gate import Gate, GateConfig
from supplynet.ingest.importers import HISTORY, import_file
from supplynet.security.signing import OperatorKey, fingerprint
from supplynet.store import open_store

from .test_column_rows import KINDS, T0

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def as_columns(readings: list[dict]) -> dict:
    """The column form of ``readings``: every field a list, ``None`` where a reading lacks it."""
    keys = list(dict.fromkeys(k for r in readings for k in r))
    return {k: [r.get(k) for r in readings] for k in keys}


def _convert(fn, device, body, **kw):
    try:
        return fn(device, body, **kw)
    except IngestError as exc:
        return ("refused", exc.reason)


def _same(readings, units, **kw):
    """The rows and events of ``readings`` given as readings and as columns; asserts they agree."""
    by_rows = Body("d", 5, T0, readings, units)
    by_cols = Body("d", 5, T0, ColumnReadings(as_columns(readings), len(readings)), units)
    for fn in (readings_to_rows, readings_to_events):
        a, b = _convert(fn, "d", by_rows, **kw), _convert(fn, "d", by_cols, **kw)
        if isinstance(a, tuple):
            assert a == b
        else:
            assert list(a) == list(b)
    return _convert(readings_to_rows, "d", by_cols, **kw)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_columns_give_the_events_their_readings_give(kind):
    measures, asset, site, units, envelopes = KINDS[kind]
    allowed = {"position": "position", "stock_count": "stock_count", "sale": "sale", "condition": "condition",
               "machine_reading": "machine_reading"}
    for readings in envelopes:
        _same(readings, units, asset=asset, site=site, allowed_kinds=frozenset({allowed[kind]}))


def test_an_import_of_columns_takes_the_column_path_and_refuses_what_the_readings_path_refuses():
    kw = dict(asset=None, site=None, allowed_kinds=None, any_site=True, kinds=IMPORT_KINDS)
    good = [{"kind": "sale", "ts": f"2024-0{1 + i % 9}-0{1 + i % 7}T0{i % 10}:00:00Z", "site": f"S{i % 3}",
             "sku": f"A-{i % 5}", "quantity": float(i % 4) + 0.5, "unfilled": i % 2} for i in range(200)]
    rows = _same(good, {}, **kw)
    assert isinstance(rows, Rows)
    assert [parse_event(w).quantity for _, _, _, w in rows][:3] == [0.5, 1.5, 2.5]
    for bad in ({"site": "S 1"}, {"site": ["S1"]}, {"ts": "2024-01-01T00:00:00"}, {"ts": "yesterday"},
                {"ts": 5}, {"quantity": -1}, {"quantity": 2e9}, {"quantity": True}, {"quantity": "3"},
                {"kind": "stock_count"}, {"kind": "order"}, {"sku": 7}, {"unit_price": 1e12},
                {"unfilled": float("inf")}, {"dt": 9e9}):
        readings = [dict(r) for r in good]
        readings[150].update(bad)
        out = _same(readings, {}, **kw)
        assert isinstance(out, tuple) and out[0] == "refused", bad
    both = [dict(r) for r in good]
    both[150]["dt"] = 3  # dt and ts: dt wins, on both paths
    assert not isinstance(_same(both, {}, **kw), tuple)
    # null in a column leaves the field out of that reading: a required one missing is refused,
    # an optional one is absent (the body's time for ``ts``)
    for name, refused in (("site", True), ("sku", True), ("quantity", True), ("kind", True), ("ts", False),
                          ("unfilled", False)):
        cols = as_columns(good)
        cols[name][150] = None
        body = Body("d", 5, T0, ColumnReadings(cols, len(good)), {})
        out = _convert(readings_to_rows, "d", body, **kw)
        assert (isinstance(out, tuple) and out[0] == "refused") == refused, name
        if not refused:
            e = parse_event(list(out)[150][3])
            assert e.ts == (T0 if name == "ts" else e.ts) and (e.unfilled == 0.0 or name != "unfilled")
    # an optional field missing in some readings: the same events (the slow path takes them)
    part = [dict(r) for r in good]
    for r in part[::3]:
        del r["unfilled"]
    _same(part, {}, **kw)


@pytest.mark.parametrize("columns, says", [
    ([1, 2], "must be an object"),
    ({}, "must be an object"),
    ({"kind": "sale", "sku": "A"}, "at least one list"),
    ({"kind": "sale", "sku": ["A", "B"], "quantity": [1]}, "differ in length"),
    ({"kind": "sale", "sku": []}, "1..10000"),
    ({"kind": "sale", "sku": ["A"] * (MAX_READINGS + 1)}, "1..10000"),
])
def test_malformed_columns_are_a_schema_error(columns, says):
    body = {"v": 1, "device": "d", "seq": 0, "ts": "2026-01-01T00:00:00Z", "columns": columns}
    import orjson

    with pytest.raises(IngestError) as exc:
        parse_body(orjson.dumps(body))
    assert exc.value.reason == "schema" and says in exc.value.detail
    both = {"v": 1, "device": "d", "seq": 0, "ts": "2026-01-01T00:00:00Z", "columns": {"kind": ["sale"]},
            "readings": [{"kind": "sale"}]}
    with pytest.raises(IngestError, match="not both"):
        parse_body(orjson.dumps(both))


def test_column_readings_view():
    v = ColumnReadings({"kind": "sale", "sku": ["A", None, "C"], "quantity": [1, 2, 3]}, 3)
    assert len(v) == 3 and v[1] == {"kind": "sale", "quantity": 2} and v[-1]["sku"] == "C"
    assert list(v)[0] == {"kind": "sale", "sku": "A", "quantity": 1} and v[1:] == [v[1], v[2]]
    with pytest.raises(IndexError):
        v[3]


@pytest.fixture
def op_gate(tmp_path):
    with open_store(tmp_path / "s.db") as st:
        gate = Gate(st, config=HISTORY)
        cred = gate.registry.provision("operator:alice", kind="operator", now_us=int(gate.clock() * 1e6))
        yield st, gate, OperatorKey(cred.private_key)


def test_a_forged_byte_anywhere_in_the_columns_is_refused(op_gate):
    st, gate, op = op_gate
    cols = {"kind": "sale", "site": ["S1"] * 100, "sku": ["A"] * 100, "quantity": [1.0] * 100,
            "ts": ["2024-01-01T00:00:00Z"] * 100}
    raw = seal("import:sales:f", fingerprint(op.public), op.private_b64u, 0, datetime.now(UTC), None, columns=cols)
    forged = raw.replace(b"1.0", b"9.0", 1)  # one quantity changed after signing
    assert forged != raw
    assert [o.reason for o in gate.submit([forged], "replay")] == ["bad_signature"]
    assert st.log.count() == 0
    out = gate.submit([raw], "replay")
    assert [(o.status, o.events) for o in out] == [("stored", 100)]
    assert st.backend.query("SELECT count(*) FROM events")[0][0] == 1  # one row of columns


def _sales(tmp_path, n, **extra) -> str:
    days = pd.date_range("2024-01-01", periods=n, freq="h")
    frame = pd.DataFrame({"date": days, "store": [f"S{i % 7}" for i in range(n)],
                          "item": [f"SKU-{i % 13}" for i in range(n)], "units": [float(i % 9) for i in range(n)],
                          **extra})
    path = tmp_path / "sales.parquet"
    frame.to_parquet(path, index=False)
    return str(path)


def test_the_import_column_path_stores_each_good_row_once_in_envelopes_of_consecutive_rows(op_gate, tmp_path):
    st, gate, op = op_gate
    n = 9000
    units = [float(i % 9) for i in range(n)]
    for k in (10, 4500, 4501, 8999):
        units[k] = -3.0  # refused: each ends an envelope
    lost = [None if i % 5 else float(i % 3) for i in range(n)]  # an optional column, mostly blank
    path = _sales(tmp_path, n, lost_sales=lost)
    pd.read_parquet(path).assign(units=units).to_parquet(path, index=False)
    rep = import_file("sales", path, gate, op)
    assert (rep.read, rep.refused, rep.stored, rep.duplicate, rep.quarantined) == (n, 4, n - 4, 0, 0)
    assert [p.split(":")[-3] for p in rep.problems] == ["11", "4501", "4502", "9000"]
    events = [r.event for r in st.log.read()]
    assert [e.seq for e in events] == [i for i in range(n) if i not in (10, 4500, 4501, 8999)]
    e = events[5]  # row 6 of the file
    assert (e.site, e.sku, e.quantity, e.unfilled, e.ts) == ("S5", "SKU-5", 5.0, 2.0,
                                                             datetime(2024, 1, 1, 5, tzinfo=UTC))
    # lost sales given on every fifth row (0 where blank); row 11 (seq 10) was refused
    assert [x.unfilled for x in events[:21]] == [0.0, 0, 0, 0, 0, 2.0, 0, 0, 0, 0, 0, 0, 0, 0, 0.0, 0, 0, 0, 0,
                                                  2.0, 0]
    assert [x.unfilled for x in events] == [lost[i] or 0.0 for i in range(n) if i not in (10, 4500, 4501, 8999)]
    rows = st.backend.query("SELECT n FROM events ORDER BY off")
    assert max(r[0] for r in rows) <= 4096 and sum(r[0] for r in rows) == n - 4
    again = import_file("sales", path, gate, op)
    assert (again.stored, again.duplicate, again.refused) == (0, n - 4, 4)
    assert st.log.count() == n - 4


def test_long_rows_split_envelopes_under_the_gates_size_limit(tmp_path):
    with open_store(tmp_path / "s.db") as st:
        gate = Gate(st, config=GateConfig(allowed_lateness_s=HISTORY.allowed_lateness_s, max_bytes=60_000))
        cred = gate.registry.provision("operator:alice", kind="operator", now_us=int(gate.clock() * 1e6))
        n = 3000
        # short identifiers first (the sample sizing the envelopes), long ones after
        path = _sales(tmp_path, n)
        frame = pd.read_parquet(path)
        frame["item"] = [f"SKU-{i}" if i < 600 else "L" * 120 + str(i) for i in range(n)]
        frame.to_parquet(path, index=False)
        rep = import_file("sales", path, gate, OperatorKey(cred.private_key))
        assert (rep.stored, rep.quarantined, rep.refused) == (n, 0, 0), rep.to_dict()
        assert [r.event.sku for r in st.log.read()][-1] == "L" * 120 + "2999"


def test_envelope_rows_fit_one_log_row():
    from supplynet.ingest.importers import _COLUMN_ROWS
    from supplynet.store._sql import MAX_BATCH_ROW

    assert _COLUMN_ROWS == min(MAX_BATCH_ROW, MAX_READINGS)


def test_stock_by_columns_with_a_default_method(op_gate, tmp_path):
    st, gate, op = op_gate
    path = tmp_path / "stock.csv"
    path.write_text("date,site,sku,on_hand\n2024-03-01,S1,A,5\n2024-03-01,S1,B,\n2024-03-02,S2,A,7.5\n")
    rep = import_file("stock", path, gate, op)
    assert (rep.stored, rep.refused) == (2, 1)
    got = [(e.site, e.sku, e.quantity, e.method, e.ts) for e in (r.event for r in st.log.read())]
    assert got == [("S1", "A", 5.0, "manual", datetime(2024, 3, 1, tzinfo=UTC)),
                   ("S2", "A", 7.5, "manual", datetime(2024, 3, 2, tzinfo=UTC))]
    assert got[0][4] - got[1][4] == -timedelta(days=1)

"""The column rows of the log (one row per envelope, its readings as columns) read back as exactly
the events the canonical per-reading path makes, for every reading kind; rows of the older layout
(a JSON array of events) stay readable beside them; deduplication works on column rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supplynet.events import ColumnRun, ts_to_us
from supplynet.ingest.envelope import Rows, open_outer, parse_body, readings_to_events, readings_to_rows
from supplynet.ingest.gate import Gate, GateConfig
from supplynet.store import open_store

from .conftest import Clock, make_dev

T0 = datetime(2026, 1, 1, 0, 0, 0, 123457, tzinfo=UTC)

#: (measures, asset, site, device units, envelopes of readings) per reading kind; the awkward floats
#: (1e16, 1e-7, 0.1 + 0.2, -0.0, fractional dt) are there to catch any rounding in the column layout
KINDS = {
    "condition": (("temperature", "humidity", "shock"), "R1", None, {"temperature": "degF", "humidity": "%"}, [
        [{"kind": "condition", "temperature": 39.2 + 0.1 * i, "humidity": 55 + i, "dt": -i} for i in range(40)],
        [{"kind": "condition", "temperature": 0.1 + 0.2, "shock": 1e-7, "dt": -0.25 * i} for i in range(7)],
        [{"kind": "condition", "temperature": -0.0, "shipment_id": f"S-{i}", "asset_id": "R1"} for i in range(3)],
        [{"kind": "condition", "temperature": 41.0}],
    ]),
    "position": (("position",), "T1", None, {"speed": "km/h"}, [
        [{"kind": "position", "lat": 52.1 + i * 1e-5, "lon": -0.0001 * i, "speed": 88.3, "accuracy": 4,
          "dt": i - 30} for i in range(30)],
        [{"kind": "position", "lat": -89.999999, "lon": 179.9999999999, "dt": 0.5}],
    ]),
    "stock_count": (("stock_count",), None, "S1", {}, [
        [{"kind": "stock_count", "sku": f"SKU-{i}", "quantity": i * 7} for i in range(25)],
        [{"kind": "stock_count", "sku": "A", "quantity": 9999999.999999998}],
    ]),
    "sale": (("sale",), None, "S2", {}, [
        [{"kind": "sale", "sku": "B", "quantity": 2.5, "unfilled": i, "dt": -i} for i in range(12)],
        [{"kind": "sale", "sku": "B", "quantity": 1, "unit_price": 3.99}],  # not a column batch
    ]),
    "machine_reading": (("machine",), "M1", None, {}, [
        [{"kind": "machine_reading", "sensors": {"t1": 0.5 * i, "p": 1e-9}, "settings": {"s1": 3}, "dt": -i}
         for i in range(5)],
    ]),
}


def _run(store, clock):
    """Submit every kind's envelopes through the gate; returns the canonical events of each
    accepted envelope (the per-reading pydantic path) in seq order per device, and the rows' types."""
    gate = Gate(store, clock=clock, config=GateConfig(rate_per_s=1e6, burst=1e6))
    expected, kinds_of_rows = [], []
    for kind, (measures, asset, site, units, envelopes) in KINDS.items():
        dev = make_dev(gate, f"d-{kind}", measures=measures, asset=asset, site=site, units=units)
        for readings in envelopes:
            raw = dev.msg(*readings)
            out = gate.submit([raw])
            assert [o.status for o in out] == ["stored"], (kind, out)
            body = parse_body(open_outer(raw).body)
            rec = gate.registry.get(dev.id)
            args = dict(asset=rec.asset, site=rec.site, allowed_kinds=rec.allowed_kinds)
            expected += readings_to_events(dev.id, body, **args)
            kinds_of_rows.append(type(readings_to_rows(dev.id, body, **args)))
    return expected, kinds_of_rows


def test_every_kind_reads_back_as_the_canonical_events(tmp_path):
    clock = Clock(T0 + timedelta(seconds=10))
    with open_store(tmp_path / "s.db") as store:
        expected, row_types = _run(store, clock)
        assert Rows in row_types and list in row_types  # both layouts are exercised
        got = [r.event for r in store.log.read()]
        assert got == expected
        # the same events, compared field by field with their types (model equality is by value;
        # note -0.0 == 0.0: the column path, like the row path before it, computes ``v * 1.0 + 0.0``)
        assert [[(k, type(v), v) for k, v in e.model_dump().items()] for e in got] == [
            [(k, type(v), v) for k, v in e.model_dump().items()] for e in expected]
        # one row per envelope
        n_env = sum(len(v[4]) for v in KINDS.values())
        assert store.backend.query("SELECT count(*) FROM events")[0][0] == n_env
        # filtered reads cut inside column rows as they do inside array rows
        since, until = T0 - timedelta(seconds=20), T0 - timedelta(seconds=5)
        want = [e for e in expected if since <= e.ts < until]
        assert 0 < len(want) < len(expected)
        assert [r.event for r in store.log.read(since=since, until=until)] == want
        assert [r.event for r in store.log.read(since=since, until=until, order="time")] == sorted(
            want, key=lambda e: ts_to_us(e.ts))  # stable: ties keep offset order
        assert [r.event for r in store.log.read(sources=["d-position"])] == [
            e for e in expected if e.source == "d-position"]
        assert [r.event for r in store.log.read(kinds=["sale"])] == [e for e in expected if e.kind == "sale"]
        offs = [r.offset for r in store.log.read()]
        assert offs == list(range(offs[0], offs[0] + len(expected)))
        after = offs[5]
        assert [r.event for r in store.log.read(after_offset=after)] == expected[6:]
    with open_store(tmp_path / "s.db") as store:  # after a restart
        assert [r.event for r in store.log.read()] == expected


def test_the_array_layout_stays_readable_beside_column_rows(tmp_path):
    """A log written before the column layout (rows whose body is a JSON array of events) reads the
    same, and a column row appended after it deduplicates against it."""
    clock = Clock(T0 + timedelta(seconds=10))
    with open_store(tmp_path / "a.db") as ref:
        expected, _ = _run(ref, clock)
    with open_store(tmp_path / "b.db") as store:
        by_source: dict[str, list] = {}
        for e in expected:
            by_source.setdefault(e.source, []).append(e)
        for source, events in by_source.items():
            store.log.append_batch(source, events)  # the array layout
        assert store.backend.query("SELECT count(*) FROM events WHERE body LIKE '[%'")[0][0] == len(by_source)
        assert [r.event for r in store.log.read()] == [e for s in by_source.values() for e in s]
        # a column run overlapping the stored events: only the new ones are stored
        cond = by_source["d-condition"]
        last = cond[-1]
        run = ColumnRun({"v": 1, "kind": "condition", "source": "d-condition", "asset_id": "R1"},
                        range(last.seq - 1, last.seq + 3), [ts_to_us(last.ts)] * 4,
                        {"temperature_k": [last.temperature_k, last.temperature_k, 280.5, 281.5]})
        res = store.log.append_wire_batches([("d-condition", run)])
        assert (res[0].stored, res[0].duplicates) == (2, 2)
        tail = [r.event for r in store.log.read(sources=["d-condition"])][-3:]
        assert [e.seq for e in tail] == [last.seq, last.seq + 1, last.seq + 2]
        assert [e.temperature_k for e in tail[1:]] == [280.5, 281.5]
        # and the same run again: nothing new
        res = store.log.append_wire_batches([("d-condition", run)])
        assert (res[0].stored, res[0].duplicates) == (0, 4)


def test_column_rows_deduplicate_against_column_rows(tmp_path):
    with open_store(tmp_path / "c.db") as store:
        head = {"v": 1, "kind": "stock_count", "source": "s", "site": "S1"}
        t = ts_to_us(T0)

        def run(seqs):
            return ColumnRun(head, seqs, [t + s for s in seqs], {"sku": [f"K{s}" for s in seqs],
                                                               "quantity": [float(s) for s in seqs]})

        assert store.log.append_wire_batches([("s", run(range(10, 20)))])[0].stored == 10
        res = store.log.append_wire_batches([("s", run(range(5, 25)))])[0]  # overlaps on both sides
        assert (res.stored, res.duplicates) == (10, 10)
        res = store.log.append_wire_batches([("s", run([1, 3, 12, 30]))])[0]  # not contiguous
        assert (res.stored, res.duplicates) == (3, 1)
        events = [r.event for r in store.log.read()]
        assert sorted(e.seq for e in events) == [1, 3, *range(5, 25), 30]
        assert all(e.sku == f"K{e.seq}" and e.quantity == float(e.seq) for e in events)


finite = st.floats(allow_nan=False, allow_infinity=False)


@given(values=st.lists(st.tuples(st.floats(173.15, 373.15), st.floats(0, 1), st.integers(-10**12, 10**12)),
                       min_size=1, max_size=40),
       first=st.integers(0, 2**62 - 100))
@settings(max_examples=60, deadline=None)
def test_column_run_round_trips_any_float(tmp_path_factory, values, first):
    """Every float (shortest round-trip form either way) and microsecond time reads back exactly."""
    head = {"v": 1, "kind": "condition", "source": "dev", "asset_id": "R1"}
    t0 = ts_to_us(T0)
    run = ColumnRun(head, range(first, first + len(values)), [t0 + d for _, _, d in values],
                    {"temperature_k": [v for v, _, _ in values], "humidity": [h for _, h, _ in values]})
    with open_store(tmp_path_factory.mktemp("h") / "h.db") as store:
        store.log.append_wire_batches([("dev", run)])
        got = [r.event for r in store.log.read()]
    from supplynet.events import parse_event

    assert got == [parse_event(js) for _, _, _, js in run]
    assert [(e.seq, ts_to_us(e.ts), e.temperature_k, e.humidity) for e in got] == [
        (first + i, t0 + d, v, h) for i, (v, h, d) in enumerate(values)]


def test_a_corrupt_column_row_is_an_error_not_silence(tmp_path):
    from supplynet.errors import StoreError

    with open_store(tmp_path / "x.db") as store:
        run = ColumnRun({"v": 1, "kind": "condition", "source": "dev", "asset_id": "R1"}, range(0, 2),
                        [0, 1], {"temperature_k": [280.0, 281.0]})
        store.log.append_wire_batches([("dev", run)])
        with store.transaction() as tx:
            tx.execute("UPDATE events SET body = ? WHERE source = 'dev'",
                       ('{"c":1,"h":{"v":1,"kind":"condition","source":"dev","asset_id":"R1"},"seq":0,'
                        '"ts":[0,1],"f":{"temperature_k":[280.0]}}',))
        with pytest.raises(StoreError):
            list(store.log.read())

"""The contract every store backend passes (SQLite, PostgreSQL, and users' plug-ins).

Subclass :class:`StoreContract` in a test module and give it a ``store_url`` fixture that returns
the URL of a fresh, empty database (one :func:`supplynet.store.open_store` can open)::

    from supplynet.testing.store_contract import StoreContract

    @pytest.fixture
    def store_url(tmp_path):
        return f"mydb://{tmp_path}/x"

    class TestMyStore(StoreContract):
        pass

The suite checks behaviour only through the public interface, with exact expectations, so two
backends that pass it return the same results for the same calls: the log and the snapshots here, and
every other table through the store's accessors (:class:`~supplynet.testing.table_contract.TableContract`,
part of this suite), so a backend that passes it runs the gate, the loop's decision recorder, the outbox
dispatcher and the commands.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..errors import EventError, StoreError
from ..events import (
    Alert,
    Condition,
    EventBase,
    Line,
    MachineReading,
    Maintenance,
    OrderEvent,
    Position,
    Production,
    Sale,
    ShipmentStatus,
    StockCount,
    Waveform,
    ts_to_us,
)
from ..store import AppendResult, Store, open_store
from .table_contract import TableContract

__all__ = ["StoreContract", "T0", "every_kind", "sale"]

T0 = datetime(2026, 3, 1, tzinfo=UTC)
_unique = itertools.count()


def sale(source: str, seq: int, second: float = 0.0, quantity: float = 1.0) -> Sale:
    """A small event at ``T0 + second``."""
    return Sale(source=source, seq=seq, ts=T0 + timedelta(seconds=second), site="ST1", sku="A", quantity=quantity)


def every_kind(source: str = "mix") -> list[EventBase]:
    """One event of every canonical kind, with optional fields filled, seqs 0..9."""
    t = [T0 + timedelta(minutes=i) for i in range(10)]
    return [
        Position(source=source, seq=0, ts=t[0], asset_id="TRK1", shipment_id="SH1", lat=52.5, lon=13.4,
                 speed_m_s=22.2, heading_deg=90.0),
        Condition(source=source, seq=1, ts=t[1], asset_id="RF1", temperature_k=277.15, humidity=0.6),
        MachineReading(source=source, seq=2, ts=t[2], asset_id="M1", cycle=17, settings={"s1": 0.5},
                       sensors={"T24": 642.1},
                       waveform=Waveform(sample_rate_hz=12_000, channels={"x": [0.1, -0.2, 0.3]})),
        StockCount(source=source, seq=3, ts=t[3], site="DC1", sku="A", quantity=40, method="manual"),
        Sale(source=source, seq=4, ts=t[4], site="ST1", sku="B", quantity=3, unfilled=1, unit_price=2.5),
        ShipmentStatus(source=source, seq=5, ts=t[5], shipment_id="SH1", status="departed", origin="DC1",
                       destination="ST1", lines=(Line(sku="A", quantity=10, order_id="PO1"),), eta=t[9]),
        OrderEvent(source=source, seq=6, ts=t[6], order_id="PO1", order_type="transfer", status="created",
                   site="ST1", sku="A", quantity=10, origin="DC1", due=t[9]),
        Production(source=source, seq=7, ts=t[7], site="PL1", sku="A", quantity=5,
                   consumed=(Line(sku="R1", quantity=10),)),
        Maintenance(source=source, seq=8, ts=t[8], asset_id="M1", action="failure", detail="bearing"),
        Alert(source=source, seq=9, ts=t[9], code="stale", subject="TRK1", data={"silent_s": 600}),
    ]


def _keys(store: Store, **kw: object) -> list[tuple[str, int]]:
    return [(x.event.source, x.event.seq) for x in store.log.read(**kw)]  # type: ignore[arg-type]


class StoreContract(TableContract):
    """Behaviour every :class:`~supplynet.store.base.Store` must show. Needs a ``store_url`` fixture."""

    @pytest.fixture
    def store(self, store_url: str) -> Iterator[Store]:
        s = open_store(store_url)
        yield s
        s.close()

    # -- basics ----------------------------------------------------------------------------------

    def test_empty(self, store: Store) -> None:
        assert store.log.count() == 0
        assert store.log.last_offset() is None
        assert store.log.high_water("nobody") is None
        assert store.log.high_waters() == {}
        assert list(store.log.read()) == []
        assert store.snapshots.latest_snapshot() is None

    def test_round_trip_of_every_kind(self, store: Store) -> None:
        events = every_kind()
        assert store.log.append(events) == AppendResult(stored=10, duplicates=0)
        got = list(store.log.read())
        assert [x.event for x in got] == events
        assert [x.offset for x in got] == list(range(1, 11))
        assert all(x.received_at.tzinfo is not None for x in got)
        assert store.log.last_offset() == 10 and store.log.count() == 10

    def test_idempotent_by_source_and_seq(self, store: Store) -> None:
        a = [sale("d1", i, i) for i in range(5)]
        assert store.log.append(a + a[:2]) == AppendResult(stored=5, duplicates=2)
        assert store.log.append(a) == AppendResult(stored=0, duplicates=5)
        # the same key with other content is still the same event: the first copy stays
        assert store.log.append([sale("d1", 3, 3, quantity=99)]) == AppendResult(0, 1)
        assert store.log.append([sale("d2", 3, 3)]) == AppendResult(1, 0)
        assert store.log.count() == 6
        assert [x.event.quantity for x in store.log.read(sources=["d1"])] == [1.0] * 5  # type: ignore[attr-defined]

    def test_out_of_order_seqs_and_high_water(self, store: Store) -> None:
        store.log.append([sale("d1", 10), sale("d2", 1)])
        assert store.log.append([sale("d1", 4), sale("d1", 10), sale("d1", 7)]) == AppendResult(2, 1)
        assert store.log.high_water("d1") == 10
        assert store.log.high_waters() == {"d1": 10, "d2": 1}
        assert sorted(s for _, s in _keys(store, sources=["d1"])) == [4, 7, 10]

    def test_durable_across_reopen(self, store: Store, store_url: str) -> None:
        store.log.append([sale("d1", i, i) for i in range(20)])
        store.log.append_batch("d2", [sale("d2", i, i) for i in range(30)])
        before = list(store.log.read())
        store.close()
        with open_store(store_url) as again:
            assert list(again.log.read()) == before
            assert again.log.append([sale("d1", 5, 5)]) == AppendResult(0, 1)
            assert again.log.append([sale("d1", 20, 20)]) == AppendResult(1, 0)
            assert again.log.last_offset() == 51

    def test_closed_store_refuses_work(self, store: Store) -> None:
        store.close()
        with pytest.raises(StoreError, match="closed"):
            store.log.append([sale("d1", 1)])
        with pytest.raises(StoreError, match="closed"):
            store.log.count()

    def test_migrate_is_idempotent(self, store: Store) -> None:
        v = store.schema_version()
        assert v >= 2
        assert store.migrate() == v
        assert store.schema_version() == v

    # -- batches ---------------------------------------------------------------------------------

    def test_batch_is_expanded_on_read(self, store: Store) -> None:
        run = [sale("dev", i, i / 10) for i in range(100)]
        assert store.log.append_batch("dev", run) == AppendResult(100, 0)
        got = list(store.log.read())
        assert [x.event for x in got] == run
        assert [x.offset for x in got] == list(range(1, 101))
        assert store.log.high_water("dev") == 99 and store.log.count() == 100

    def test_batch_sorted_and_deduplicated(self, store: Store) -> None:
        store.log.append([sale("dev", 5, 5), sale("dev", 7, 7)])
        run = [sale("dev", i, i) for i in reversed(range(10))] + [sale("dev", 3, 3)]
        assert store.log.append_batch("dev", run) == AppendResult(stored=8, duplicates=3)
        # a resend that overlaps the end of the stored run
        assert store.log.append_batch("dev", [sale("dev", i, i) for i in range(5, 15)]) == AppendResult(5, 5)
        assert store.log.append_batch("dev", [sale("dev", i, i) for i in range(15)]) == AppendResult(0, 15)
        # singles that fall inside a stored batch are duplicates too
        assert store.log.append([sale("dev", 2, 2), sale("dev", 12, 12)]) == AppendResult(0, 2)
        assert sorted(s for _, s in _keys(store)) == list(range(15))
        assert store.log.count() == 15 and store.log.last_offset() == 15

    def test_append_batches_commits_runs_together(self, store: Store) -> None:
        runs = [("a", [sale("a", i, i) for i in range(5)]), ("b", [sale("b", 1), sale("b", 1)]), ("c", [])]
        assert store.log.append_batches(runs) == [AppendResult(5, 0), AppendResult(1, 1), AppendResult(0, 0)]
        again = store.log.append_batches([("a", [sale("a", i, i) for i in range(3, 8)])])
        assert again == [AppendResult(3, 2)]
        assert sorted(_keys(store)) == [("a", i) for i in range(8)] + [("b", 1)]

    def test_batch_from_one_source_only(self, store: Store) -> None:
        with pytest.raises(EventError, match="another source"):
            store.log.append_batch("dev", [sale("dev", 1), sale("other", 2)])
        assert store.log.count() == 0
        assert store.log.append_batch("dev", []) == AppendResult(0, 0)

    def test_large_batch_split_into_rows_reads_back(self, store: Store) -> None:
        run = [sale("dev", i, i / 100) for i in range(9000)]
        assert store.log.append_batch("dev", run) == AppendResult(9000, 0)
        assert store.log.append_batch("dev", run[4000:5000]) == AppendResult(0, 1000)
        assert [x.event.seq for x in store.log.read(after_offset=4500, limit=3)] == [4500, 4501, 4502]

    # -- reading ---------------------------------------------------------------------------------

    def test_read_filters(self, store: Store) -> None:
        store.log.append(every_kind("a"))
        store.log.append_batch("b", every_kind("b"))  # one row mixing all kinds
        t = [T0 + timedelta(minutes=i) for i in range(10)]
        assert _keys(store, sources=["b"], kinds=["sale", "stock_count"]) == [("b", 3), ("b", 4)]
        assert _keys(store, since=t[8]) == [("a", 8), ("a", 9), ("b", 8), ("b", 9)]
        assert _keys(store, until=t[1]) == [("a", 0), ("b", 0)]
        assert _keys(store, since=ts_to_us(t[2]), until=ts_to_us(t[4])) == [("a", 2), ("a", 3), ("b", 2), ("b", 3)]
        assert _keys(store, after_offset=13, limit=2) == [("b", 3), ("b", 4)]
        assert _keys(store, after_offset=20) == []
        assert _keys(store, kinds=["order"], sources="a") == [("a", 6)]
        assert _keys(store, sources=[]) == [] and _keys(store, limit=0) == []
        assert len(list(store.log.read(kinds=["alert"]))) == 2

    def test_read_rejects_bad_arguments(self, store: Store) -> None:
        with pytest.raises(ValueError, match="order"):
            store.log.read(order="size")  # type: ignore[arg-type]
        with pytest.raises(EventError, match="unknown event kind 'sales'"):
            store.log.read(kinds=["sales"])
        with pytest.raises(ValueError, match="since: timestamp must carry a timezone"):
            store.log.read(since=datetime(2026, 1, 1))

    def test_time_order_merges_rows(self, store: Store) -> None:
        # rows whose time ranges overlap, appended out of time order
        store.log.append_batch("x", [sale("x", i, 10 * i) for i in range(10)])       # 0..90 s
        store.log.append_batch("y", [sale("y", i, 10 * i + 5) for i in range(10)])   # 5..95 s
        store.log.append([sale("z", i, 97 - 11 * i) for i in range(9)])              # 97, 86, ..., 9 s
        store.log.append([sale("w", 0, 40)])                                        # a tie with x:4
        got = list(store.log.read(order="time"))
        assert len(got) == 30
        keys = [(x.event.ts, x.offset) for x in got]
        assert keys == sorted(keys)
        assert [(x.event.source, x.event.seq) for x in got[5:7]] == [("x", 2), ("z", 7)]  # 20 s, by offset
        assert [(x.event.source, x.event.seq) for x in got[11:13]] == [("x", 4), ("w", 0)]  # 40 s
        window = [x.event.ts for x in store.log.read(order="time", since=T0 + timedelta(seconds=30),
                                                     until=T0 + timedelta(seconds=60))]
        assert window == sorted(window) and len(window) == 10
        assert min(window) >= T0 + timedelta(seconds=30) and max(window) < T0 + timedelta(seconds=60)
        assert [x.event.seq for x in store.log.read(order="time", sources=["z"], limit=2)] == [8, 7]

    def test_reads_page_through_many_rows(self, store: Store) -> None:
        n = 2_500  # more rows than one page of a read
        store.log.append([sale(f"d{i % 7}", i, (i * 7919) % n) for i in range(n)])
        by_offset = list(store.log.read())
        assert [x.offset for x in by_offset] == list(range(1, n + 1))
        by_time = [(x.event.ts, x.offset) for x in store.log.read(order="time")]
        assert len(by_time) == n and by_time == sorted(by_time)
        assert len(list(store.log.read(after_offset=1_200, limit=1_100))) == 1_100

    # -- concurrency -----------------------------------------------------------------------------

    def test_concurrent_appends_all_stored_once(self, store: Store) -> None:
        results: list[AppendResult] = []
        lock = threading.Lock()

        def worker(k: int) -> None:
            for i in range(25):
                r = store.log.append([sale(f"t{k}", i, i), sale("shared", i, i)])
                with lock:
                    results.append(r)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        total = sum(results, AppendResult())
        assert total == AppendResult(stored=6 * 25 + 25, duplicates=5 * 25)
        offsets = [x.offset for x in store.log.read()]
        assert offsets == list(range(1, 176))
        assert store.log.high_waters() == {**{f"t{k}": 24 for k in range(6)}, "shared": 24}

    # -- snapshots -------------------------------------------------------------------------------

    def test_snapshots(self, store: Store) -> None:
        a = store.snapshots.save_snapshot(10, 1_000, b"state-a")
        b = store.snapshots.save_snapshot(20, 2_000, b"\x00state-b\xff")
        c = store.snapshots.save_snapshot(25, 2_000, b"state-c")
        assert len({a, b, c}) == 3
        latest = store.snapshots.latest_snapshot()
        assert latest is not None and (latest.id, latest.offset, latest.blob) == (c, 25, b"state-c")
        at = store.snapshots.latest_snapshot(before_ts_us=1_999)
        assert at is not None and (at.offset, at.ts_us, at.blob) == (10, 1_000, b"state-a")
        assert store.snapshots.latest_snapshot(before_ts_us=999) is None

    # -- the outbox -------------------------------------------------------------------------------

    def test_outbox_enqueue_once_per_action_and_sink(self, store: Store) -> None:
        box = store.outbox
        body = {"qty": 3.5, "site": "ST1", "z": [1, "x"], "a": None}
        assert box.enqueue(action_id="A1", action="order", body=body, sinks=["erp", "wms", "erp"],
                           decision_id="D1", at_us=100) == 2
        with store.transaction() as tx:
            n = box.enqueue_tx(tx, action_id="A1", action="order", body={"other": 1}, sinks=["erp", "cmms"],
                               decision_id="D1", at_us=200)
        assert n == 1  # erp was there already: left as it is
        rows = sorted(box.list(), key=lambda r: r.sink)
        assert [(r.sink, r.status, r.attempts, r.next_at_us, r.created_at_us) for r in rows] == [
            ("cmms", "pending", 0, 200, 200), ("erp", "pending", 0, 100, 100), ("wms", "pending", 0, 100, 100)]
        erp = next(r for r in rows if r.sink == "erp")
        assert erp.body == body and erp.decision_id == "D1" and erp.action == "order"
        assert erp.payload() == (b'{"action":"order","action_id":"A1","body":{"a":null,"qty":3.5,"site":"ST1",'
                                 b'"z":[1,"x"]},"decision_id":"D1"}')
        assert box.counts() == {"pending": 3}

    def test_outbox_rolls_back_with_the_transaction(self, store: Store) -> None:
        box = store.outbox
        with pytest.raises(RuntimeError), store.transaction() as tx:
            box.enqueue_tx(tx, action_id="A1", action="alert", body={}, sinks=["erp"], decision_id=None, at_us=1)
            raise RuntimeError("the decision failed")
        assert box.list() == [] and box.counts() == {}

    def test_outbox_due_settle_and_resend(self, store: Store) -> None:
        box = store.outbox
        for i in range(4):
            box.enqueue(action_id=f"A{i}", action="work_order", body={"i": i}, sinks=["cmms"], decision_id=None,
                        at_us=10 * i)
        assert [r.action_id for r in box.due(15, 10)] == ["A0", "A1"]
        assert [r.action_id for r in box.due(1_000, 3)] == ["A0", "A1", "A2"]
        claimed = box.claim(25, 10, lease_us=1_000)
        assert [r.action_id for r in claimed] == ["A0", "A1", "A2"]
        assert [r.action_id for r in box.due(25, 10)] == []  # leased to this dispatcher
        ids = {r.action_id: r.id for r in claimed}
        box.settle(now_us=30, delivered=[ids["A0"]], retry=[(ids["A1"], 500, "HTTP 503")], dead=[(ids["A2"], "HTTP 410")])
        a1 = box.get(ids["A1"])
        assert a1 is not None and (a1.status, a1.attempts, a1.next_at_us, a1.last_error) == ("pending", 1, 500, "HTTP 503")
        assert box.counts() == {"delivered": 1, "pending": 2, "dead": 1}
        assert [r.action_id for r in box.list(status="dead")] == ["A2"]
        assert [r.action_id for r in box.list(status="pending", sink="cmms")] == ["A3", "A1"]
        box.mark_delivered(ids["A0"], now_us=40)  # already delivered: no change
        assert box.get(ids["A0"]).attempts == 1  # type: ignore[union-attr]
        assert box.resend("A0") == 0  # only dead letters go back
        assert box.resend("A2", "other") == 0
        assert box.resend("A2", now_us=50) == 1
        a2 = box.get(ids["A2"])
        assert a2 is not None and (a2.status, a2.attempts, a2.next_at_us, a2.resends) == ("pending", 0, 50, 1)
        with pytest.raises(StoreError, match="status"):
            box.list(status="lost")
        with pytest.raises(StoreError, match="action"):
            box.enqueue(action_id="B", action="teleport", body={}, sinks=["x"], decision_id=None, at_us=0)

    # -- properties ------------------------------------------------------------------------------

    @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        calls=st.lists(
            st.tuples(st.booleans(), st.integers(0, 2), st.lists(st.integers(0, 30), min_size=1, max_size=12)),
            min_size=1, max_size=8,
        )
    )
    def test_each_event_stored_exactly_once(self, store: Store, calls: list[tuple[bool, int, list[int]]]) -> None:
        tag = f"p{next(_unique)}-"
        seen: set[tuple[str, int]] = set()
        for as_batch, dev, seqs in calls:
            source = f"{tag}{dev}"
            events = [sale(source, s, s) for s in seqs]
            r = store.log.append_batch(source, events) if as_batch else store.log.append(events)
            new = {(source, s) for s in seqs} - seen
            assert r == AppendResult(len(new), len(seqs) - len(new))
            seen |= new
        sources = sorted({s for s, _ in seen})
        got = _keys(store, sources=sources)
        assert sorted(got) == sorted(seen) and len(got) == len(seen)
        hw = store.log.high_waters()
        assert {s: hw[s] for s in sources} == {s: max(q for x, q in seen if x == s) for s in sources}
        offsets = [x.offset for x in store.log.read()]
        assert offsets == list(range(1, len(offsets) + 1))

"""The contract of a store's tables beside the log, through the :class:`~supplynet.store.Store`
accessors only (``ingest``, ``devices``, ``decisions``, ``audit``, ``tokens``, ``scenarios``,
``outbox``, ``sink_secrets``, ``brain``) and its write transaction (:meth:`Store.transaction`).

:class:`TableContract` is part of :class:`supplynet.testing.store_contract.StoreContract`: a backend
that passes it runs the ingest gate (wire batches and the gate's bookkeeping in one transaction), the
loop's decision recorder (decisions, outbox rows, checkpoint and lease in one transaction), the
outbox dispatcher and the devices, tokens, audit and quarantine commands. Each test checks round
trips, the uniqueness and deduplication rules and the order of what is listed, with exact
expectations, so every backend gives the same answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ..errors import DataError, DecisionError, ParameterError, StoreError
from ..events import ColumnRun, Sale, dumps, ts_to_us
from ..store import AppendResult, Store
from ..store.audit import AuditKey, set_audit_key
from ..store.brain import NotLeader
from ..store.decisions import DecisionRow
from ..store.quarantine import IngestBatch
from ..store.scenarios import ScenarioRow
from ..store.tokens import TokenRow

__all__ = ["TableContract"]

_T0 = datetime(2026, 3, 1, tzinfo=UTC)
_T0_US = ts_to_us(_T0)


def _sale(source: str, seq: int) -> Sale:
    return Sale(source=source, seq=seq, ts=_T0 + timedelta(seconds=seq), site="ST1", sku="A", quantity=1.0 + seq)


def _wire(source: str, seqs: range) -> list[tuple[int, int, str, str]]:
    return [(s, _T0_US + s * 1_000_000, "sale", dumps(_sale(source, s))) for s in seqs]


def _made(did: str, status: str = "proposed") -> Any:
    return lambda no: (did, status, {"id": did, "no": no})


class TableContract:
    """Behaviour of every table of a :class:`~supplynet.store.Store`. Needs a ``store`` fixture."""

    @pytest.fixture(autouse=True)
    def _audit_key(self) -> Iterator[None]:
        """A fixed audit key for the test (every table change is recorded in the keyed audit chain)."""
        set_audit_key(AuditKey(b"\x07" * 32))
        yield
        set_audit_key(None)

    # -- the write transaction and the wire batches (the ingest gate) -----------------------------

    def test_wire_batches_commit_with_the_gate_bookkeeping(self, store: Store) -> None:
        batch = IngestBatch()
        batch.count("dev", "stored", 3)
        batch.acks["dev"] = 2
        with store.transaction() as tx:
            res = store.log.append_wire_batches_tx(tx, [("dev", _wire("dev", range(3)))])
            store.ingest.record_tx(tx, batch)
        assert res == [AppendResult(3, 0)]
        assert [x.event for x in store.log.read()] == [_sale("dev", s) for s in range(3)]
        assert store.ingest.acks() == {"dev": 2} and store.ingest.counters() == {"dev": {"stored": 3}}
        # a transaction that raises leaves nothing of either behind, and the log goes on after it
        with pytest.raises(RuntimeError), store.transaction() as tx:
            store.log.append_wire_batches_tx(tx, [("dev", _wire("dev", range(3, 6))), ("d2", _wire("d2", range(2)))])
            store.ingest.record_tx(tx, IngestBatch(acks={"dev": 5, "d2": 1}, counts={("dev", "stored"): 3}))
            raise RuntimeError("the gate failed")
        assert store.log.count() == 3 and store.log.high_waters() == {"dev": 2}
        assert store.ingest.acks() == {"dev": 2} and store.ingest.counters() == {"dev": {"stored": 3}}
        assert store.log.append_wire_batches([("dev", _wire("dev", range(1, 5)))]) == [AppendResult(2, 2)]
        assert [x.offset for x in store.log.read()] == [1, 2, 3, 4, 5]

    def test_column_runs_read_back_and_deduplicate(self, store: Store) -> None:
        head = {"v": 1, "kind": "sale", "source": "till", "site": "ST1", "sku": "A"}

        def run(seqs: list[int]) -> ColumnRun:
            return ColumnRun(head, seqs, [_T0_US + s for s in seqs], {"quantity": [float(s) for s in seqs]})

        assert store.log.append_wire_batches([("till", run(list(range(10, 20))))]) == [AppendResult(10, 0)]
        assert store.log.append_wire_batches([("till", run([5, 12, 19, 20]))]) == [AppendResult(2, 2)]
        got = [x.event for x in store.log.read()]
        assert got == run(list(range(10, 20))).events() + run([5, 20]).events()
        assert [(e.seq, e.quantity) for e in got][-2:] == [(5, 5.0), (20, 20.0)]  # type: ignore[attr-defined]
        assert store.log.high_water("till") == 20

    def test_has_table_and_a_healthy_check(self, store: Store) -> None:
        assert store.has_table("events") and not store.has_table("no_such_table")
        store.log.append([_sale("dev", 1)])
        store.audit.append("tester", "test.start")
        problems, _ = store.check()
        assert problems == []

    # -- ingest bookkeeping (quarantine, late events, counters, acks) ------------------------------

    def test_ingest_counters_add_up_and_acks_only_go_up(self, store: Store) -> None:
        store.ingest.record(IngestBatch(counts={("a", "stored"): 2, ("a", "signature"): 1}, acks={"a": 5, "b": 1}))
        store.ingest.record(IngestBatch(counts={("a", "stored"): 3, ("b", "stored"): 1}, acks={"a": 3, "b": 4}))
        store.ingest.record(IngestBatch())  # nothing to write
        assert store.ingest.counters() == {"a": {"signature": 1, "stored": 5}, "b": {"stored": 1}}
        assert store.ingest.counters("b") == {"b": {"stored": 1}}
        assert store.ingest.acks() == {"a": 5, "b": 4}

    def test_quarantine_lists_newest_first_and_prunes(self, store: Store) -> None:
        rows = [(10, "a", "signature", "bad sig", "mqtt", 3, b"\x00ab"), (20, "b", "schema", "no ts", "http", 2, b"{}"),
                (30, "a", "schema", "no seq", "http", 2, b"[]")]
        store.ingest.record(IngestBatch(quarantine=rows))
        got = store.ingest.quarantined()
        assert [(q.at_us, q.device, q.reason, q.detail, q.adapter, q.size, q.raw) for q in got] == rows[::-1]
        assert [q.at_us for q in store.ingest.quarantined(device="a")] == [30, 10]
        assert [q.at_us for q in store.ingest.quarantined(reason="schema", limit=1)] == [30]
        assert [q.at_us for q in store.ingest.quarantined(before_id=got[0].id)] == [20, 10]
        entry = store.ingest.quarantine_entry(got[-1].id)
        assert entry is not None and entry.raw == b"\x00ab" and store.ingest.quarantine_entry(10**9) is None
        assert store.ingest.quarantine_counts() == {"schema": 2, "signature": 1}
        assert store.ingest.prune_quarantine(25, reason="schema") == 1
        assert store.ingest.prune_quarantine(25) == 1
        assert [q.at_us for q in store.ingest.quarantined()] == [30]

    def test_late_events_are_kept_once_in_time_order(self, store: Store) -> None:
        late = [("a", 2, 200, "sale", "{}", 1), ("b", 1, 100, "sale", "{}", 1), ("a", 2, 999, "sale", "{}", 2)]
        store.ingest.record(IngestBatch(late=late))
        store.ingest.record(IngestBatch(late=late[:1]))
        assert store.ingest.late_count() == 2
        assert store.ingest.late() == [("b", 1, 100, "sale", "{}"), ("a", 2, 200, "sale", "{}")]
        assert store.ingest.late(sources=["a"]) == [("a", 2, 200, "sale", "{}")]

    # -- devices --------------------------------------------------------------------------------

    def test_devices_round_trip_with_a_generation_and_audit(self, store: Store) -> None:
        devices = store.devices
        assert devices.get_device("d1") is None and devices.all_devices() == [] and devices.devices_generation() == 0
        devices.put_device("d2", {"device_id": "d2", "kind": "shelf", "keys": [{"kid": "k1"}]})
        devices.acting_as("admin:ann").put_device("d1", {"device_id": "d1", "kind": "truck", "keys": []})
        g = devices.devices_generation()
        devices.put_device("d2", {"device_id": "d2", "kind": "shelf", "keys": [{"kid": "k2"}]})
        assert devices.devices_generation() > g
        assert devices.get_device("d2") == {"device_id": "d2", "kind": "shelf", "keys": [{"kid": "k2"}]}
        assert [d["device_id"] for d in devices.all_devices()] == ["d1", "d2"]
        assert [(e.actor, e.action, e.subject) for e in store.audit.entries()] == [
            ("supplynet", "device.provision", "d2"), ("admin:ann", "device.provision", "d1"),
            ("supplynet", "device.rotate", "d2")]

    # -- decisions ------------------------------------------------------------------------------

    def test_decisions_numbered_once_per_idempotency_key(self, store: Store) -> None:
        t = store.decisions
        a, new = t.insert(_made("D1"), kind="replenish", cost=10.0, day="2026-03-01", idem_key="k1",
                          audit=("planner:ann", "decision.propose", {}))
        assert new and (a.no, a.id, a.status, a.record) == (1, "D1", "proposed", {"id": "D1", "no": 1})
        again, new = t.insert(_made("D9"), kind="replenish", cost=99.0, day="2026-03-01", idem_key="k1",
                              audit=("planner:ann", "decision.propose", {}))
        assert not new and (again.no, again.id, again.cost) == (1, "D1", 10.0)
        with pytest.raises(DecisionError):
            t.insert(_made("D2"), kind="replenish", cost=1.0, day="2026-03-01", idem_key=None, audit=None)
        rows = t.insert_many([(_made("D2", "executed"), "rebalance", 5.0, "2026-03-01", ("p", "decision.auto", {})),
                              (_made("D3", "approved"), "replenish", 7.0, "2026-03-02", ("p", "decision.auto", {}))])
        assert [(r.no, r.id) for r in rows] == [(2, "D2"), (3, "D3")]
        assert [r.id for r in t.list()] == ["D3", "D2", "D1"]
        assert [r.id for r in t.list(status="proposed")] == ["D1"]
        assert [r.id for r in t.list(before_no=3)] == ["D2", "D1"]
        assert t.get("D2") == rows[0] and t.get("nope") is None
        assert t.counts() == {("replenish", "proposed"): 1, ("rebalance", "executed"): 1, ("replenish", "approved"): 1}
        assert t.spent("replenish", "2026-03-02") == 7.0 and t.spent("replenish", "2026-03-01") == 0.0
        assert [e.subject for e in store.audit.entries()] == ["D1", "D2", "D3"]

    def test_decisions_compare_and_set(self, store: Store) -> None:
        t = store.decisions
        row, _ = t.insert(_made("D1"), kind="maintain", cost=3.0, day="2026-03-01", idem_key=None,
                          audit=("p", "decision.propose", {}))
        done = t.update("D1", expect_status="proposed", status="approved", record={"ok": 1}, audit=("a", "approve", {}))
        assert (done.status, done.record, done.no) == ("approved", {"ok": 1}, 1)
        with pytest.raises(DecisionError, match="approved"):
            t.update("D1", expect_status="proposed", status="rejected", record={}, audit=("a", "reject", {}))
        with pytest.raises(DecisionError):
            t.update("D7", expect_status="proposed", status="rejected", record={}, audit=("a", "reject", {}))
        with pytest.raises(DecisionError):
            t.update_many([(row, "proposed", "executed", {}, ("a", "execute", {}))])
        assert t.get("D1").status == "approved"  # type: ignore[union-attr]
        assert t.version()[0] == 1

    def test_the_loops_decisions_deduplicate_inside_its_transaction(self, store: Store) -> None:
        t = store.decisions
        with store.transaction() as tx:
            no = t.next_no_tx(tx)
            t.insert_tx(tx, DecisionRow(no, "D1", "reroute", "executed", 4.0, 1, 1, "2026-03-01", None, {"a": 1},
                                        "reroute:SH1:e1"), [("platform", "decision.auto", {})])
            assert t.spent_tx(tx, "reroute", "2026-03-01") == 4.0
            store.brain.set_checkpoint_tx(tx, "main", 42, 7)
            assert store.outbox.enqueue_tx(tx, action_id="act-D1", action="reroute", body={"x": 1}, sinks=["erp"],
                                           decision_id="D1", at_us=1) == 1
        with store.transaction() as tx:
            known = t.by_dedupe_tx(tx, ["reroute:SH1:e1", "other"])
            assert list(known) == ["reroute:SH1:e1"] and known["reroute:SH1:e1"].id == "D1"
            assert t.next_no_tx(tx) == 2
        with pytest.raises(StoreError), store.transaction() as tx:  # the dedupe key is unique
            t.insert_tx(tx, DecisionRow(2, "D2", "reroute", "executed", 4.0, 1, 1, "2026-03-01", None, {},
                                        "reroute:SH1:e1"), [])
        assert t.loop_counts() == {("reroute", "executed"): 1}
        cp = store.brain.checkpoint("main")
        assert cp is not None and (cp.offset, cp.clock_us) == (42, 7)
        assert [r.action_id for r in store.outbox.list()] == ["act-D1"]

    def test_settings_and_request_idempotency(self, store: Store) -> None:
        t = store.decisions
        assert t.setting("autonomy_policy") is None
        t.put_setting("autonomy_policy", '{"a": 1}', ("admin:ann", "policy.set", {}))
        t.put_setting("autonomy_policy", '{"a": 2}', ("admin:ann", "policy.set", {}))
        assert t.setting("autonomy_policy") == '{"a": 2}'
        assert t.idempotent_response("req-1") is None
        t.remember_response("req-1", "planner:ann", "POST /x", 201, {"id": "D1"})
        t.remember_response("req-1", "planner:bob", "POST /y", 409, {"id": "D2"})  # the first answer stays
        assert t.idempotent_response("req-1") == ("planner:ann", "POST /x", 201, {"id": "D1"})

    # -- the audit chain ------------------------------------------------------------------------

    def test_audit_chain_links_entries_in_order(self, store: Store) -> None:
        a = store.audit
        assert a.head() == (0, "0" * 64) and a.entries() == [] and a.verify().ok
        e1 = a.append("cli:root", "token.create", "T1", {"role": "admin"})
        with store.transaction() as tx:
            e2 = a.append_tx(tx, "admin:ann", "device.revoke", "d1")
        with pytest.raises(RuntimeError), store.transaction() as tx:
            a.append_tx(tx, "admin:ann", "device.revoke", "d2")
            raise RuntimeError("rolled back")
        assert (e1.seq, e2.seq, e2.prev_hash) == (1, 2, e1.hash)
        assert a.head() == (2, e2.hash) and a.hash_at(1) == e1.hash and a.hash_at(3) is None
        assert [e.seq for e in a.entries()] == [1, 2] and [e.seq for e in a.entries(newest_first=True)] == [2, 1]
        assert a.entries(actor="admin:ann") == [e2] and a.entries(after_seq=1) == [e2]
        assert a.entries()[0].detail == {"role": "admin"}
        res = a.verify()
        assert res.ok and res.entries == 2 and res.head_seq == 2 and res.keyed_from == 1

    def test_audit_checkpoints_sign_the_head(self, store: Store) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        key = Ed25519PrivateKey.generate()
        with pytest.raises(DataError, match="empty"):
            store.audit.checkpoint(key, 1)
        assert store.audit.latest_checkpoint() is None
        store.audit.append("cli:root", "test.one")
        e = store.audit.append("cli:root", "test.two")
        cp = store.audit.checkpoint(key, 5)
        assert (cp.seq, cp.hash, cp.at_us) == (2, e.hash, 5)
        assert store.audit.latest_checkpoint() == cp and store.audit.check_anchor(cp) == []

    # -- API tokens and people ------------------------------------------------------------------

    def test_tokens_round_trip_people_and_revocation(self, store: Store) -> None:
        t = store.tokens
        rows = [TokenRow("T1", "ann-laptop", "admin", "h1", 10, None, None, "cli:root", None, "ann"),
                TokenRow("T2", "bob", "planner", "h2", 20, 99, None, "admin:ann", None, "bob"),
                TokenRow("T3", "ann-ci", "viewer", "h3", 30, None, None, "admin:ann", None, "ann")]
        for r in reversed(rows):
            t.insert(r)
        assert t.all() == rows and t.get("T2") == rows[1] and t.get("T9") is None
        with pytest.raises(StoreError):
            t.insert(rows[0])  # a token id is unique
        assert t.people() == {"ann": ["admin", "viewer"], "bob": ["planner"]}
        assert t.sponsors("T2") == {"admin:ann", "cli:root"} and t.sponsors(person="ann") == {"admin:ann", "cli:root"}
        assert t.revoke("T2", 50, "admin:ann") and t.revoke("T2", 60, "admin:ann") and not t.revoke("T9", 50, "x")
        assert t.get("T2").revoked_at == 50  # type: ignore[union-attr]
        t.touch("T1", 100_000_000)
        t.touch("T1", 100_000_001)  # within a minute: not recorded again
        assert t.get("T1").last_used_at == 100_000_000  # type: ignore[union-attr]
        assert [e.action for e in store.audit.entries()] == ["token.create"] * 3 + ["token.revoke"]

    # -- scenario runs --------------------------------------------------------------------------

    def test_scenario_runs_from_queued_to_done(self, store: Store) -> None:
        t = store.scenarios
        for i, at in enumerate((100, 300, 200)):
            t.insert(ScenarioRow(f"R{i}", "queued", {"days": i}, "planner:ann", at, None, None, None),
                     audit=("planner:ann", "scenario.run") if i == 0 else None)
        with pytest.raises(ParameterError):
            t.insert(ScenarioRow("Rx", "lost", {}, "x", 1, None, None, None))
        with pytest.raises(StoreError):
            t.insert(ScenarioRow("R0", "queued", {}, "x", 1, None, None, None))  # a run id is unique
        t.started("R0", 110)
        t.finished("R0", 120, results={"fill_rate": 0.97, "runs": [1, 2]})
        t.started("R1", 310)
        with pytest.raises(ParameterError):
            t.finished("R2", 1)
        assert t.get("R0") == ScenarioRow("R0", "done", {"days": 0}, "planner:ann", 100, 110, 120, None)
        assert t.results("R0") == {"fill_rate": 0.97, "runs": [1, 2]} and t.results("R1") is None
        assert [r.id for r in t.list()] == ["R1", "R2", "R0"] and [r.id for r in t.list(limit=1)] == ["R1"]
        assert t.interrupt_unfinished(400, "the service stopped") == 2
        assert [(r.status, r.error) for r in t.list()][:2] == [("failed", "the service stopped")] * 2
        assert [e.subject for e in store.audit.entries()] == ["R0"]

    # -- the sinks' secrets ---------------------------------------------------------------------

    def test_a_sink_keeps_its_first_secret(self, store: Store) -> None:
        assert store.sink_secrets.get("erp") is None
        assert store.sink_secrets.put_if_absent("erp", "sealed-1", "v1", 1) == ("sealed-1", "v1")
        assert store.sink_secrets.put_if_absent("erp", "sealed-2", "v2", 2) == ("sealed-1", "v1")
        assert store.sink_secrets.get("erp") == ("sealed-1", "v1")

    # -- the brain's tables (lease, checkpoint, state, network) ---------------------------------

    def test_one_leader_by_lease_with_fencing(self, store: Store) -> None:
        b = store.brain
        assert b.lease("main") is None and b.checkpoint("main") is None
        assert b.acquire("main", "p1", 60) == 1
        assert b.acquire("main", "p2", 60) is None  # held and not expired
        assert b.acquire("main", "p1", 60) == 2  # ours: renewed with a new epoch
        assert b.take_over("main", "p2", 60) == 3
        with pytest.raises(NotLeader), store.transaction() as tx:
            b.check_lease_tx(tx, "main", "p1", 2, 60)
        with store.transaction() as tx:
            b.check_lease_tx(tx, "main", "p2", 3, 60)
        b.release("main", "p1")  # not the holder: nothing changes
        assert b.lease("main")[:2] == ("p2", 3)  # type: ignore[index]
        b.release("main", "p2")
        assert b.acquire("main", "p1", 60) == 4  # released: free to take

    def test_loop_state_and_the_network_the_store_runs(self, store: Store) -> None:
        b = store.brain
        assert b.state("main") is None and b.network() is None
        b.save_state("main", 10, b"\x00one")
        b.save_state("main", 20, b"two\xff")
        assert b.state("main") == (20, b"two\xff")
        rec, wrote = b.record_network("sites: []\n", "tiny")
        assert wrote and (rec.name, rec.content) == ("tiny", "sites: []\n")
        same, wrote = b.record_network("sites: [x]\n", "other")
        assert not wrote and same == rec  # a different network is kept out unless replaced
        new, wrote = b.record_network("sites: [x]\n", "other", replace=True)
        assert wrote and b.network() == new and new.sha256 != rec.sha256

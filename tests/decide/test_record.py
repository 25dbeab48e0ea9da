"""One transaction for the loop's decisions, actions, alerts, outbox rows and checkpoint; dedupe keys
make a re-made decision the same row; a deposed leader commits nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from supplynet.decide.autonomy import AutonomyPolicy, KindPolicy
from supplynet.decide.decision import DECIDE_SOURCE, Decision, OrderAction, WorkOrderAction
from supplynet.decide.record import dedupe_key, record, subject_of
from supplynet.events import Alert
from supplynet.store import open_store
from supplynet.store.brain import BrainTables, NotLeader

NOW = datetime(2026, 1, 5, 10, tzinfo=UTC)
AUTO = AutonomyPolicy(high_impact_cost=1e12, costly_action_cost=1e12,
                      kinds={k: KindPolicy(level="auto") for k in ("replenish", "maintain")})


def _batch(trigger="2026-01-05T10:00:00Z"):
    ds = [Decision(kind="replenish", created_at=NOW, cost=10.0, why="below s",
                   action=OrderAction(site="DC1", sku="A", quantity=5, origin="SUP", order_type="purchase")),
          Decision(kind="maintain", created_at=NOW, cost=100.0, why="risk",
                   action=WorkOrderAction(asset_id="M1"))]
    return [d.model_copy(update={"dedupe_key": dedupe_key(d.kind, subject_of(d), trigger)}) for d in ds]


def _alert(seq=1):
    return Alert(source="supplynet.sense", seq=seq, ts=NOW, code="anomaly_onset", subject="M1", severity="warning")


def test_a_re_made_decision_is_the_same_row_and_nothing_is_written_twice(tmp_path):
    rows = []

    def outbox(tx, **kw):
        rows.append(kw)

    with open_store(tmp_path / "s.db") as st:
        first = record(st, _batch(), AUTO, alerts=[_alert()], outbox=outbox, checkpoint=("main", 7, 123))
        assert [s.created for s in first.submitted] == [True, True]
        assert [s.decision.status for s in first.submitted] == ["executed", "executed"]
        assert {r["action"] for r in rows} == {"order", "work_order", "alert"}
        assert {r["action_id"] for r in rows} == {"act-D0000001", "act-D0000002", f"alert-{_alert().event_id}"}
        n_events = st.log.count()
        again = record(st, _batch(), AUTO, alerts=[_alert()], outbox=outbox, checkpoint=("main", 9, 456))
        assert [s.created for s in again.submitted] == [False, False]
        assert [s.decision.id for s in again.submitted] == ["D0000001", "D0000002"]
        # the same action events come back (applied to the twin again without effect), none stored twice
        assert [e.event_id for s in again.submitted for e in s.events] == \
               [e.event_id for s in first.submitted for e in s.events]
        assert st.log.count() == n_events and len(rows) == 4  # the alert's row again: the outbox ignores it
        assert len(st.decisions.list(limit=100)) == 2
        assert st.brain.checkpoint("main").offset == 9
        other = record(st, _batch("2026-01-05T11:00:00Z"), AUTO)
        assert [s.decision.id for s in other.submitted] == ["D0000003", "D0000004"]
        assert {e.event.source for e in st.log.read()} == {DECIDE_SOURCE, "supplynet.sense"}


def test_a_deposed_leader_commits_nothing(tmp_path):
    with open_store(tmp_path / "s.db") as st:
        t = st.brain
        old = t.take_over("main", "a", 30)
        new = t.take_over("main", "b", 30)
        assert (old, new) == (1, 2)

        def guard(tx):
            BrainTables.check_lease_tx(tx, "main", "a", old, 30)

        with pytest.raises(NotLeader, match="led by b"):
            record(st, _batch(), AUTO, alerts=[_alert()], checkpoint=("main", 5, 0), guard=guard)
        assert st.decisions.list(limit=10) == [] and st.log.count() == 0
        assert t.checkpoint("main") is None
        record(st, _batch(), AUTO, guard=lambda tx: BrainTables.check_lease_tx(tx, "main", "b", new, 30))
        assert len(st.decisions.list(limit=10)) == 2


def test_only_keyed_platform_decisions_are_recorded(tmp_path):
    from supplynet.errors import DecisionError

    with open_store(tmp_path / "s.db") as st, pytest.raises(DecisionError, match="dedupe_key"):
        record(st, [_batch()[0].model_copy(update={"dedupe_key": None})], AUTO)

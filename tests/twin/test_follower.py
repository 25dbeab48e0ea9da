"""The one log follower: every event once, in log order, after the twin folded it; snapshots when due."""

from __future__ import annotations

import pytest

from supplynet.events import Alert, Maintenance, Sale
from supplynet.store import open_store
from supplynet.twin import Follower, Observer, RulIndex, SnapshotEvery, Twin, Watcher, WorkOrderIndex


def _sales(n, start=1, source="till"):
    return [Sale(source=source, seq=i, ts=f"2026-01-01T{8 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
                 site="S1", sku="A", quantity=1) for i in range(start, start + n)]


class Recorder:
    def __init__(self):
        self.seen = []

    def observe(self, event, twin):
        # the twin has folded the event already
        self.seen.append((event.seq, twin.state.position("S1", "A").sold))


def test_subscribers_see_each_event_once_in_order_after_the_twin(tmp_path):
    with open_store(tmp_path / "s.db") as store:
        store.log.append(_sales(5))
        rec = Recorder()
        f = Follower(store, Twin(), [rec])
        assert f.lag() == 5
        assert f.poll() == 5 and f.poll() == 0
        store.log.append_batch("till", _sales(3, start=6))  # a batch row: consecutive offsets
        assert f.poll(limit=2) == 2 and f.poll() == 1
        assert rec.seen == [(i, float(i)) for i in range(1, 9)]
        assert f.lag() == 0 and f.twin.offset == store.log.last_offset()


def test_stop_leaves_the_event_for_the_next_poll(tmp_path):
    with open_store(tmp_path / "s.db") as store:
        store.log.append_batch("till", _sales(6))
        rec = Recorder()
        f = Follower(store, Twin(), [rec])
        assert f.poll(stop=lambda e: e.seq == 4) == 3
        assert f.poll() == 3
        assert [s for s, _ in rec.seen] == [1, 2, 3, 4, 5, 6]


def test_protocols_and_a_subscriber_without_observe_is_refused(tmp_path):
    assert isinstance(Recorder(), Observer) and not isinstance(Recorder(), Watcher)
    with open_store(tmp_path / "s.db") as store, pytest.raises(TypeError, match="observe"):
        Follower(store, Twin(), [object()])


def test_catch_up_and_projections_go_through_the_follower(tmp_path):
    with open_store(tmp_path / "s.db") as store:
        store.log.append([
            Maintenance(source="cmms", seq=1, ts="2026-01-01T08:00:00Z", asset_id="M1", action="work_order_opened",
                        work_order_id="WO-D0000001"),
            Maintenance(source="cmms", seq=2, ts="2026-01-01T09:00:00Z", asset_id="M1", action="started",
                        work_order_id="WO-D0000001"),
            Alert(source="supplynet.sense", seq=1, ts="2026-01-01T09:00:00Z", code="rul", subject="M1",
                  data={"median": 40.0}),
        ])
        wo, rul = WorkOrderIndex(), RulIndex()
        twin = Twin()
        Follower(store, twin, [wo, rul]).poll()
        assert wo.items["WO-D0000001"]["status"] == "in_progress"
        assert wo.items["WO-D0000001"]["decision_id"] == "D0000001"
        assert rul.items["M1"]["median"] == 40.0
        again = Twin()
        assert again.catch_up(store) == 3 and again.offset == twin.offset


def test_snapshots_when_due_and_a_rebuild_folds_only_the_tail(tmp_path):
    with open_store(tmp_path / "s.db") as store:
        store.log.append_batch("till", _sales(10))
        f = Follower(store, Twin(), snapshots=SnapshotEvery(events=4, seconds=3600))
        f.poll(limit=3)
        assert not f.snapshot_due()
        f.poll(limit=1)
        assert f.snapshot_due()
        f.save_snapshot()
        assert store.snapshots.latest_snapshot().offset == 4 and not f.snapshot_due()
        rebuilt = Twin.rebuild(store)
        assert rebuilt.state.events_applied == 10 and rebuilt.state.position("S1", "A").sold == 10.0
        with pytest.raises(ValueError, match="events"):
            SnapshotEvery(events=0)


def test_a_subscriber_declaring_kinds_sees_only_those(tmp_path):
    class Kinds(Recorder):
        kinds = frozenset({"maintenance"})

        def observe(self, event, twin):
            self.seen.append(event.kind)

    class Everything(Recorder):
        def observe(self, event, twin):
            self.seen.append(event.kind)

    with open_store(tmp_path / "s.db") as store:
        store.log.append(_sales(3) + [
            Maintenance(source="cmms", seq=1, ts="2026-01-01T08:00:00Z", asset_id="M1", action="failure")])
        only, every = Kinds(), Everything()
        f = Follower(store, Twin(), [only, every])
        assert f.poll() == 4
        assert only.seen == ["maintenance"] and every.seen == ["sale"] * 3 + ["maintenance"]

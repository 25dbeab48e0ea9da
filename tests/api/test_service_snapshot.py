"""The API's twin service resumes from its latest snapshot and folds only the log's tail, with the same
numbers as a fold of the whole log: inventory, assets, and the work-order and RUL projections (they are
the twin's own, so the snapshot carries them). A snapshot it cannot read is refused and the log folded."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta

from supplynet.api.service import TwinService
from supplynet.events import Alert, Maintenance, Position, Sale, StockCount
from supplynet.store import open_store
from supplynet.twin import SnapshotEvery, Twin
from supplynet.twin._snapshot import MAGIC

T = datetime(2026, 1, 5, 8, tzinfo=UTC)


def _events(first: int, n: int) -> list:
    """Sales, counts, GPS, work orders opened/started/completed and RUL estimates, seq ``first`` on."""
    out = []
    for i in range(first, first + n):
        at = T + timedelta(minutes=i)
        out.append(Sale(source="till", seq=i, ts=at, site="STORE-1", sku="MILK-2L", quantity=1 + i % 3))
        out.append(Position(source="gps", seq=i, ts=at, asset_id="TRUCK-1", lat=52.4 + i * 1e-4, lon=-1.5))
        if i % 7 == 0:
            out.append(StockCount(source="rfid", seq=i, ts=at, site="DC-1", sku="MILK-2L", quantity=400 + i,
                                  method="manual"))
        if i % 10 == 0:
            wo = f"WO-{i}"
            out.append(Maintenance(source="cmms", seq=3 * i, ts=at, asset_id="OVEN-1", action="work_order_opened",
                                   work_order_id=wo, detail=f"check {i}"))
            out.append(Maintenance(source="cmms", seq=3 * i + 1, ts=at, asset_id="OVEN-1", action="started",
                                   work_order_id=wo))
            if i % 20 == 0:
                out.append(Maintenance(source="cmms", seq=3 * i + 2, ts=at, asset_id="OVEN-1", action="completed",
                                       work_order_id=wo))
        if i % 5 == 0:
            out.append(Alert(source="supplynet.sense", seq=i, ts=at, code="rul", subject="OVEN-1", severity="info",
                             data={"low": 10.0 + i, "median": 20.0 + i, "high": 30.0 + i}))
    return out


def _same(a: Twin, b: Twin) -> None:
    assert a.offset == b.offset
    assert a.state.inventory == b.state.inventory and a.state.assets == b.state.assets
    assert a.state.work_orders == b.state.work_orders and a.state.rul == b.state.rul
    assert a.state == b.state


def test_a_restart_folds_only_the_tail_after_the_snapshot(tmp_path, tiny):
    with open_store(tmp_path / "s.db") as st:
        head = _events(1, 60)
        st.log.append(head)
        first = TwinService(st, tiny, refresh_s=0.0, snapshots=SnapshotEvery(events=50))
        assert first.resumed_from is None and first.folded == len(head)  # no snapshot yet: the whole log
        snap = st.snapshots.latest_snapshot(name="api")
        assert snap is not None and snap.offset == len(head)  # written once due
        assert len(first.work_orders) == 6 and first.work_orders["WO-20"]["status"] == "completed"

        tail = _events(61, 25)
        st.log.append(tail)
        second = TwinService(st, tiny, refresh_s=0.0, snapshots=SnapshotEvery(events=10_000))
        assert second.resumed_from == len(head)
        assert second.folded == len(tail)  # the tail only, not the whole log
        full = Twin.rebuild(st, tiny, use_snapshot=False)
        _same(second.twin, full)
        assert second.work_orders["WO-70"]["status"] == "in_progress"
        assert second.work_orders["WO-80"]["status"] == "completed"
        assert second.work_orders["WO-30"]["opened_at"] == T + timedelta(minutes=30)
        assert second.rul["OVEN-1"]["median"] == 20.0 + 85


def test_the_routes_show_the_same_after_a_restart(tmp_path, tiny):
    from supplynet.api.schemas import WorkOrderPublic

    with open_store(tmp_path / "s.db") as st:
        st.log.append(_events(1, 40))
        TwinService(st, tiny, refresh_s=0.0, snapshots=SnapshotEvery(events=1))
        st.log.append(_events(41, 5))
        svc = TwinService(st, tiny, refresh_s=0.0)
        assert svc.folded < 20
        wos = [WorkOrderPublic(**dict(w)) for w in svc.work_orders.values()]  # what GET /v1/work-orders builds
        assert sorted(w.work_order_id for w in wos) == ["WO-10", "WO-20", "WO-30", "WO-40"]


def test_an_unreadable_snapshot_is_refused_and_the_log_folded(tmp_path, tiny):
    with open_store(tmp_path / "s.db") as st:
        events = _events(1, 30)
        st.log.append(events)
        old = MAGIC + zlib.compress(b'{"format": 2, "offset": 30, "state": {}}')  # before the projections
        st.snapshots.save_snapshot(len(events), 0, old, name="api")
        svc = TwinService(st, tiny, refresh_s=0.0)
        assert svc.resumed_from is None and svc.folded == len(events)
        _same(svc.twin, Twin.rebuild(st, tiny, use_snapshot=False))
        assert len(svc.work_orders) == 3


def test_another_writers_snapshot_is_not_the_services(tmp_path, tiny):
    """A loop's snapshot carries its own decisions' events applied ahead of its offset: the API resumes
    only from its own."""
    with open_store(tmp_path / "s.db") as st:
        st.log.append(_events(1, 10))
        Twin.rebuild(st, tiny, use_snapshot=False).save_snapshot(st, "main")
        svc = TwinService(st, tiny, refresh_s=0.0)
        assert svc.resumed_from is None

"""Twin snapshots are data (compressed JSON), never pickle: they round-trip every record exactly, and
a pickled snapshot -- from an earlier version or planted in the store -- is refused without being
unpickled; the twin then replays the log instead."""

from __future__ import annotations

import pickle
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings

from supplynet.errors import DataError
from supplynet.events import Line, MachineReading, OrderEvent, Position, Sale, ShipmentStatus
from supplynet.store import open_store
from supplynet.testing.strategies import event_streams
from supplynet.twin import Twin, TwinState
from supplynet.twin._snapshot import MAGIC

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _events():
    return [
        OrderEvent(source="erp", seq=1, ts=T0, order_id="PO1", order_type="purchase", status="created", site="DC",
                   sku="A", quantity=100.5),
        ShipmentStatus(source="erp", seq=2, ts=T0 + timedelta(hours=1), shipment_id="S1", status="departed",
                       origin="SUP", destination="DC", lines=(Line(sku="A", quantity=60, order_id="PO1"),)),
        Position(source="trk", seq=3, ts=T0 + timedelta(hours=2, microseconds=7), asset_id="TRK-1", shipment_id="S1",
                 lat=51.5, lon=-0.12),
        Sale(source="pos", seq=4, ts=T0 + timedelta(hours=3), site="ST", sku="B", quantity=2, unfilled=1),
        MachineReading(source="vib", seq=5, ts=T0 + timedelta(hours=4), asset_id="M1", cycle=3,
                       sensors={"s2": 641.82, "s3": 1589.7}, settings={"op1": -0.0007}),
    ]


class _Boom:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('PWNED').write_text('ran')",))


def test_snapshot_round_trips_every_record_and_is_not_a_pickle():
    twin = Twin(state=TwinState(untracked_sites=frozenset({"SUP"}), lost_sales_sites=frozenset({"ST"})))
    twin.apply_many(_events())
    twin.offset = 5
    blob = twin.to_snapshot()
    assert blob.startswith(MAGIC) and b"\x80" != blob[:1]
    back = Twin.from_snapshot(blob)
    assert back.offset == 5 and back.state == twin.state


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_streams())
def test_any_event_stream_round_trips(events):
    twin = Twin().apply_many(events)
    assert Twin.from_snapshot(twin.to_snapshot()).state == twin.state


@pytest.mark.parametrize("blob", [pickle.dumps((1, 0, TwinState())), pickle.dumps(_Boom()), b"junk",
                                  MAGIC + b"not zlib", MAGIC + zlib.compress(b'{"format": 1}'),
                                  MAGIC + zlib.compress(b'{"format": 2, "offset": 1, "state": {"orders": 3}}')])
def test_other_formats_are_refused_never_unpickled(blob, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match="twin snapshot refused"):
        Twin.from_snapshot(blob)
    assert not (tmp_path / "PWNED").exists()


def test_a_planted_pickle_snapshot_is_not_run_and_the_log_is_replayed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open_store(tmp_path / "s.db") as st:
        st.log.append(_events())
        expect = Twin.rebuild(st, use_snapshot=False)
        st.snapshots.save_snapshot(5, 0, pickle.dumps(_Boom()))
        twin = Twin.rebuild(st)
    assert not (tmp_path / "PWNED").exists()
    assert twin.state == expect.state and twin.offset == expect.offset


def test_a_snapshot_folded_under_another_network_is_refused_and_the_log_replayed(tmp_path):
    """After ``--network-update`` (a store turns backorders on at a store), a snapshot written under the old
    network would carry the old lost-sales rule; the rebuild replays the log under the new one instead."""
    from supplynet.model import example_path, load_network

    old = load_network(example_path("tiny"))
    lost = [s.id for s in old.sites if not s.backorders]
    assert lost
    new = old.model_copy(update={"sites": [s.model_copy(update={"backorders": True}) for s in old.sites]})
    sale = Sale(source="pos", seq=9, ts=T0, site=lost[0], sku=old.products[0].sku, quantity=5, unfilled=5)
    with open_store(tmp_path / "s.db") as st:
        st.log.append([sale])
        Twin.rebuild(st, old, use_snapshot=False).save_snapshot(st, name="main")
        with pytest.raises(DataError, match="another network"):
            Twin.from_snapshot(st.snapshots.latest_snapshot().blob, new)
        twin = Twin.rebuild(st, new)
        assert twin.state == Twin.rebuild(st, new, use_snapshot=False).state
        assert twin.state.lost_sales_sites == frozenset()
        assert Twin.rebuild(st, old).state.lost_sales_sites == frozenset(lost)  # the same network: it is used

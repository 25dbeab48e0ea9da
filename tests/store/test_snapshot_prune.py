"""Twin snapshots are named by their writer and pruned per name: the latest K stay, and so does any a
loop's restart still needs (the one its saved decision makers' state belongs to, the newest at or before
its checkpoint), on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest

from supplynet.events import Sale
from supplynet.store import open_store
from supplynet.store.brain import BrainTables
from supplynet.twin import Follower, SnapshotEvery, Twin


def _offsets(st, name):
    rows = st.backend.query("SELECT log_offset FROM snapshots WHERE name = ? ORDER BY log_offset", (name,))
    return [int(r[0]) for r in rows]


def test_latest_k_per_name_and_what_the_checkpoints_need_are_kept(store_url):
    with open_store(store_url) as st:
        for off in range(10, 70, 10):  # the loop "main": 10 .. 60
            st.snapshots.save_snapshot(off, off * 1000, f"main-{off}".encode(), name="main")
        for off in range(5, 30, 5):  # the API: 5 .. 25
            st.snapshots.save_snapshot(off, off * 1000, f"api-{off}".encode(), name="api")
        st.snapshots.save_snapshot(1, 1000, b"other", name="twin")
        # the loop's decision makers were saved with its snapshot at 20 (the later state was never written),
        # and the loop "side" checkpointed at 33 with no state: its newest snapshot before that is 30
        with st.transaction() as tx:
            BrainTables.set_checkpoint_tx(tx, "main", 65, 0)
            BrainTables.set_checkpoint_tx(tx, "side", 33, 0)
        st.brain.save_state("main", 20, b"state")
        for off in (30, 40):
            st.snapshots.save_snapshot(off, off * 1000, b"side", name="side")

        deleted = st.snapshots.prune(keep=2)

        assert _offsets(st, "main") == [20, 50, 60]  # the latest two, and the one the saved state needs
        assert _offsets(st, "api") == [20, 25]
        assert _offsets(st, "twin") == [1]
        assert _offsets(st, "side") == [30, 40]  # 30: the newest at or before the checkpoint
        assert deleted == 3 + 3
        # what a restart of "main" looks up is still there, with its bytes
        snap = st.snapshots.latest_snapshot(name="main", max_offset=20)
        assert (snap.offset, snap.blob, snap.name) == (20, b"main-20", "main")
        assert st.snapshots.prune(keep=2) == 0  # nothing more to drop
        with pytest.raises(ValueError, match=">= 1"):
            st.snapshots.prune(keep=0)


def test_the_follower_prunes_as_it_writes(store_url):
    with open_store(store_url) as st:
        twin = Twin()
        f = Follower(st, twin, snapshots=SnapshotEvery(events=2, keep=3))
        for i in range(1, 15):
            st.log.append([Sale(source="pos", seq=i, ts=f"2026-01-01T00:00:{i:02d}Z", site="S", sku="A", quantity=1)])
            f.poll()
            if f.snapshot_due():
                f.save_snapshot("api")
        assert _offsets(st, "api") == [10, 12, 14]
        back = Twin.from_snapshot(st.snapshots.latest_snapshot(name="api").blob)
        assert back.offset == 14 and back.state == twin.state


def test_snapshot_names_and_keep_are_checked(tmp_path):
    with open_store(tmp_path / "s.db") as st:
        with pytest.raises(ValueError, match="name"):
            st.snapshots.save_snapshot(1, 0, b"x", name="")
    with pytest.raises(ValueError, match="keep"):
        SnapshotEvery(keep=0)

"""The brain resumes from its own snapshot (the one its decision makers' state was saved with), not from a
later one another writer (the API's twin service) put in the store; its old snapshots are pruned."""

from __future__ import annotations

import threading

import pytest
import yaml

from supplynet.api.service import TwinService
from supplynet.commands.run import Brain
from supplynet.decide.autonomy import parse_policy
from supplynet.model import example_path, load_network
from supplynet.store import open_store
from supplynet.testing.brain import AUTO_POLICY, fill_log
from supplynet.twin import SnapshotEvery


@pytest.fixture
def no_rul_model(monkeypatch):
    """The machines' RUL model is beside the point here (and takes minutes to train)."""
    monkeypatch.setattr(Brain, "prepare", lambda self: None)


def _brain(st, home, **kw):
    return Brain(st, load_network(example_path("tiny")), parse_policy(yaml.safe_load(AUTO_POLICY), "test"),
                 tick_s=3600, home=home, out=None, **kw)


def test_a_restart_uses_the_loops_own_snapshot_and_old_ones_are_pruned(tmp_path, no_rul_model):
    with open_store(tmp_path / "s.db") as st:
        fill_log(st, days=1.5, seed=3)
        first = _brain(st, tmp_path, snapshot_events=200, snapshot_keep=2)
        first.run(threading.Event(), until_caught_up=True)
        state_at = st.brain.state("main")[0]
        mine = [int(r[0]) for r in st.backend.query("SELECT log_offset FROM snapshots WHERE name = 'main'")]
        assert state_at > 0 and state_at in mine and len(mine) == 2  # pruned to the latest two
        # the API's twin service writes a later snapshot of its own
        TwinService(st, load_network(example_path("tiny")), refresh_s=0.0, snapshots=SnapshotEvery(events=1))
        api = st.snapshots.latest_snapshot()
        assert api.name == "api" and api.offset > state_at
        again = _brain(st, tmp_path)
        loop = again.build_loop()
        assert loop.twin.offset == state_at  # its own snapshot, with its decision makers' state
        decided = first.stats.new_decisions
        again.run(threading.Event(), until_caught_up=True)
        assert decided > 0 and again.stats.new_decisions == 0  # the tail's decisions were made already

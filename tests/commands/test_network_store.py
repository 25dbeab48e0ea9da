"""The store remembers its network: recorded by the first run, used without --network, a different one
refused unless --network-update (recorded in the log), a store without one refused."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from supplynet.cli import app
from supplynet.events import Sale
from supplynet.model import example_path
from supplynet.store import open_store
from supplynet.store.brain import network_sha256

TINY = example_path("tiny")


@pytest.fixture
def cli(brain_home):
    runner = CliRunner()

    def run(*args):
        return runner.invoke(app, [str(a) for a in args], env={"SUPPLYNET_HOME": str(brain_home)})

    return run


@pytest.fixture
def store(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    with open_store(url) as st:  # a store with sales at a lost-sales store and nothing on hand
        st.log.append([Sale(source="pos", seq=i, ts=f"2026-01-05T{8 + i:02d}:00:00Z", site="STORE-1",
                            sku="MILK-2L", quantity=1, unfilled=3) for i in range(1, 4)])
    return url


def _one_line_error(r, needle):
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], r.output


def test_a_store_without_a_network_is_refused_by_state_and_run(cli, store):
    _one_line_error(cli("state", "--store", store), "has no network yet")
    _one_line_error(cli("run", "--store", store, "--until-caught-up"), "has no network yet")
    _one_line_error(cli("serve", "--store", store, "--port", "0"), "has no network yet")


def test_the_first_run_records_the_network_and_state_uses_it(cli, store, tmp_path):
    r = cli("run", "--store", store, "--network", TINY, "--until-caught-up")
    assert r.exit_code == 0, r.output
    with open_store(store) as st:
        rec = st.brain.network()
    assert rec.sha256 == network_sha256(TINY.read_text()) and rec.name
    r = cli("state", "--store", store, "--format", "json")
    assert r.exit_code == 0, r.output
    row = next(x for x in json.loads(r.output) if x["site"] == "STORE-1" and x["sku"] == "MILK-2L")
    # STORE-1 loses unfilled demand (the network says so): no backorders, 9 lost sales
    assert row["lost_sales"] == 9 and row["backorders"] == 0
    assert cli("run", "--store", store, "--network", TINY, "--until-caught-up").exit_code == 0  # the same file


def test_a_different_network_is_refused_unless_updated_and_the_update_is_logged(cli, store, tmp_path):
    assert cli("run", "--store", store, "--network", TINY, "--until-caught-up").exit_code == 0
    other = tmp_path / "other.yaml"
    other.write_text(TINY.read_text().replace("mean_per_day: 60", "mean_per_day: 65"))
    _one_line_error(cli("run", "--store", store, "--network", other, "--until-caught-up"), "--network-update")
    _one_line_error(cli("state", "--store", store, "--network", other), "--network-update")
    with open_store(store) as st:
        assert st.brain.network().sha256 == network_sha256(TINY.read_text())
    r = cli("run", "--store", store, "--network", other, "--network-update", "--until-caught-up")
    assert r.exit_code == 0, r.output
    with open_store(store) as st:
        assert st.brain.network().sha256 == network_sha256(other.read_text())
        updates = [e.event for e in st.log.read(kinds=["alert"]) if e.event.code == "network_update"]
    assert len(updates) == 1 and updates[0].data["previous_sha256"] == network_sha256(TINY.read_text())
    assert cli("state", "--store", store).exit_code == 0

"""The world learns what to carry out from a file sink's JSONL, as an ERP would: incrementally, and
each action id once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from supplynet.decide.outbox import Dispatcher
from supplynet.decide.sinks import parse_sinks
from supplynet.fleet import World
from supplynet.fleet._actions import ActionCarrier, ActionFeed
from supplynet.model import example_path, load_network
from supplynet.store import open_store

START = datetime(2026, 1, 5, tzinfo=UTC)
SRC = Path(__file__).resolve().parents[2] / "src"
TINY = example_path("tiny")


@pytest.fixture(scope="module")
def tiny():
    return load_network(TINY)


def _transfer(did: str, qty: float = 30.0) -> dict:
    """An executed transfer as the loop enqueues it (decide/record.py's decision body)."""
    return {"action_id": f"act-{did}", "action": "transfer", "decision_id": did, "kind": "replenish",
            "created_at": "2026-01-05T06:00:00+00:00", "why": "below reorder point", "cost": 12.0,
            "detail": {"type": "order", "site": "STORE-1", "sku": "MILK-2L", "quantity": qty, "origin": "DC-1",
                       "lane_id": "L-DC-STORE-1", "order_type": "transfer"}, "event_ids": []}


def _file_sink_line(tmp_path: Path, folder: Path, did: str) -> bytes:
    """The line a real file sink writes for the transfer (outbox -> dispatcher -> folder)."""
    cfg = parse_sinks(f"sinks:\n  - {{name: erp-file, kind: file, folder: {folder}, rotate: none, "
                      f"actions: [order, transfer, work_order]}}\n", "s.yaml")
    with open_store(tmp_path / f"outbox-{did}.db") as st:
        st.outbox.enqueue(action_id=f"act-{did}", action="transfer", body=_transfer(did),
                                        sinks=["erp-file"], decision_id=did, at_us=0)
        with Dispatcher(st, cfg) as d:
            assert d.run_once()["delivered"] == 1
    return (folder / "actions.jsonl").read_bytes().splitlines(keepends=True)[-1]


def test_feed_reads_only_new_complete_lines(tmp_path: Path) -> None:
    folder = tmp_path / "actions"
    folder.mkdir()
    old = folder / "actions-2026-01-04.jsonl"
    old.write_bytes(b'{"action_id":"old"}\n')
    feed = ActionFeed(folder, skip_existing=True)
    assert feed.poll() == []
    with old.open("ab") as f:
        f.write(b'{"action_id":"a1"}\n{"action_id":"a2"')  # the second line is not complete yet
    assert [d["action_id"] for d in feed.poll()] == ["a1"]
    assert feed.poll() == []
    with old.open("ab") as f:
        f.write(b',"x":1}\nnot json\n[1,2]\n')
    (folder / "actions-2026-01-05.jsonl").write_bytes(b'{"action_id":"b1"}\n')
    assert [d["action_id"] for d in feed.poll()] == ["a2", "b1"]
    assert feed.bad_lines == 2
    assert [d["action_id"] for d in ActionFeed(folder).poll()] == ["old", "a1", "a2", "b1"]


def test_an_order_seen_twice_ships_once(tiny, tmp_path: Path) -> None:
    folder = tmp_path / "actions"
    line = _file_sink_line(tmp_path, folder, "D1")
    with (folder / "actions.jsonl").open("ab") as f:
        f.write(line)  # delivered again (at least once): the same action id, the same bytes
    world = World(tiny, np.random.default_rng(1), START, cover_days=4)
    carrier = ActionCarrier(world, tiny)
    docs = ActionFeed(folder).poll()
    assert len(docs) == 2 and docs[0] == docs[1]
    assert [carrier.carry_out(d) for d in docs] == [True, False]
    assert carrier.carried == {"transfer": 1} and carrier.repeats == 1
    before = world.stock[("DC-1", "MILK-2L")]
    world.step()
    [trip] = [t for t in world.trips if any(o == "PO-D1" for _, _, o in t.lines)]
    assert trip.lane.id == "L-DC-STORE-1" and trip.lines == [("MILK-2L", 30.0, "PO-D1")]
    assert world.stock[("DC-1", "MILK-2L")] == before - 30.0


def test_work_order_and_expedite_reach_the_world(tiny) -> None:
    world = World(tiny, np.random.default_rng(1), START, cover_days=4)
    carrier = ActionCarrier(world, tiny)
    wo = {"action": "work_order", "action_id": "act-D2", "decision_id": "D2",
          "body": {"created_at": "2026-01-05T02:00:00+00:00", "detail": {"type": "work_order", "asset_id": "OVEN-1"}}}
    assert carrier.carry_out(wo)
    m = world.machines["OVEN-1"]
    assert (m.maintenance_at, m.work_order) == (datetime(2026, 1, 7, 2, tzinfo=UTC), "WO-D2")  # 2 days' lead time
    alert = {"action": "alert", "action_id": "alert-x", "body": {"code": "cold_chain", "subject": "REEFER-1"}}
    assert not carrier.carry_out(alert) and carrier.ignored == 1
    world.place(type("O", (), {"order_id": "PO-9", "site": "STORE-1", "sku": "MILK-2L", "quantity": 5.0,
                               "origin": "DC-1", "lane_id": "L-DC-STORE-1"})())
    world.step()
    [trip] = world.trips
    late = trip.arrive
    exp = {"action": "expedite", "action_id": "act-D3", "decision_id": "D3",
           "body": {"created_at": world.t.isoformat(), "detail": {
               "type": "reroute", "shipment_id": trip.shipment_id, "to_lane": "L-DC-STORE-1", "option": "expedite",
               "arrival_days": 0.1}}}
    assert carrier.carry_out(exp)
    assert trip.arrive < late and carrier.carried == {"work_order": 1, "expedite": 1}


def _cli(*args: object, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.Popen([sys.executable, "-m", "supplynet.cli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, **kw)


def test_fleet_command_carries_out_an_order_from_the_folder_once(tmp_path: Path) -> None:
    folder = tmp_path / "actions"
    folder.mkdir()
    (folder / "actions.jsonl").write_bytes(json.dumps({"action": "transfer", "action_id": "act-D0",
                                                       "body": _transfer("D0", 7.0)}).encode() + b"\n")
    store = f"sqlite:///{tmp_path / 'world.db'}"
    proc = _cli("fleet", "--store", store, "--network", TINY, "--days", 1, "--speed", 14400, "--seed", 3,
                "--actions", folder, "--home", tmp_path / "home", cwd=tmp_path)
    try:
        started = proc.stderr.readline()  # the fleet is running (real time: one simulated day in 6 s)
        assert started.startswith("fleet: tiny running"), started + proc.stderr.read()
        line = _file_sink_line(tmp_path, folder, "D1")
        time.sleep(0.5)
        with (folder / "actions.jsonl").open("ab") as f:
            f.write(line)  # the sink delivered it twice
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    report = json.loads(out)
    assert report["actions"] == {"transfer": 1} and report["action_repeats"] == 1  # D0 was there before: skipped
    assert report["hours"] == 24 and report["speed"] == "14400"
    assert report["gate"].get("stored", 0) > 0 and set(report["gate"]) == {"stored"}
    assert report["carried_out"] == ["act-D1: transfer PO-D1: 30 MILK-2L to STORE-1"]
    with open_store(store) as st:
        departed = [e.event for e in st.log.read(kinds=["shipment"]) if e.event.status == "departed"]
        carrying = [e for e in departed if any(ln.order_id == "PO-D1" for ln in e.lines)]
        assert len(carrying) == 1 and carrying[0].origin == "DC-1" and carrying[0].destination == "STORE-1"
        assert not any(ln.order_id == "PO-D0" for e in departed for ln in e.lines)
        assert st.log.count() > 50  # the devices reported through the gate all day


def test_fleet_refuses_bad_speed(tmp_path: Path) -> None:
    proc = _cli("fleet", "--store", f"sqlite:///{tmp_path / 'w.db'}", "--network", TINY, "--days", 1,
                "--speed", "-3", cwd=tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err == "error: --speed '-3': give simulated seconds per wall second (a number > 0, at most 1e9) or max\n"


@pytest.mark.parametrize(("args", "says"), [
    (["--speed", "1e300"], "error: --speed '1e300': give simulated seconds per wall second"),
    (["--speed", "nan"], "error: --speed 'nan': give simulated seconds per wall second"),
    (["--seed", "-1"], "error: Invalid value for '--seed'"),
    (["--start", "0001-01-01T00:00Z"], "error: --start '0001-01-01T00:00Z': give a time between 1970-01-01"),
    (["--start", "9999-12-31T00:00Z"], "error: --start '9999-12-31T00:00Z': give a time between 1970-01-01"),
    (["--home", "/proc/not-here/home"], "error: --home /proc/not-here/home: cannot create the folder"),
])
def test_fleet_refuses_out_of_range_options_in_one_line(tmp_path: Path, args: list[str], says: str) -> None:
    proc = _cli("fleet", "--store", f"sqlite:///{tmp_path / 'w.db'}", "--network", TINY, "--days", 1, *args,
                cwd=tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and err.startswith(says) and err.count("\n") == 1, err
    assert not (tmp_path / "w.db").exists() or "--home" not in args[0]  # nothing ran


def test_actions_naming_what_the_network_lacks_or_absurd_quantities_are_refused(tiny) -> None:
    """A line in the actions folder is an instruction from outside: the world refuses (and names) an order
    for an unknown site, SKU or lane, a quantity that is negative, zero, boolean, not finite or above a
    billion units, and a work order for an unknown asset; a sound order next to them is carried out."""
    world = World(tiny, np.random.default_rng(1), START, cover_days=4)
    carrier = ActionCarrier(world, tiny)
    good = {"site": "STORE-1", "sku": "MILK-2L", "quantity": 12, "origin": "DC-1", "lane_id": "L-DC-STORE-1"}
    bad = [{**good, "quantity": q} for q in (-5, 0, True, float("nan"), float("inf"), 1e12, "12")]
    bad += [{**good, "site": "NOPE"}, {**good, "sku": "CAVIAR"}, {**good, "lane_id": "L-NOWHERE"},
            {**good, "origin": "MOON-BASE"}]
    docs = [{"action_id": f"x{i}", "action": "order", "body": {"kind": "order", **b}} for i, b in enumerate(bad)]
    docs.append({"action_id": "wo", "action": "work_order",
                 "body": {"kind": "maintenance", "action": "work_order_opened", "asset_id": "OVEN-666"}})
    docs.append({"action_id": "ok", "action": "order", "body": {"kind": "order", **good}})
    assert [carrier.carry_out(d) for d in docs] == [False] * (len(docs) - 1) + [True]
    assert len(carrier.refused) == len(docs) - 1 and carrier.carried == {"order": 1}
    assert any("'CAVIAR' is not in the network" in r for r in carrier.refused)
    assert any(r.startswith("wo: work order asset 'OVEN-666'") for r in carrier.refused)
    assert [(b.order_id, b.quantity) for b in world.backlog] == [("PO-ok", 12.0)]  # only the sound one

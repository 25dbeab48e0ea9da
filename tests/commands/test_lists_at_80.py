"""The list commands a person reads (devices, tokens, people, audit, quarantine, outbox) are tables at 80
columns: nothing cut to "s…", numbers right-aligned, long ids folded; ``--json`` stays for machines. And a
read-only command given a hostile ``--store`` prints one line and exits 2, creating nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from supplynet.cli import app
from supplynet.ingest.envelope import seal
from supplynet.ingest.gate import Gate
from supplynet.model import example_path
from supplynet.store import open_store

runner = CliRunner()
LONG_DEVICE = "reefer-gw-ST-NEWCASTLE-UPON-TYNE"
LONG_ALERT = f"alert-{LONG_DEVICE}:1733612345678"


def cli(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "80"})


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    """A store with devices (one with a long id, one rotated, one revoked), tokens, quarantined messages,
    outbox rows (an alert with a long id, a dead letter) and the audit entries all that wrote."""
    url = f"sqlite:///{tmp_path_factory.mktemp('lists') / 's.db'}"
    assert cli("devices", "add", "--network", str(example_path("tiny")), "--all", "--store", url).exit_code == 0
    made = cli("devices", "add", LONG_DEVICE, "--measures", "temperature,humidity,door_open", "--asset",
               "REEFER-NEWCASTLE-0001", "--store", url)
    assert made.exit_code == 0, made.output
    cred = json.loads(made.stdout)
    assert cli("devices", "rotate", "GPS-TRUCK-1", "--store", url).exit_code == 0
    assert cli("devices", "revoke", "POS-STORE-1", "--store", url).exit_code == 0
    for person, role, days in (("alice", "planner", "90"), ("bob", "admin", "0")):
        assert cli("tokens", "create", "--role", role, "--person", person, "--expires", days, "--store", url).exit_code == 0
    with open_store(url) as st:
        good = seal(LONG_DEVICE, cred["kid"], cred["private_key"], 0, datetime.now(UTC),
                    [{"kind": "condition", "temperature_k": 280.0}])
        Gate(st).submit([good, good.replace(b"280.0", b"290.0"), b"\x00garbage" * 200])
        box = st.outbox
        box.enqueue(action_id=LONG_ALERT, action="alert", body={"x": 1}, sinks=["erp", "ops-pager"],
                    decision_id=None, at_us=1)
        box.enqueue(action_id="D-20260105-000123:order", action="order", body={"x": 1}, sinks=["erp"],
                    decision_id="D-1", at_us=2)
        box.enqueue(action_id="A7", action="work_order", body={"x": 1}, sinks=["cmms"], decision_id="D-2", at_us=3)
        dead = next(r for r in box.list() if r.action_id == LONG_ALERT and r.sink == "erp")
        box.mark_dead(dead.id, now_us=1_765_000_000_000_000,
                      error="HTTP 410 Gone from https://erp.example.com/api/v2/orders: the endpoint was retired")
    return url


def _fits(out: str) -> list[str]:
    lines = out.splitlines()
    assert lines and max(map(len, lines)) <= 80, out
    assert "…" not in out and "Traceback" not in out, out
    return lines


def _row(lines: list[str], needle: str) -> str:
    return next(ln for ln in lines if needle in ln)


def test_devices_list_is_a_table_and_json_for_machines(store):
    r = cli("devices", "list", "--store", store)
    assert r.exit_code == 0, r.output
    lines = _fits(r.stdout)
    assert lines[0].startswith("devices: 6, 1 revoked")
    assert "{" not in r.stdout
    # the long id folds onto two lines, whole
    assert LONG_DEVICE in "".join(ln.split()[0] for ln in lines if ln.startswith(("reefer", "CASTLE")))
    assert "+1" in _row(lines, "GPS-TRUCK-1")  # its old key, still listed
    assert datetime.now(UTC).strftime("%Y-") in _row(lines, "POS-STORE-1")  # the day it was revoked
    assert datetime.now(UTC).strftime("%Y-") not in _row(lines, "POS-STORE-2")
    doc = json.loads(cli("devices", "list", "--store", store, "--json").stdout)
    assert {d["device_id"] for d in doc} >= {LONG_DEVICE, "GPS-TRUCK-1"}
    assert len(next(d for d in doc if d["device_id"] == "GPS-TRUCK-1")["keys"]) == 2


def test_tokens_and_people_are_tables(store):
    r = cli("tokens", "list", "--store", store)
    assert r.exit_code == 0, r.output
    lines = _fits(r.stdout)
    assert lines[0].startswith("tokens: 2") and "never" in _row(lines, "bob") and "planner" in _row(lines, "alice")
    assert {t["person"] for t in json.loads(cli("tokens", "list", "--store", store, "--json").stdout)} == {"alice",
                                                                                                          "bob"}
    r = cli("tokens", "people", "--store", store)
    lines = _fits(r.stdout)
    assert "admin" in _row(lines, "bob")
    assert json.loads(cli("tokens", "people", "--store", store, "--json").stdout) == {"alice": ["planner"],
                                                                                      "bob": ["admin"]}


def test_audit_list_is_a_table_with_seq_right_aligned(store):
    r = cli("audit", "list", "--store", store, "--limit", "8")
    assert r.exit_code == 0, r.output
    lines = _fits(r.stdout)
    header = _row(lines, "seq")
    body = [ln for ln in lines[lines.index(header) + 2:] if ln[:4].strip().isdigit()]
    assert len(body) == 8
    seqs = [int(ln[:header.index("seq") + 3]) for ln in body]  # right-aligned under the header's right edge
    assert seqs == sorted(seqs, reverse=True)
    assert any("token.create" in ln for ln in body)
    entries = [json.loads(x) for x in cli("audit", "list", "--store", store, "--limit", "3", "--json").stdout.splitlines()]
    assert [e["seq"] for e in entries] == seqs[:3] and all("hash" in e for e in entries)


def test_quarantine_list_explains_each_reason_once(store):
    r = cli("quarantine", "list", "--store", store)
    assert r.exit_code == 0, r.output
    lines = _fits(r.stdout)
    header = _row(lines, "bytes")
    right = header.index("bytes") + len("bytes")
    schema = _row(lines, "schema ")
    assert schema[:right].endswith("1,600")  # the garbage's size, right-aligned with thousands separators
    assert sum(ln.startswith("bad_signature: ") for ln in lines) == 1
    rows = json.loads(cli("quarantine", "list", "--store", store, "--json").stdout)
    assert [x["reason"] for x in rows] == ["schema", "bad_signature"] and rows[0]["size_bytes"] == 1600


def test_outbox_list_folds_long_alert_ids_and_numbers_the_errors(store):
    r = cli("outbox", "list", "--store", store)
    assert r.exit_code == 0, r.output
    lines = _fits(r.stdout)
    alert_rows = [i for i, ln in enumerate(lines) if ln.startswith("alert-")]
    assert len(alert_rows) == 2
    for i in alert_rows:  # the id whole over at most two lines, not a column of 6-character slivers
        first, second = lines[i].split()[0], lines[i + 1].split()[0]
        assert first + second == LONG_ALERT
    assert "[1]" in lines[alert_rows[1]] or "[1]" in lines[alert_rows[0]]
    note = _row(lines, "[1] alert-")
    assert "to erp" in note and "HTTP 410" in r.stdout
    assert "A7 (work_order)" in r.stdout  # an id that does not say its action is followed by it
    rows = [json.loads(x) for x in cli("outbox", "list", "--store", store, "--json").stdout.splitlines()]
    assert {(x["action_id"], x["sink"]) for x in rows if x["status"] == "dead"} == {(LONG_ALERT, "erp")}


# -- hostile --store values: one line, exit 2, nothing created ------------------------------------------------
READ_ONLY = [("devices", "list"), ("tokens", "list"), ("tokens", "people"), ("audit", "list"), ("quarantine", "list"),
             ("quarantine", "stats"), ("outbox", "list"), ("decisions", "list"), ("decisions", "groups"),
             ("store", "check"), ("state",), ("events",), ("simulate", "--from-live")]


def _one_line(r, needle: str) -> None:
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0], r.output
    assert "Traceback" not in r.output


@pytest.mark.parametrize("cmd", READ_ONLY, ids=" ".join)
def test_a_store_in_a_missing_folder_is_named_and_not_created(tmp_path, cmd):
    missing = tmp_path / "nowhere" / "deeper" / "x.db"
    for value in (f"sqlite:///{missing}", str(missing)):
        _one_line(cli(*cmd, "--store", value), f"the folder {missing.parent} does not exist")
        assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("cmd", READ_ONLY, ids=" ".join)
def test_hostile_store_values_are_one_line(tmp_path, cmd):
    junk = tmp_path / "junk.db"
    junk.write_text("this is not a database\n" * 10)
    folder = tmp_path / "a-folder"
    folder.mkdir()
    _one_line(cli(*cmd, "--store", ""), "is empty")
    _one_line(cli(*cmd, "--store", "   "), "is empty")
    _one_line(cli(*cmd, "--store", f"sqlite:///{junk}"), "is not a SQLite database")
    _one_line(cli(*cmd, "--store", str(folder)), f"no store at {folder / 'supplynet.db'}")
    assert not any(folder.iterdir())
    _one_line(cli(*cmd, "--store", "sqlite:///"), "needs a file path")
    _one_line(cli(*cmd, "--store", "mysql://db/x"), "unsupported store URL")
    assert junk.read_text() == "this is not a database\n" * 10


def test_an_unreachable_postgres_is_one_line():
    _one_line(cli("devices", "list", "--store", "postgresql://nohost.invalid/x"), "cannot connect to PostgreSQL")


WRITING = [("run", "--until-caught-up"), ("serve",), ("fleet", "--days", "1"), ("replay", "x.jsonl"),
           ("devices", "add", "GPS-X", "--measures", "latitude"), ("tokens", "create", "--person", "alice", "--role", "viewer"),
           ("ingest", "file", "x.jsonl"), ("ingest", "mqtt"), ("decisions", "approve", "D1"), ("quarantine", "prune"),
           ("import", "x.csv")]


@pytest.mark.parametrize("cmd", WRITING, ids=" ".join)
def test_an_empty_store_is_a_usage_error_for_writing_commands_too(tmp_path, monkeypatch, cmd):
    """``run --store ""`` used to mean the default store (it then created ``.supplynet/``): an empty value
    is a mistake, named in one line, and nothing is written."""
    monkeypatch.chdir(tmp_path)
    for value in ("", "   "):
        r = cli(*cmd, "--store", value)
        assert r.exit_code == 2, (cmd, r.output)
        assert "is empty" in r.output and "Traceback" not in r.output, r.output
    assert not any(tmp_path.iterdir())

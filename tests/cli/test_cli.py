"""The CLI end to end on a real SQLite store: clear errors (exit 2, one line, no traceback)."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from supplynet.cli import app
from supplynet.events import Sale, dumps
from supplynet.model import example_path

runner = CliRunner()
_TINY = str(example_path("tiny"))


def run(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env)


def _sale(seq, qty=1.0, day=5):
    return dumps(Sale(source="pos-1", seq=seq, ts=f"2026-01-{day:02d}T12:00:00Z", site="ST1", sku="A",
                      quantity=qty))


def test_help_lists_the_commands():
    r = run("--help")
    assert r.exit_code == 0
    for cmd in ("init", "validate", "demo", "replay", "state", "events", "simulate", "forecast", "eta", "serve",
                "maintenance", "audit", "tokens", "devices", "ingest", "quarantine"):
        assert cmd in r.output


def test_init_then_validate(tmp_path):
    r = run("init", tmp_path / "proj")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "proj" / "network.yaml").is_file()
    r = run("validate", tmp_path / "proj" / "network.yaml")
    assert r.exit_code == 0 and "OK" in r.output
    # the README's next steps work as written: the policy and the sinks file are there and valid
    from supplynet.decide.autonomy import load_policy
    from supplynet.decide.sinks import load_sinks

    assert load_policy(tmp_path / "proj" / "autonomy.yaml").kinds
    sinks = load_sinks(tmp_path / "proj" / "sinks.yaml")
    assert sinks.names_for("order") == ["actions-folder"] and sinks.names_for("alert") == ["actions-folder"]
    (tmp_path / "proj" / "sinks.yaml").write_text("# mine\n" + (tmp_path / "proj" / "sinks.yaml").read_text())
    r = run("init", tmp_path / "proj")
    assert r.exit_code == 2 and "exists; use --force" in r.output and "Traceback" not in r.output
    (tmp_path / "proj" / "network.yaml").unlink()
    assert run("init", tmp_path / "proj").exit_code == 0
    assert (tmp_path / "proj" / "sinks.yaml").read_text().startswith("# mine")  # an edited file is kept


def test_validate_names_line_and_field(tmp_path):
    bad = tmp_path / "net.yaml"
    from supplynet.model import example_path

    src = example_path("tiny").read_text().replace("lat: 52.6309", "lat: 95")
    bad.write_text(src)
    line = next(i for i, ln in enumerate(src.splitlines(), 1) if "lat: 95" in ln)
    r = run("validate", bad)
    assert r.exit_code == 2
    assert f"net.yaml:{line} sites[0].location.lat" in r.output


def test_replay_state_events_roundtrip(tmp_path):
    store = f"sqlite:///{tmp_path / 'x.db'}"
    f = tmp_path / "e.jsonl"
    f.write_text("\n".join(_sale(i) for i in range(1, 6)) + "\n")
    r = run("replay", f, "--store", store)
    assert r.exit_code == 0 and "5 stored, 0 duplicates" in r.output
    r = run("replay", f, "--store", store)
    assert "0 stored, 5 duplicates" in r.output
    r = run("state", "--store", store, "--format", "json")
    assert r.exit_code == 2 and "has no network yet" in r.output  # nothing shown against a missing network
    r = run("state", "--store", store, "--format", "json", "--network", _TINY)
    rows = json.loads(r.output)
    assert rows[0]["site"] == "ST1" and rows[0]["sold"] == 5 and rows[0]["on_hand"] == -5
    r = run("events", "--store", store, "--kind", "sale", "--limit", "2")
    lines = r.output.strip().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["seq"] == 1
    r = run("events", "--store", store, "--tail", "--limit", "1")
    assert json.loads(r.output)["seq"] == 5


def test_state_as_of(tmp_path):
    store = f"sqlite:///{tmp_path / 'x.db'}"
    f = tmp_path / "e.jsonl"
    f.write_text("\n".join([_sale(1, 2, day=5), _sale(2, 3, day=7)]))
    run("replay", f, "--store", store)
    r = run("state", "--store", store, "--format", "json", "--as-of", "2026-01-06T00:00:00Z", "--network", _TINY)
    assert json.loads(r.output)[0]["sold"] == 2
    r = run("state", "--store", store, "--format", "json", "--as-of", "yesterday", "--network", _TINY)
    assert r.exit_code == 2 and "--as-of 'yesterday'" in r.output


def test_replay_refuses_bad_lines_and_stores_nothing(tmp_path):
    store = f"sqlite:///{tmp_path / 'x.db'}"
    f = tmp_path / "e.jsonl"
    f.write_text(_sale(1) + "\n" + '{"kind": "sale", "source": "pos-1"}\n' + "not json\n" + _sale(2) + "\n")
    r = run("replay", f, "--store", store)
    assert r.exit_code == 2
    assert "e.jsonl:2:" in r.output and "e.jsonl:3:" in r.output
    assert "nothing was stored" in r.output and "Traceback" not in r.output
    r = run("events", "--store", store)  # reading never creates a store: there is none yet
    assert r.exit_code == 2 and "no store at" in r.output and not (tmp_path / "x.db").exists()
    r = run("replay", f, "--store", store, "--skip-bad")
    assert r.exit_code == 0 and "2 stored" in r.output
    rejected = [json.loads(x) for x in (tmp_path / "e.jsonl.rejected.jsonl").read_text().splitlines()]
    assert [x["line"] for x in rejected] == [2, 3]


@pytest.mark.parametrize("args,needle", [
    (("replay", "missing.jsonl"), "file not found"),
    (("state", "warehouses"), "unknown table 'warehouses'"),
    (("events", "--kind", "sales"), "--kind 'sales'"),
    (("validate", "missing.yaml"), "missing.yaml"),
])
def test_bad_input_is_one_clear_line(tmp_path, args, needle):
    r = run(*args, "--store", f"sqlite:///{tmp_path / 'x.db'}") if args[0] in ("state", "events") else run(*args)
    assert r.exit_code == 2, r.output
    assert needle in r.output and "Traceback" not in r.output


def test_demo_command_on_the_tiny_network(tmp_path):
    from supplynet.model import example_path

    r = run("demo", "--days", "2", "--network", example_path("tiny"), "--home", tmp_path, "--data-dir", "none",
            "--no-serve", "--replications", "20", "--summary-json", tmp_path / "summary.json")
    assert r.exit_code == 0, r.output
    assert "events in the log" in r.output and (tmp_path / "demo.db").is_file()
    assert "sites by risk exposure" in r.output and (tmp_path / "stress-test" / "ranking.csv").is_file()
    assert "short before" in r.output and "TTS (time to survive)" in " ".join(r.output.split())
    table = r.output.split("sites by risk exposure")[1].split("TTS (time to survive)")[0].splitlines()[1:]
    assert table and all(len(ln) <= 80 for ln in table), table  # the risk table fits 80 columns, nothing cut
    assert "…" not in "".join(table)
    html = (tmp_path / "stress-test" / "report.html").read_text()  # the report a planner takes to a meeting
    assert "What TTS and TTR mean" in html and "Cost breakdown (GBP" in html
    summary = json.loads((tmp_path / "summary.json").read_text())  # one JSON object, the table's figures
    assert re.search(rf"fill rate\s+│?\s*{re.escape(format(summary['store_fill_rate'], '.1%'))}", r.output), r.output
    assert summary["days"] == 2 and summary["total_cost"]["currency"] == "GBP"


@pytest.mark.parametrize("where", ["folder", "missing/summary.json"])
def test_demo_refuses_a_summary_path_it_cannot_write_before_it_runs(tmp_path, where):
    target = tmp_path if where == "folder" else tmp_path / where
    r = run("demo", "--days", "1", "--network", example_path("tiny"), "--home", tmp_path / "home", "--data-dir",
            "none", "--no-serve", "--replications", "0", "--summary-json", target)
    assert r.exit_code == 2 and "--summary-json" in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "home" / "demo.db").exists()  # refused before an hour of the world ran

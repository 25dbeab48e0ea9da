"""``supplynet decisions list``: one JSON object per line with --json, filters, clear errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from typer.testing import CliRunner

from supplynet.cli import app
from supplynet.decide.autonomy import AutonomyPolicy, KindPolicy
from supplynet.decide.decision import Decision, OrderAction, WorkOrderAction
from supplynet.decide.record import dedupe_key, record, subject_of
from supplynet.store import open_store

NOW = datetime(2026, 1, 5, 10, tzinfo=UTC)


def _store(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    policy = AutonomyPolicy(high_impact_cost=1e12, costly_action_cost=1e12,
                            kinds={"replenish": KindPolicy(level="auto"), "maintain": KindPolicy(level="propose")})
    ds = [Decision(kind="replenish", created_at=NOW, cost=10.0, action=OrderAction(site="DC1", sku="A", quantity=5)),
          Decision(kind="maintain", created_at=NOW, cost=100.0, action=WorkOrderAction(asset_id="M1"))]
    with open_store(url) as st:
        record(st, [d.model_copy(update={"dedupe_key": dedupe_key(d.kind, subject_of(d), "t1")}) for d in ds], policy)
    return url


def test_json_lines_and_filters(tmp_path):
    url = _store(tmp_path)
    r = CliRunner().invoke(app, ["decisions", "list", "--store", url, "--json"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(x) for x in r.output.strip().splitlines()]
    assert [(x["id"], x["kind"], x["status"], x["dedupe_key"]) for x in rows] == [
        ("D0000002", "maintain", "proposed", "maintain:M1:t1"), ("D0000001", "replenish", "executed", "replenish:DC1/A:t1")]
    r = CliRunner().invoke(app, ["decisions", "list", "--store", url, "--json", "--status", "executed"])
    assert [json.loads(x)["id"] for x in r.output.strip().splitlines()] == ["D0000001"]
    r = CliRunner().invoke(app, ["decisions", "list", "--store", url, "--kind", "maintain"])
    assert r.exit_code == 0, r.output
    rows = [x.split() for x in r.output.splitlines()[3:] if x.strip()]  # title, header, rule, then one row each
    assert rows == [["D0000002", "maintain", "proposed", "100.00", "2026-01-05", "10:00", "work", "order", "on", "M1"]]
    assert "cost USD" in r.output  # a store without a network: the default currency, named


def test_a_bad_filter_is_one_line(tmp_path):
    r = CliRunner().invoke(app, ["decisions", "list", "--store", _store(tmp_path), "--status", "done"])
    assert r.exit_code == 2 and r.output.strip().startswith("error: --status 'done'")
    assert len(r.output.strip().splitlines()) == 1


def test_groups_are_a_table_at_80_columns(tmp_path):
    url = _store(tmp_path)
    r = CliRunner().invoke(app, ["decisions", "groups", "--store", url], env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert max(map(len, lines)) <= 80 and "…" not in r.stdout
    header = next(ln for ln in lines if "at stake (" in ln)
    row = next(ln for ln in lines if " maintain " in ln)
    right = header.index("USD)") + len("USD)")
    assert row[:right].endswith("100.00")  # money right-aligned under its header, with its currency named
    assert "2026-01-05" in row
    doc = json.loads(CliRunner().invoke(app, ["decisions", "groups", "--store", url, "--json"]).stdout)
    assert [g["count"] for g in doc["groups"]] == [1]
    r = CliRunner().invoke(app, ["decisions", "groups", "--store", url, "--status", "rejected"])
    assert r.exit_code == 0 and r.stdout.strip() == "no rejected decisions"

"""``supplynet validate FILE``: one OK line, or each issue on its own line and exit code 2."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from supplynet.commands.validate import app
from supplynet.model import example_path

runner = CliRunner()


def test_ok_line() -> None:
    result = runner.invoke(app, [str(example_path("tiny"))])
    assert result.exit_code == 0
    assert result.stdout == ("OK: tiny: 5 sites (1 supplier, 1 plant, 1 dc, 2 store), 3 products, 5 lanes, 1 BOMs, "
                             "4 demand entries, 3 assets, 5 devices, 5 policies\n")


def test_issues_one_per_line_and_exit_2(tmp_path) -> None:
    path = tmp_path / "network.yaml"
    text = example_path("tiny").read_text(encoding="utf-8")
    text = text.replace("lat: 52.6309", "lat: 152.6309").replace("lead_time: 1, cost_per_unit: 0.03", "lead_time: -1, cost_per_unit: 0.03")
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, [str(path)])
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    lat_line = next(i for i, ln in enumerate(text.splitlines(), 1) if "lat: 152.6309" in ln)
    lt_line = next(i for i, ln in enumerate(text.splitlines(), 1) if "lead_time: -1" in ln)
    assert lines == [f"{path}:{lat_line} sites[0].location.lat: must be between -90 and 90, got 152.6309",
                     f"{path}:{lt_line} lanes[1].lead_time.mean_days: must be >= 0, got -1"]
    assert "2 issues in" in result.stderr


def test_json_output(tmp_path) -> None:
    ok = json.loads(runner.invoke(app, [str(example_path("tiny")), "--json"]).stdout)
    assert ok["ok"] is True and ok["sites_by_kind"] == {"supplier": 1, "plant": 1, "dc": 1, "store": 2}
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nsites: []\n", encoding="utf-8")
    result = runner.invoke(app, [str(path), "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["issues"] == [
        {"file": str(path), "line": 2, "field": "sites", "message": "needs at least 1 item, got 0"}]

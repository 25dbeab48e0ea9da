"""The CLI holes of the attack report, one by one: one line ``error: ...``, exit 2, no traceback; a
read-only command opens only an existing store and makes no folder."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from supplynet.cli import app

runner = CliRunner()


def _one_error_line(r) -> str:
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.output
    return lines[0]


@pytest.mark.parametrize("args", [
    ["events", "--since", "0001-01-01T00:00:00+01:00"], ["events", "--until", "9999-12-31T23:59:59-01:00"],
    ["state", "--as-of", "0001-01-01T00:00:00+01:00"], ["state", "--as-of", "9999-12-31T23:59:59-01:00"],
    ["tokens", "create", "--role", "viewer", "--name", "a", "--expires", "nan"],
    ["tokens", "create", "--role", "viewer", "--name", "a", "--expires", "inf"],
    ["tokens", "create", "--role", "viewer", "--name", "a", "--expires", "1e300"],
    ["quarantine", "prune", "--older-than-days", "inf"], ["serve", "--port", "99999"],
])
def test_the_reported_holes_are_one_line_and_exit_2(tmp_path, args):
    store = f"sqlite:///{tmp_path}/s.db"
    r = runner.invoke(app, [*args, "--store", store], env={"SUPPLYNET_HOME": str(tmp_path)})
    _one_error_line(r)


@pytest.mark.parametrize("cmd", [["state"], ["events"]])
def test_reading_a_missing_store_makes_no_folder(tmp_path, cmd):
    target = tmp_path / "nonexistent" / "dir"
    r = runner.invoke(app, [*cmd, "--store", f"sqlite:///{target}/x.db"], env={"SUPPLYNET_HOME": str(tmp_path)})
    assert "no store at" in _one_error_line(r)
    assert not (tmp_path / "nonexistent").exists()

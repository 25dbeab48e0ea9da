"""Bad input through the CLI: the domain raises the error tree, the CLI prints one line and exits 2.

Each case reaches a check deep in the domain (a sense constructor, the importer mapping, the store
URL) that raised a bare ``ValueError`` before and printed a traceback.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from supplynet.cli import app

runner = CliRunner()


def _trips(path):
    rows = ["trip_id,time,lat,lon"]
    for t in range(3):
        rows += [f"T{t},2026-01-0{t + 1}T08:{i:02d}:00Z,{52.0 + i * 0.002:.5f},{4.0 + i * 0.002:.5f}" for i in range(30)]
    path.write_text("\n".join(rows) + "\n")
    return path


def _one_error_line(r, needle):
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error: ")]
    assert len(errors) == 1 and needle in errors[0], r.output
    assert "Traceback" not in r.output and "ValueError" not in r.output


@pytest.mark.parametrize("flags,needle", [
    (["--origin-radius-m", "0"], "geofence radii must be > 0"),  # sense.eta.LaneGeometry
    (["--origin-radius-m", "900000"], "must be shorter than the route"),
])
def test_eta_backtest_refuses_bad_radii_in_one_line(tmp_path, flags, needle):
    r = runner.invoke(app, ["eta", "backtest", "--data", str(_trips(tmp_path / "t.csv")), "--mode", "route", *flags])
    _one_error_line(r, needle)


def test_a_forged_store_url_is_one_line(tmp_path):
    r = runner.invoke(app, ["events", "--store", "bogus://nowhere"])
    assert r.exit_code == 2 and "Traceback" not in r.output and "ValueError" not in r.output, r.output
    assert r.output.startswith("error: ")


def test_a_malformed_time_flag_is_one_line(tmp_path):
    r = runner.invoke(app, ["events", "--store", f"sqlite:///{tmp_path / 'x.db'}", "--since", "2026-13-45"])
    assert r.exit_code == 2 and "Traceback" not in r.output and r.output.startswith("error: "), r.output

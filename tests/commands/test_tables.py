"""CLI tables at 80 columns: nothing cut to "s…", numbers right-aligned, what does not fit named; usage
errors as one line; every cost with its currency."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

from supplynet.cli import app
from supplynet.commands.tables import cell, fit_frame
from supplynet.events import Sale, dumps
from supplynet.model import example_path

runner = CliRunner()


def _render(table, width: int = 80) -> list[str]:
    buf = io.StringIO()
    Console(file=buf, width=width, color_system=None, soft_wrap=False).print(table)
    return buf.getvalue().splitlines()


def _wide_frame(n: int = 6) -> pd.DataFrame:
    return pd.DataFrame({
        "shipment_id": [f"SH{i:06d}" for i in range(n)],
        "status": ["in_transit", "delivered"] * (n // 2),
        "origin": ["SUP-NORWICH"] * n,
        "destination": ["ST-NEWCASTLE-UPON-TYNE"] * n,
        "units": [13698.0, 22.874, 312.0, 5.0, 1234567.0, 0.5][:n],
        "promised_at": pd.to_datetime(["2026-01-08T00:14:24Z"] * n),
        "lat": [52.63756] * n,
        "note": [None] * n,  # empty everywhere: dropped
        "lane_id": ["L-NOR-NCL"] * n,
        "late": [True, False] * (n // 2),
    })


def test_a_wide_frame_fits_80_columns_without_cut_cells():
    lines = _render(fit_frame(_wide_frame(), title="shipments", width=80,
                              prefer=("shipment_id", "status", "units", "destination")))
    assert max(map(len, lines)) <= 80
    assert not any("…" in line for line in lines)
    header = lines[1]
    assert header.split()[:4] == ["shipment_id", "status", "units", "destination"]  # preferred first
    assert "note" not in header  # an all-empty column is not shown at all
    # every destination whole on one line, and the units right-aligned on the header's right edge
    body = lines[3:9]
    assert all("ST-NEWCASTLE-UPON-TYNE" in row for row in body)
    right = header.index("units") + len("units")
    for row, want in zip(body, ["13,698.0", "22.9", "312.0", "5.0", "1,234,567.0", "0.5"], strict=True):
        assert row[:right].endswith(want), (row, want)
    # what did not fit is named, and how to see it
    caption = " ".join(lines[9:])
    assert "more column" in caption and "--format csv|json" in caption
    left_out = [c for c in ("origin", "promised_at", "lat", "lane_id", "late") if c not in header.split()]
    assert left_out and left_out[0] in caption  # something was left out, and named
    assert caption.startswith(f"{len(left_out)} more column")


def test_a_wide_terminal_shows_every_column():
    lines = _render(fit_frame(_wide_frame(), title="shipments", width=200), width=200)
    for c in ("shipment_id", "units", "promised_at", "lat", "lane_id", "late"):
        assert c in lines[1]
    assert "2026-01-08 00:14" in lines[3] and "52.64" in lines[3] and "yes" in lines[3]
    assert "more column" not in "\n".join(lines)


@pytest.mark.parametrize("value,text", [(None, ""), (float("nan"), ""), (True, "yes"), (12345, "12,345"),
                                        (2.5, "2.50"), (1234.56, "1,234.6"), (3.0, "3"),
                                        (datetime(2026, 1, 5, 12, 30, tzinfo=UTC), "2026-01-05 12:30"),
                                        ("2026-01-05T12:30:00Z", "2026-01-05 12:30"), (pd.NaT, ""),
                                        ("ST-LON", "ST-LON")])
def test_cells(value, text):
    assert cell(value) == text


def _store_with_sales(tmp_path: Path) -> str:
    store = f"sqlite:///{tmp_path / 'x.db'}"
    f = tmp_path / "e.jsonl"
    f.write_text("\n".join(dumps(Sale(source="pos-1", seq=i, ts="2026-01-05T12:00:00Z", site="STORE-1",
                                      sku="MILK-2L", quantity=1234.5)) for i in range(1, 4)) + "\n")
    assert runner.invoke(app, ["replay", str(f), "--store", store]).exit_code == 0
    return store


def test_state_prints_a_table_that_fits_80_columns(tmp_path):
    store = _store_with_sales(tmp_path)
    env = {**os.environ, "COLUMNS": "80", "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    r = subprocess.run([sys.executable, "-m", "supplynet.cli", "state", "--store", store, "--network",
                        str(example_path("tiny"))], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert max(map(len, lines)) <= 80 and "…" not in r.stdout
    assert lines[0].startswith("inventory: 1 of 1 rows")
    header, row = lines[1], lines[3]
    assert header.split()[:4] == ["site", "sku", "on_hand", "in_transit"]
    assert row.split()[:3] == ["STORE-1", "MILK-2L", "-3,703.5"]
    assert row.index("-3,703.5") + len("-3,703.5") == header.index("on_hand") + len("on_hand")  # right-aligned


@pytest.mark.parametrize("args,needle", [
    (["state", "--limit", "abc"], "Invalid value for '--limit'"),
    (["nosuch"], "No such command 'nosuch'"),
    (["--nope"], "No such option: --nope"),
    (["decisions", "lis"], "Did you mean 'list'?"),
    (["tokens", "create"], "Missing option '--role'"),
    (["outbox", "list", "--limit", "0"], "'--limit'"),
    (["simulate", "--replications", "x"], "'--replications'"),
])
def test_usage_errors_are_one_line(args, needle):
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    lines = [x for x in r.output.splitlines() if x.strip()]
    assert len(lines) == 1, r.output
    assert lines[0].startswith("error: ") and needle in lines[0]
    assert "Usage:" not in r.output and "╭" not in r.output and "Traceback" not in r.output


def test_a_bare_group_still_shows_its_help():
    r = runner.invoke(app, ["decisions"])
    assert "Usage" in r.output and "list" in r.output and "error:" not in r.output


def test_a_narrow_terminal_still_counts_what_it_leaves_out():
    lines = _render(fit_frame(_wide_frame(), title="shipments", width=30), width=30)
    caption = [x for x in lines if "more column" in x]
    assert caption and caption[0].startswith("7 more columns") and ":  (" not in "\n".join(lines)
    assert lines[1].split() == ["shipment_id", "status"]  # at least the first columns, whole


def test_live_ranking_prints_no_nan_and_says_what_tts_means(tmp_path):
    """A site short before every disruption has no TTS: the live ranking shows "-" (never "nan") and the
    table is followed by what TTS and TTR mean."""
    from supplynet.commands.simulate import print_summary

    buf = io.StringIO()
    rows = [{"site": "ST-A", "worst_scenario": "port_closure", "risk_exposure": 1.0, "tts_days": float("nan"),
             "ttr_days": 12.0, "flagged": False},
            {"site": "ST-B", "worst_scenario": "supplier_fire", "risk_exposure": 0.5, "tts_days": 3.0,
             "ttr_days": 20.0, "flagged": True}]
    print_summary({}, tmp_path, live={"at": "2026-01-12T00:00:00+00:00"}, live_ranking=rows,
                  console=Console(file=buf, width=80, highlight=False))
    text = buf.getvalue()
    assert "nan" not in text.lower()
    line_a = next(ln for ln in text.splitlines() if "ST-A" in ln)
    assert " - " in line_a + " " and "12" in line_a
    assert "TTS (time to survive)" in text

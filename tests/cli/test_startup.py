"""``supplynet --help`` answers without loading the numeric stack (numba, pandas, scipy)."""

from __future__ import annotations

import subprocess
import sys


def test_cli_import_leaves_heavy_libraries_unloaded() -> None:
    code = (
        "import sys, supplynet.cli\n"
        "print(','.join(m for m in ('numba', 'pandas', 'scipy', 'lightgbm', 'statsforecast') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_help_lists_every_command_group() -> None:
    out = subprocess.run([sys.executable, "-m", "supplynet.cli", "--help"], capture_output=True, text=True, check=True)
    for name in ("init", "validate", "demo", "replay", "state", "events", "simulate", "forecast", "eta", "devices"):
        assert name in out.stdout

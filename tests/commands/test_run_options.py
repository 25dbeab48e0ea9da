"""``supplynet run`` refuses out-of-range options and wrong files in one line (exit 2), before it elects
or folds anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from supplynet.model import example_path

SRC = Path(__file__).resolve().parents[2] / "src"
TINY = str(example_path("tiny"))


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "SUPPLYNET_HOME": str(tmp_path / "home")}
    return subprocess.run([sys.executable, "-m", "supplynet.cli", "run", "--store", f"sqlite:///{tmp_path / 's.db'}",
                           "--network", TINY, "--until-caught-up", *args], env=env, capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)


@pytest.mark.parametrize(("args", "says"), [
    (["--tick", "nan"], "error: --tick must be between 1 second and 31 days (2678400), not nan"),
    (["--tick", "inf"], "error: --tick must be between 1 second and 31 days (2678400), not inf"),
    (["--tick", "0.5"], "error: --tick must be between 1 second and 31 days (2678400), not 0.5"),
    (["--status-every", "-1"], "error: --status-every must be between 0.05 and 86400 seconds, not -1"),
    (["--sinks", "/dev/null"], "error: /dev/null: file is empty (expected a mapping with a 'sinks:' list)"),
])
def test_bad_options_are_one_line(tmp_path: Path, args: list[str], says: str) -> None:
    p = _run(tmp_path, *args)
    assert p.returncode == 2 and p.stderr == says + "\n", p.stderr


def test_a_file_that_is_not_a_network_is_named_not_dumped(tmp_path: Path) -> None:
    junk = tmp_path / "passwd"
    junk.write_text("root:x:0:0:root:/root:/bin/bash " * 400)
    p = _run(tmp_path, "--network-update", "--network", str(junk))
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and len(p.stderr) < 300, p.stderr
    assert f"{junk}:1: expected a network mapping at the top level, got 'root:x:0:0:" in p.stderr

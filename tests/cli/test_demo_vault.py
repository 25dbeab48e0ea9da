"""A demo with its own --home keeps its deployment's vault key there: the audit chain it keyed, the
sealed device secrets and later commands on its store (SUPPLYNET_HOME=home) agree on one key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from supplynet.model import example_path

SRC = Path(__file__).resolve().parents[2] / "src"


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "supplynet.cli", *args], env=env, capture_output=True, text=True,
                          timeout=600)


def test_demo_home_holds_the_vault_key_later_commands_use(tmp_path):
    home, cwd = tmp_path / "demo-home", tmp_path / "cwd"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPLYNET_VAULT_KEY")}
    env.update(PYTHONPATH=str(SRC), SUPPLYNET_HOME=str(cwd / ".supplynet"))
    r = subprocess.run([sys.executable, "-m", "supplynet.cli", "demo", "--days", "1", "--no-serve", "--replications",
                        "0", "--home", str(home), "--network", str(example_path("tiny")), "--data-dir", "none"],
                       env=env, capture_output=True, text=True, timeout=600, cwd=cwd)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (home / "vault.key").exists() and not (cwd / ".supplynet" / "vault.key").exists()
    later = {**env, "SUPPLYNET_HOME": str(home)}
    store = f"sqlite:///{home / 'demo.db'}"
    made = _cli("tokens", "create", "--store", store, "--person", "pat", "--role", "planner", env=later)
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["token"]
    verify = _cli("audit", "verify", "--store", store, env=later)
    assert verify.returncode == 0, verify.stderr

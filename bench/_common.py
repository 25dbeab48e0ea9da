"""Shared helpers for bench/*.py: the result file every benchmark writes.

``write_result(name, figures, targets)`` writes ``bench/results/<name>.json``::

    {"name": .., "when": ISO time, "machine": {"cpus": .., "python": .., ...},
     "figures": {..}, "targets": {..}}

``figures`` carries exactly the figure names the issue gives; ``notes`` (optional) says how they
were measured or why one is missing. ``SUPPLYNET_BENCH_RESULTS`` names another folder for the file
(tests/test_bench_quick.py runs each bench's ``--quick`` mode into a temporary one).
"""

from __future__ import annotations

import json
import math
import os
import platform
import sqlite3
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["RESULTS", "best_rate", "machine_info", "results_dir", "write_result"]

RESULTS = Path(__file__).resolve().parent / "results"


def results_dir() -> Path:
    """Where results go: ``$SUPPLYNET_BENCH_RESULTS`` when set, else ``bench/results``."""
    env = os.environ.get("SUPPLYNET_BENCH_RESULTS")
    return Path(env) if env else RESULTS


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def machine_info() -> dict[str, Any]:
    """CPU count, model and load, Python, platform and SQLite versions of this run."""
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "loadavg": load,
    }


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_result(
    name: str,
    figures: Mapping[str, Any],
    targets: Mapping[str, Any] | None = None,
    notes: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``<results_dir()>/<name>.json`` and print it; returns the path."""
    if not name or not name.replace("_", "").isalnum():
        raise ValueError(f"a benchmark name is a word like 'log', not {name!r}")
    out = results_dir()
    out.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {
        "name": name,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "figures": _clean(dict(figures)),
        "targets": _clean(dict(targets or {})),
    }
    if notes:
        doc["notes"] = _clean(dict(notes))
    path = out / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    json.dump(doc, sys.stdout, indent=2)
    print()
    return path


def best_rate(run: Callable[[], int], repeats: int = 3) -> float:
    """Best of ``repeats`` runs of ``run()`` (which returns how many items it processed), per second.

    The best run is the one least disturbed by other work on a shared machine.
    """
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        n = run()
        dt = time.perf_counter() - t0
        best = max(best, n / dt if dt > 0 else 0.0)
    return best

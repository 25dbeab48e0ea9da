"""Benchmark of network loading (issue 2). Run: .venv/bin/python bench/model_load.py

Figures: ``realistic_load_seconds`` (examples/realistic.yaml, 1,158 lines: parse + validate +
cross-references, best of 5, with the default parser: libyaml when PyYAML has it),
``realistic_load_seconds_ruamel`` (the same with the pure-Python reference parser),
``willems_all_38_seconds`` (importing every Willems (2008) chain; absent without the data folder).
Target: the realistic file loads in well under a second. ``--quick``: fewer repeats.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import write_result  # noqa: E402

from supplynet.model import example_path, load_network  # noqa: E402
from supplynet.model.willems import load_willems, willems_files  # noqa: E402


def best_seconds(fn, repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    quick = "--quick" in sys.argv[1:]  # best of 2 (1 for ruamel) instead of 5 (2)
    path = example_path("realistic")
    figures = {
        "realistic_load_seconds": best_seconds(lambda: load_network(path), repeats=2 if quick else 5),
        "realistic_load_seconds_ruamel": best_seconds(lambda: load_network(path, parser="ruamel"),
                                                      repeats=1 if quick else 2),
    }
    files = willems_files()
    notes = {"realistic_lines": path.read_text(encoding="utf-8").count("\n"), "quick": quick}
    if files:
        t0 = time.perf_counter()
        for f in files:
            load_willems(f)
        figures["willems_all_38_seconds"] = time.perf_counter() - t0
    else:
        notes["willems"] = "data folder absent: willems_all_38_seconds not measured"
    write_result("model_load", figures, {"realistic_load_seconds": "< 1.0"}, notes)


if __name__ == "__main__":
    main()

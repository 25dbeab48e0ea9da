"""One source of truth for the example files: the packaged copies (``src/supplynet/examples``, what
``example_path`` and ``supplynet init`` ship). Every YAML file under ``examples/`` is a browsing copy
and must be byte-identical to its packaged twin (edit both, or copy the packaged one over)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COPIES = sorted((ROOT / "examples").glob("*.yaml"))
PACKAGED = ROOT / "src" / "supplynet" / "examples"


def test_the_copies_are_found():
    assert {p.name for p in COPIES} >= {"tiny.yaml", "realistic.yaml", "autonomy.yaml"}


@pytest.mark.parametrize("copy", COPIES, ids=lambda p: p.name)
def test_every_example_copy_equals_its_packaged_twin(copy):
    twin = PACKAGED / copy.name
    assert twin.is_file(), f"examples/{copy.name} has no packaged twin in src/supplynet/examples/"
    assert copy.read_bytes() == twin.read_bytes(), (
        f"examples/{copy.name} differs from src/supplynet/examples/{copy.name} (the source of truth): "
        f"cp src/supplynet/examples/{copy.name} examples/")

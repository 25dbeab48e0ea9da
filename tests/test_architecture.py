"""The picture in DESIGN.md stays true: data flows left to right, and a module imports only from
modules to its left (plus the shared foundation)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "supplynet"

# shared by everyone: may be imported from anywhere, import only each other
FOUNDATION = {"errors", "units", "events", "model", "config", "store", "_version"}
# the loop, left to right; a layer may import layers with a smaller rank
RANK = {
    "security": 1,
    "ingest": 2,
    "twin": 3,
    "sense": 4,
    "decide.policies": 5,  # pure policy rules: the simulator calls the very same code
    "decide.sizing": 5,
    "decide.gsm": 5,
    "sim": 6,
    "decide": 7,
}
# edges: wire everything together, nothing imports them (except each other)
EDGE = {"fleet", "loop", "demo", "cli", "commands", "api", "web", "testing"}


def _layer(module: str) -> str:
    parts = module.split(".")
    two = ".".join(parts[:2])
    if two in RANK:
        return two
    return parts[0]


def _imports(path: Path) -> list[tuple[int, str]]:
    rel = path.relative_to(SRC).with_suffix("")
    pkg_parts = list(rel.parts[:-1]) if rel.name != "__init__" else list(rel.parts[:-1])
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg_parts[: len(pkg_parts) - (node.level - 1)] if node.level > 1 else pkg_parts
                mod = ".".join([*base, *(node.module.split(".") if node.module else [])])
                names = [mod] if node.module else [".".join([*base, a.name]) for a in node.names]
            elif node.module and node.module.startswith("supplynet"):
                names = [node.module.removeprefix("supplynet").lstrip(".")]
            else:
                continue
            out.extend((node.lineno, n) for n in names if n)
        elif isinstance(node, ast.Import):
            out.extend((node.lineno, a.name.removeprefix("supplynet").lstrip("."))
                       for a in node.names if a.name.startswith("supplynet."))
    return out


def _violations() -> list[str]:
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        if not parts:
            continue
        me = _layer(".".join(parts))
        for line, target in _imports(path):
            them = _layer(target)
            if them == me or not target:
                continue
            where = f"{path.relative_to(SRC.parent)}:{line} ({me} imports {them})"
            if me in EDGE:
                continue
            if them in EDGE:
                bad.append(where + ": nothing may import an edge module")
            elif me in FOUNDATION and them not in FOUNDATION:
                bad.append(where + ": the foundation may not import the loop")
            elif me in RANK and them in RANK and RANK[them] >= RANK[me]:
                bad.append(where + ": imports a module to its right")
    return bad


def test_imports_point_left():
    assert _violations() == []


@pytest.mark.parametrize("module", ["supplynet.events", "supplynet.units", "supplynet.errors", "supplynet.twin",
                                    "supplynet.model", "supplynet.store", "supplynet.fleet"])
def test_public_names_exist(module):
    import importlib

    mod = importlib.import_module(module)
    missing = [n for n in mod.__all__ if not hasattr(mod, n)]
    assert missing == []

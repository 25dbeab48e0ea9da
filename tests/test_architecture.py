"""The picture in DESIGN.md stays true: data flows left to right, and a module imports only from
modules to its left (plus the shared foundation); the edges that wire the loop together import
each other only downwards; and every package is placed in the picture (a new one fails until it is).

The checker resolves ``from supplynet import api`` and ``from .. import sim`` to the submodule they
name, follows relative imports from packages and modules alike, and is itself tested on a planted
tree (``test_the_checker_catches_planted_bad_imports``), so it cannot silently pass."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "supplynet"

# shared by everyone: may be imported from anywhere, import only each other ("" is the package
# itself, supplynet/__init__.py: its version)
FOUNDATION = {"", "errors", "units", "events", "model", "config", "store", "_version", "_lazy"}
# the loop, left to right; a layer may import layers with a smaller rank
RANK = {
    "datasets": 0,  # public data sets read into the canonical shapes: imports only the foundation
    "security": 1,
    "ingest": 2,
    "twin": 3,
    "sense": 4,
    "policy": 5,  # pure policies, sizing and GSM: decide and the simulator call the very same code
    "sim": 6,  # sim sits beside the loop's decide: neither imports the other (reroute is handed its
    "decide": 6,  # simulation as a function by the wiring), so one rank for both
}
# edges: wire everything together; nothing in the loop or the foundation imports them, and an edge
# imports only edges of a lower rank (the CLI mounts the commands, which serve the API, ...)
EDGE = {
    "testing": 0,  # contract suites and strategies: the loop's interfaces only
    "web": 0,  # static assets
    "fleet": 0,  # a client of the gate like any device
    "loop": 0,
    "api": 1,
    "commands": 2,
    "demo": 3,  # fleet + run + serve composed: above the commands it composes
    "cli": 4,
}


def _layer(module: str) -> str:
    parts = module.split(".")
    two = ".".join(parts[:2])
    if two in RANK:
        return two
    return parts[0]


def _is_module(src: Path, dotted: str) -> bool:
    """True if ``dotted`` (relative to the package root ``src``) is a module or package there."""
    path = src.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(src: Path, path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import of the package in ``path``, relative to the package root
    (``""`` is the root itself); ``from X import Y`` names ``X.Y`` when Y is a submodule of X."""
    rel = path.relative_to(src).with_suffix("")
    pkg_parts = list(rel.parts[:-1])  # the package this file belongs to (its own, for an __init__)
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level - 1 > len(pkg_parts):
                    out.append((node.lineno, "<beyond the package root>"))
                    continue
                base = pkg_parts[: len(pkg_parts) - (node.level - 1)]
                mod = ".".join([*base, *(node.module.split(".") if node.module else [])])
            elif node.module == "supplynet" or (node.module or "").startswith("supplynet."):
                mod = node.module.removeprefix("supplynet").lstrip(".")
            else:
                continue
            for a in node.names:  # `from supplynet import api`, `from .. import sim`: the submodule
                sub = f"{mod}.{a.name}" if mod else a.name
                out.append((node.lineno, sub if a.name != "*" and _is_module(src, sub) else mod))
        elif isinstance(node, ast.Import):
            out.extend((node.lineno, a.name.removeprefix("supplynet").lstrip("."))
                       for a in node.names if a.name == "supplynet" or a.name.startswith("supplynet."))
    return out


def _place(layer: str) -> str | None:
    if layer in FOUNDATION:
        return "foundation"
    if layer in RANK:
        return "loop"
    if layer in EDGE:
        return "edge"
    return None


def violations(src: Path = SRC) -> list[str]:
    """Every import that breaks the picture, and every module outside it, as ``file:line (why)``."""
    bad = []
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        me = _layer(".".join(parts))
        here = f"{path.relative_to(src.parent)}"
        if _place(me) is None:
            bad.append(f"{here}: {me!r} is in no layer: add it to FOUNDATION, RANK or EDGE in "
                       "tests/test_architecture.py (and to the picture in DESIGN.md)")
            continue
        for line, target in _imports(src, path):
            them = _layer(target)
            if them == me:
                continue
            where = f"{here}:{line} ({me or 'supplynet'} imports {them or 'supplynet'})"
            if _place(them) is None:
                bad.append(where + ": imports a module in no layer")
            elif me in EDGE:
                if them in EDGE and EDGE[them] >= EDGE[me]:
                    bad.append(where + ": an edge imports only edges below it")
            elif them in EDGE:
                bad.append(where + ": nothing may import an edge module")
            elif me in FOUNDATION and them not in FOUNDATION:
                bad.append(where + ": the foundation may not import the loop")
            elif me in RANK and them in RANK and RANK[them] == RANK[me]:
                bad.append(where + ": they sit beside each other and neither imports the other (hand the "
                           "other's function in as a parameter)")
            elif me in RANK and them in RANK and RANK[them] > RANK[me]:
                bad.append(where + ": imports a module to its right")
    return bad


def test_imports_point_left():
    assert violations() == []


def test_no_decide_module_imports_sim():
    """decide is handed its simulation (reroute's costing, the plan's stocking points) by the wiring;
    stated on its own so that a rank change cannot quietly allow it again."""
    assert RANK["decide"] == RANK["sim"]  # beside each other: neither may import the other
    found = []
    for path in sorted((SRC / "decide").rglob("*.py")):
        found += [f"{path.relative_to(SRC.parent)}:{line}" for line, target in _imports(SRC, path)
                  if _layer(target) == "sim"]
    assert found == []


def _plant(root: Path, files: dict[str, str]) -> Path:
    src = root / "supplynet"
    for name, text in files.items():
        f = src / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    return src


CLEAN = {
    "__init__.py": '__version__ = "0"\n',
    "errors.py": "",
    "events.py": "from .errors import *\n",
    "ingest/__init__.py": "from supplynet import events\nfrom ..security import signing\n",
    "security/__init__.py": "",
    "security/signing.py": "from .. import errors\n",
    "twin/__init__.py": "from ..ingest import gate\n",
    "ingest/gate.py": "import supplynet.events\nfrom . import __name__ as _n\n",
    "policy/__init__.py": "", "policy/policies.py": "from ..sense import x\nfrom supplynet import model\n",
    "decide/__init__.py": "from supplynet.policy import policies\nfrom .. import twin\n",
    "sim/__init__.py": "from ..policy.policies import x\nfrom supplynet.policy import policies\n",
    "api/__init__.py": "from .. import decide, sim, __version__\nfrom supplynet.testing import services\n",
    "cli.py": "from supplynet import api\nfrom .commands import serve\n",
    "commands/__init__.py": "", "commands/serve.py": "from ..api import app\n",
    "testing/__init__.py": "", "testing/services.py": "from ..errors import x\n",
}


def test_the_checker_passes_a_clean_tree(tmp_path):
    assert violations(_plant(tmp_path, CLEAN)) == []


@pytest.mark.parametrize(("name", "text", "why"), [
    ("twin/bad.py", "from supplynet import decide\n", "twin imports decide): imports a module to its right"),
    ("twin/bad.py", "from .. import sim\n", "twin imports sim): imports a module to its right"),
    ("twin/bad.py", "from supplynet.policy import policies\n", "twin imports policy): imports a module to its"),
    ("twin/bad.py", "import supplynet.sim\n", "twin imports sim): imports a module to its right"),
    ("datasets/bad.py", "from supplynet.sense import x\n", "datasets imports sense): imports a module to its"),
    ("ingest/sub/bad.py", "from ...twin import x\n", "ingest imports twin): imports a module to its right"),
    ("policy/policies.py", "from supplynet import decide\n", "policy imports decide): imports a module to its"),
    ("policy/policies.py", "from ..sim import engine\n", "policy imports sim): imports a module to its right"),
    ("decide/bad.py", "from ..sim import engine\n", "decide imports sim): they sit beside each other"),
    ("decide/bad.py", "import supplynet.sim.engine\n", "decide imports sim): they sit beside each other"),
    ("sim/bad.py", "from supplynet.decide import reroute\n", "sim imports decide): they sit beside each other"),
    ("events.py", "from supplynet import ingest\n", "events imports ingest): the foundation may not import"),
    ("__init__.py", "from . import sim\n", "supplynet imports sim): the foundation may not import the loop"),
    ("sim/bad.py", "from supplynet import api\n", "sim imports api): nothing may import an edge module"),
    ("sim/bad.py", "from .. import testing\n", "sim imports testing): nothing may import an edge module"),
    ("api/bad.py", "from supplynet import cli\n", "api imports cli): an edge imports only edges below it"),
    ("testing/bad.py", "from ..fleet import x\n", "testing imports fleet): an edge imports only edges below"),
    ("newthing/__init__.py", "", "'newthing' is in no layer"),
    ("decide/bad.py", "from supplynet import newthing\n", "imports newthing): imports a module in no layer"),
    ("twin/bad.py", "from ...... import os\n", "<beyond the package root>): imports a module in no layer"),
])
def test_the_checker_catches_planted_bad_imports(tmp_path, name, text, why):
    files = dict(CLEAN)
    files[name] = files.get(name, "") + text
    if name.startswith("newthing") or "newthing" in text:
        files["newthing/__init__.py"] = ""
    found = violations(_plant(tmp_path, files))
    if name != "newthing/__init__.py" and "newthing" in text:  # the package itself is reported too
        found.remove(next(f for f in found if "'newthing' is in no layer" in f))
    assert len(found) == 1 and why in found[0], found


@pytest.mark.parametrize("module", ["supplynet.events", "supplynet.units", "supplynet.errors", "supplynet.twin",
                                    "supplynet.model", "supplynet.store", "supplynet.fleet"])
def test_public_names_exist(module):
    import importlib

    mod = importlib.import_module(module)
    missing = [n for n in mod.__all__ if not hasattr(mod, n)]
    assert missing == []

"""Every table is reached through the :class:`~supplynet.store.Store` base class: no module outside
``supplynet/store/`` touches a store's ``.backend`` (the SQL seam the store's own modules share) or
imports the store's private SQL module. The checker is tested on planted code, so it cannot silently
pass."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from supplynet.store import Store

SRC = Path(__file__).resolve().parents[2] / "src" / "supplynet"


def _offences(tree: ast.AST) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "backend":
            out.append((node.lineno, "uses the attribute .backend"))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr")
              and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and node.args[1].value == "backend"):
            out.append((node.lineno, f"reads .backend with {node.func.id}()"))
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            names = {a.name for a in node.names}
            if mod.endswith("store._sql") or (mod.endswith("store") and "_sql" in names) or mod == "_sql":
                out.append((node.lineno, "imports the store's private SQL module"))
        elif isinstance(node, ast.Import) and any(a.name.endswith("store._sql") for a in node.names):
            out.append((node.lineno, "imports the store's private SQL module"))
    return out


def _outside_store() -> list[Path]:
    return [p for p in sorted(SRC.rglob("*.py")) if "store" not in p.relative_to(SRC).parts[:1]]


def test_no_module_outside_the_store_touches_its_backend():
    files = _outside_store()
    assert len(files) > 100  # the walk found the package
    bad = [f"{p.relative_to(SRC)}:{line}: {why}" for p in files
           for line, why in _offences(ast.parse(p.read_text(encoding="utf-8"), str(p)))]
    assert bad == [], "reach the tables through the Store's accessors:\n" + "\n".join(bad)


@pytest.mark.parametrize("text", [
    "def f(store):\n    return store.backend.query('SELECT 1')\n",
    "def f(store):\n    return getattr(store, 'backend', store)\n",
    "from ..store._sql import Tx\n",
    "from ..store import _sql\n",
    "import supplynet.store._sql\n",
])
def test_the_checker_catches_planted_uses(text):
    assert _offences(ast.parse(text))


def test_the_checker_passes_clean_code():
    text = "def f(store):\n    with store.transaction() as tx:\n        store.outbox.enqueue_tx(tx)\n"
    assert _offences(ast.parse(text)) == []


def test_every_table_is_an_abstract_accessor_of_the_base_class():
    accessors = {"log", "snapshots", "ingest", "devices", "decisions", "audit", "tokens", "scenarios", "outbox",
                 "sink_secrets", "brain"}
    abstract = set(Store.__abstractmethods__)
    assert accessors <= abstract
    assert {"transaction", "has_table", "check", "migrate", "schema_version", "close"} <= abstract

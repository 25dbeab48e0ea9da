"""No import cycles among supplynet's modules: if ``a`` imports ``b``, nothing ``b`` imports (directly
or through others) imports ``a``.

Every import counts wherever it stands (at module level, or inside a function, where it runs later
but still ties the two modules together), except those under ``if TYPE_CHECKING:``, which never run.
``from supplynet.sense import Trip`` is an import of the module that defines ``Trip``: a package that
publishes its names lazily (:mod:`supplynet._lazy`, a ``_BY_MODULE`` map) is followed to the module.
Importing ``a.b.c`` also runs the ``__init__`` of ``a`` and ``a.b``, unless the importer lives in them.

The checker is AST based like ``tests/test_architecture.py`` and is itself tested on planted trees.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "supplynet"

#: cycles still there (their modules, sorted) -> why; the list only shrinks
CYCLES_ALLOWED = {
    (
        "supplynet.security.broker",
        "supplynet.security.devices",
    ): "devices hands a new device its broker password (broker.mqtt_password, inside a function) while "
    "broker renders the ACL from devices.DeviceRecord; moving mqtt_password below both (next to the "
    "vault's key derivation) changes its importers in ingest and commands: left to the security owner",
}


def _module_name(src: Path, path: Path) -> str:
    parts = list(path.relative_to(src.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(src: Path, dotted: str) -> bool:
    path = src.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _lazy_names(src: Path, package: str) -> dict[str, str]:
    """name -> module, from the ``_BY_MODULE`` and ``_ALIASES`` literals of a package's ``__init__``."""
    init = src.parent.joinpath(*package.split("."), "__init__.py")
    if not init.is_file():
        return {}
    out: dict[str, str] = {}
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        target = (
            node.target
            if isinstance(node, ast.AnnAssign)
            else (node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None)
        )
        if not isinstance(target, ast.Name) or node.value is None:
            continue
        if target.id == "_BY_MODULE":
            for module, names in ast.literal_eval(node.value).items():
                out.update({n: f"{package}.{module}" for n in names})
        elif target.id == "_ALIASES":
            out.update(
                {alias: f"{package}.{module}" for alias, (module, _) in ast.literal_eval(node.value).items()}
            )
    return out


def _runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement except those under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                yield from _runtime_imports(ast.Module(body=[child], type_ignores=[]))
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _runtime_imports(node)


def import_graph(src: Path = SRC) -> dict[str, dict[str, int]]:
    """module -> {imported module: first line}, for the package's own modules."""
    graph: dict[str, dict[str, int]] = {}
    for path in sorted(src.rglob("*.py")):
        me = _module_name(src, path)
        pkg = me if path.name == "__init__.py" else me.rpartition(".")[0]
        mine = {".".join(me.split(".")[:i]) for i in range(1, me.count(".") + 2)}  # me and my packages
        edges = graph.setdefault(me, {})
        for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    mod = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    mod = node.module or ""
                for a in node.names:
                    if _is_module(src, f"{mod}.{a.name}"):
                        targets.append(f"{mod}.{a.name}")
                    else:
                        targets.append(_lazy_names(src, mod).get(a.name, mod))
            else:
                targets = [a.name for a in node.names]
            for t in targets:
                parts = t.split(".")
                if parts[0] != src.name:
                    continue
                while len(parts) > 1 and not _is_module(src, ".".join(parts)):
                    parts.pop()  # `import supplynet.x.name`: the module is supplynet.x
                for i in range(1, len(parts) + 1):  # the packages on the way run their __init__
                    dotted = ".".join(parts[:i])
                    if dotted not in mine:
                        edges.setdefault(dotted, node.lineno)
    return graph


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan 1972), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def import_cycles(src: Path = SRC, allowed: frozenset[tuple[str, ...]] = frozenset()) -> list[str]:
    """One line per cycle (but the ``allowed`` ones): its modules, and one loop through them with
    the line of each import."""
    graph = import_graph(src)
    found = []
    for comp in _cycles(graph):
        if tuple(comp) in allowed:
            continue
        members = set(comp)
        start = comp[0]
        # the shortest way from start back to start inside the component (breadth first)
        prev: dict[str, str] = {}
        frontier = [start]
        while frontier and start not in prev:
            nxt = []
            for v in frontier:
                for w in graph[v]:
                    if w in members and w not in prev:
                        prev[w] = v
                        nxt.append(w)
            frontier = nxt
        loop = [start]
        while len(loop) == 1 or loop[-1] != start:
            loop.append(prev[loop[-1]])
        loop.reverse()
        steps = " -> ".join(f"{a} (line {graph[a][b]})" for a, b in zip(loop, loop[1:], strict=False))
        found.append(f"{len(comp)} modules {comp}: {steps} -> {start}")
    return found


def test_no_import_cycles():
    found = import_cycles(allowed=frozenset(CYCLES_ALLOWED))
    assert not found, "break these import cycles (move what both sides need below them):\n" + "\n".join(found)
    gone = sorted(set(CYCLES_ALLOWED) - {tuple(c) for c in _cycles(import_graph())})
    assert not gone, f"fixed: remove from CYCLES_ALLOWED: {gone}"


# --- the checker on planted trees ------------------------------------------------------------------


def _plant(root: Path, files: dict[str, str]) -> Path:
    src = root / "supplynet"
    for name, text in files.items():
        f = src / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    return src


CLEAN = {
    "__init__.py": "",
    "errors.py": "",
    "pkg/__init__.py": '_BY_MODULE = {"a": ("A",), "sub.c": ("C",)}\n_ALIASES = {"alias": ("b", "B")}\n',
    "pkg/a.py": "from ..errors import x\nfrom . import b\n",
    "pkg/b.py": "from typing import TYPE_CHECKING\nfrom .. import errors\nif TYPE_CHECKING:\n    from .a import A\n",
    "pkg/sub/__init__.py": "",
    "pkg/sub/c.py": "from ... import errors\nfrom supplynet.pkg import b\n\ndef f():\n    import supplynet.pkg.a\n",
    "other.py": "from supplynet.pkg import A, C\n",
}


def test_the_cycle_checker_passes_a_clean_tree(tmp_path):
    src = _plant(tmp_path, CLEAN)
    assert import_cycles(src) == []
    graph = import_graph(src)
    assert graph["supplynet.other"] == {
        "supplynet.pkg": 1,
        "supplynet.pkg.a": 1,
        "supplynet.pkg.sub": 1,
        "supplynet.pkg.sub.c": 1,
    }
    assert graph["supplynet.pkg.b"] == {"supplynet.errors": 2}  # TYPE_CHECKING imports never run
    assert set(graph["supplynet.pkg.sub.c"]) == {"supplynet.errors", "supplynet.pkg.b", "supplynet.pkg.a"}


ABC = ["supplynet.pkg.a", "supplynet.pkg.b", "supplynet.pkg.sub.c"]  # c imports a and b


@pytest.mark.parametrize(
    ("name", "text", "cycle"),
    [
        ("pkg/b.py", "def f():\n    from .a import A\n", ["supplynet.pkg.a", "supplynet.pkg.b"]),
        ("errors.py", "import supplynet.pkg.sub.c\n", ["supplynet.errors", *ABC]),
        ("pkg/b.py", "from supplynet.pkg import C\n", ABC),  # a name the package publishes lazily
        ("pkg/b.py", "from .sub.c import f\n", ABC),
        (
            "pkg/sub/__init__.py",
            "from supplynet import other\n",
            ["supplynet.other", "supplynet.pkg.sub"],
        ),  # the package's __init__ runs on the way to c
        ("errors.py", "from .pkg import alias\n", ["supplynet.errors", "supplynet.pkg.b"]),  # an alias
    ],
)
def test_the_cycle_checker_catches_planted_cycles(tmp_path, name, text, cycle):
    files = dict(CLEAN)
    files[name] = files[name] + text
    found = import_cycles(_plant(tmp_path, files))
    assert len(found) == 1 and f"modules {cycle}:" in found[0], found

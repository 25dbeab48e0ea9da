"""Public names: each package's ``__all__`` is complete, the edges use public modules only, and the
domain raises the error tree rather than bare ``ValueError``.

- ``datasets``, ``decide``, ``sense``, ``sim``, ``policy`` and ``policy.gsm`` publish every name of
  their public modules, those of their subpackages too (imported on first use, :mod:`supplynet._lazy`);
  a name two modules share gets an alias of its own; a subpackage that publishes names itself
  (``policy.gsm``) is checked as a package of its own.
- An edge (api, commands, cli, web) imports no private ``_x`` module of another package; today's
  exceptions are listed in ``EDGE_PRIVATE_ALLOWED`` with their reason (the list only shrinks).
- ``raise ValueError`` appears only where pydantic requires it (validators).

The checkers are themselves tested on planted trees, so they cannot silently pass.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "supplynet"
PACKAGES = ["datasets", "decide", "sense", "sim", "policy", "policy.gsm"]
EDGES = ("api", "commands", "cli", "web")

#: (importing module, private module) -> why it is still there
EDGE_PRIVATE_ALLOWED = {
    ("supplynet.cli", "supplynet.commands._netstore"):
        "cli.py and commands/ are one edge (the CLI and its sub-commands); the `state` command still "
        "lives in cli.py and shares the network-in-the-store helper with run and serve",
}
#: files that may raise a bare ValueError -> why
VALUE_ERROR_ALLOWED = {
    "model/_schema.py": "pydantic field and model validators must raise ValueError (or AssertionError); "
                        "the loader turns them into ModelValidationError with file, line and field",
}


def _public_modules(pkg: str) -> dict[str, list[str]]:
    """module name (dotted below the package) -> its ``__all__``, for every public module of
    ``supplynet.<pkg>`` and of its public subpackages (``sense.eta.trips`` is ``"eta.trips"``)."""
    out = {}
    base = SRC.joinpath(*pkg.split("."))
    own = {SRC.joinpath(*p.split(".")) for p in PACKAGES} - {base}  # checked as packages of their own
    for p in sorted(base.rglob("*.py")):
        if any(p.is_relative_to(o) for o in own):
            continue
        parts = p.relative_to(base).with_suffix("").parts
        if not any(part.startswith("_") for part in parts):
            stem = ".".join(parts)
            mod = importlib.import_module(f"supplynet.{pkg}.{stem}")
            assert hasattr(mod, "__all__"), f"supplynet.{pkg}.{stem} has no __all__"
            out[stem] = list(mod.__all__)
    return out


def missing_names(pkg: str) -> list[str]:
    """Public names of ``pkg``'s public modules that the package does not publish (as themselves)."""
    package = importlib.import_module(f"supplynet.{pkg}")
    published = set(getattr(package, "__all__", ()))
    missing = []
    for stem, names in _public_modules(pkg).items():
        mod = sys.modules[f"supplynet.{pkg}.{stem}"]
        for name in names:
            obj = getattr(mod, name)
            if not any(getattr(package, n, None) is obj for n in published):
                missing.append(f"supplynet.{pkg}.{stem}.{name}")
    return missing


@pytest.mark.parametrize("pkg", PACKAGES)
def test_every_public_name_is_published(pkg):
    missing = missing_names(pkg)
    assert not missing, (f"add these to _BY_MODULE in src/supplynet/{pkg}/__init__.py (or an alias in _ALIASES "
                         f"when two modules share a name): {missing}")


@pytest.mark.parametrize("pkg", PACKAGES)
def test_published_names_resolve_and_are_unique(pkg):
    package = importlib.import_module(f"supplynet.{pkg}")
    names = list(package.__all__)
    assert names == sorted(set(names))
    for name in names:
        getattr(package, name)  # a stale entry raises here
    assert set(names) <= set(dir(package))
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        package.no_such_name  # noqa: B018


def test_every_subpackage_that_publishes_names_is_checked():
    """A subpackage is walked with its parent (``sense.eta``: ``sense`` publishes its names); one that
    publishes names itself (a non-empty ``__all__``, like ``policy.gsm``) must be in PACKAGES."""
    publishing = []
    for pkg in PACKAGES:
        for p in SRC.joinpath(*pkg.split(".")).rglob("*/__init__.py"):
            if any(part.startswith("_") for part in p.parent.relative_to(SRC).parts):
                continue
            name = ".".join(p.parent.relative_to(SRC).parts)
            if getattr(importlib.import_module(f"supplynet.{name}"), "__all__", None):
                publishing.append(name)
    assert publishing and set(publishing) <= set(PACKAGES), f"add to PACKAGES: {set(publishing) - set(PACKAGES)}"


def test_aliases_name_the_shared_names():
    import supplynet.decide as decide
    import supplynet.sense as sense

    assert decide.SINK_KINDS == ("webhook", "mqtt", "file") and decide.KINDS == decide.autonomy.KINDS
    assert decide.record_decisions is decide.record.record
    assert sense.eta_backtest is sense.eta.eta_backtest.backtest
    assert sense.forecast_backtest is sense.demand.forecast.backtest


def test_importing_a_package_imports_none_of_its_modules():
    code = ("import sys, supplynet.datasets, supplynet.decide, supplynet.sense, supplynet.sim, supplynet.policy, "
            "supplynet.policy.gsm\n"
            "loaded = [m for m in sys.modules if m.startswith(('supplynet.datasets.', 'supplynet.decide.', "
            "'supplynet.sense.', 'supplynet.sim.', 'supplynet.policy.')) and m != 'supplynet.policy.gsm' "
            "or m in ('lightgbm', 'statsforecast', 'numba', 'highspy')]\n"
            "print(','.join(loaded))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={"PYTHONPATH": str(SRC.parent), "PATH": ""})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""


# --- edges import public modules only ------------------------------------------------------------------

def _module_name(src: Path, path: Path) -> str:
    parts = list(path.relative_to(src.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def edge_private_imports(src: Path = SRC) -> set[tuple[str, str]]:
    """(edge module, private module of another package) for every such import under ``src``."""
    found = set()
    for path in sorted(src.rglob("*.py")):
        me = _module_name(src, path)
        top = me.split(".")[1] if "." in me else ""
        if top not in EDGES:
            continue
        pkg = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = (pkg.split(".")[: len(pkg.split(".")) - node.level + 1] if node.level else [])
                mod = ".".join([*base, *([node.module] if node.module else [])])
                targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            for t in targets:
                parts = t.split(".")
                if parts[0] != "supplynet" or len(parts) < 3 or parts[1] == top:
                    continue
                for i in range(2, len(parts)):
                    if parts[i].startswith("_") and not parts[i].startswith("__"):
                        p = src.joinpath(*parts[1:i + 1])
                        if p.with_suffix(".py").is_file() or (p / "__init__.py").is_file():
                            found.add((me, ".".join(parts[:i + 1])))
                        break
    return found


def test_edges_import_no_private_module_of_another_package():
    found = edge_private_imports()
    new = sorted(found - set(EDGE_PRIVATE_ALLOWED))
    assert not new, f"export the names from the package instead: {new}"
    gone = sorted(set(EDGE_PRIVATE_ALLOWED) - found)
    assert not gone, f"fixed: remove from EDGE_PRIVATE_ALLOWED: {gone}"


def test_the_edge_checker_catches_planted_imports(tmp_path):
    src = tmp_path / "supplynet"
    files = {
        "__init__.py": "", "sim/__init__.py": "", "sim/_kernel.py": "", "sim/engine.py": "",
        "api/__init__.py": "", "api/_private.py": "",
        "api/a.py": "from ..sim import _kernel\nfrom ._private import x\n",  # the first is bad
        "api/b.py": "import supplynet.sim._kernel as K\nfrom supplynet.sim.engine import run\n",
        "commands/__init__.py": "", "commands/c.py": "from supplynet.sim._kernel import D_FILL\n",
        "sim/ok.py": "from ._kernel import D_FILL\n",  # not an edge
    }
    for name, text in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text)
    assert edge_private_imports(src) == {("supplynet.api.a", "supplynet.sim._kernel"),
                                         ("supplynet.api.b", "supplynet.sim._kernel"),
                                         ("supplynet.commands.c", "supplynet.sim._kernel")}


# --- the error tree ----------------------------------------------------------------------------------

def bare_value_errors(src: Path = SRC) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for path in sorted(src.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and node.exc is not None:
                exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                if isinstance(exc, ast.Name) and exc.id == "ValueError":
                    out.setdefault(path.relative_to(src).as_posix(), []).append(node.lineno)
    return {f: sorted(lines) for f, lines in out.items()}


def test_the_domain_raises_the_error_tree():
    bad = {f: lines for f, lines in bare_value_errors().items() if f not in VALUE_ERROR_ALLOWED}
    assert not bad, ("raise an error of supplynet.errors (ParameterError for an argument, DataError for input "
                     f"data, ...) instead of ValueError: {bad}")


def test_the_value_error_checker_catches_planted_raises(tmp_path):
    (tmp_path / "m.py").write_text("def f(x):\n    if x:\n        raise ValueError('x')\n    raise ValueError\n")
    assert bare_value_errors(tmp_path) == {"m.py": [3, 4]}


def test_value_shaped_errors_are_value_errors_and_the_rest_are_not():
    from supplynet import errors
    from supplynet.policy.gsm import GsmError
    from supplynet.policy.sizing import SizingError

    for cls in (errors.ParameterError, errors.DataError, errors.EventError, errors.UnitError, errors.ConfigError, errors.SimulationError, errors.DecisionError, SizingError, GsmError):
        assert issubclass(cls, ValueError) and issubclass(cls, errors.SupplynetError), cls
    for cls in (errors.StoreError, errors.StoreUnavailable, errors.SecurityError, errors.IngestError, errors.ModelError):
        assert not issubclass(cls, ValueError), cls
    assert SizingError.__bases__ == (errors.DecisionError,) and GsmError.__bases__ == (errors.DecisionError,)

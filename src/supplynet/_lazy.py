"""Lazy public names for a package: ``supplynet.sense.Trip`` imports :mod:`supplynet.sense.eta.trips`
on first use, so importing a package stays cheap (no lightgbm, numba or statsforecast until a name
that needs them is touched) and a package's ``__init__`` never creates an import cycle.

A package lists its public names per module and hands the list to :func:`lazy_exports`::

    _BY_MODULE = {"trips": ("Trip", "load_trips")}
    __all__, __getattr__, __dir__ = lazy_exports(__name__, _BY_MODULE)

``tests/test_public_names.py`` checks every package's list is complete.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, by_module: Mapping[str, Sequence[str]],
                 aliases: Mapping[str, tuple[str, str]] | None = None,
                 ) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``(__all__, __getattr__, __dir__)`` for ``package``: each name of ``by_module[m]`` is
    ``package.m.name``; ``aliases[alias] = (m, name)`` publishes ``package.m.name`` as ``alias``
    (for a name two modules share, or one equal to its module's name)."""
    exports: dict[str, tuple[str, str]] = {n: (m, n) for m, names in by_module.items() for n in names}
    for alias, target in (aliases or {}).items():
        exports[alias] = target

    def __getattr__(name: str) -> Any:
        try:
            module, attr = exports[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(f"{package}.{module}"), attr)
        sys.modules[package].__dict__[name] = value  # the next access skips this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(sys.modules[package].__dict__) | set(exports))

    return sorted(exports), __getattr__, __dir__

"""Guaranteed-service model (GSM) for multi-echelon safety-stock placement (Graves & Willems 2000).

- :mod:`.problem`: :class:`GsmProblem` (stages, lead times, costs, arcs; validated where it is
  made), built from :class:`StageRow` records (:func:`willems_rows` reads a Willems (2008) chain),
  and :class:`GsmSolution`.
- :func:`solve_tree` (:mod:`.tree`): the Graves & Willems (2000) dynamic program on a spanning tree
  (the network read as an undirected graph has no cycle), exact, integer service times.
- :func:`solve_exact` (:mod:`.exact`): any acyclic network with integer lead times, exact: the
  tree-shaped parts folded into their 2-core neighbours by the tree DP, the 2-core a MILP over
  integer ``(S_j, SI_j)`` pairs at their exact costs.
- :func:`solve_milp` (:mod:`.milp`): any acyclic network, the iterative piecewise-linear MILP of
  Magnanti, Shen, Shu, Simchi-Levi & Teo (2006), with a lower bound and status under a time limit.
- :func:`solve` (:mod:`.solver`): the tree DP for a tree, :func:`solve_exact` for integer lead
  times, else the piecewise-linear MILP.

Every public name of the package's modules is here (imported on first use)::

    >>> from supplynet.policy import gsm
    >>> gsm.solve_tree is gsm.tree.solve_tree
    True
"""

from __future__ import annotations

from ..._lazy import lazy_exports

#: the public names of each public module (its ``__all__``)
_BY_MODULE: dict[str, tuple[str, ...]] = {
    "exact": ("solve_exact",),
    "milp": ("solve_milp",),
    "problem": (
        "GsmError",
        "GsmProblem",
        "GsmSolution",
        "StageRow",
        "service_level_of_rounded_z",
        "stage_table",
        "willems_rows",
    ),
    "solver": ("solve",),
    "tree": ("solve_tree",),
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _BY_MODULE)

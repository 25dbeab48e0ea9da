"""The one entry point: the solver that fits the network."""

from __future__ import annotations

from typing import Any

import numpy as np

from .exact import solve_exact
from .milp import solve_milp
from .problem import GsmProblem, GsmSolution
from .tree import solve_tree

__all__ = ["solve"]


def solve(problem: GsmProblem, time_limit: float = 120.0, **milp_options: Any) -> GsmSolution:
    """Graves-Willems tree DP for a tree with integer lead times; :func:`solve_exact` (tree parts
    folded by the DP, exact pair MILP on the 2-core) for other networks with integer lead times;
    the iterative piecewise-linear :func:`solve_milp` when some lead time is fractional."""
    lt = problem.lead_time
    integral = bool(np.all(np.abs(lt - np.round(lt)) < 1e-9))
    if integral and problem.is_tree():
        return solve_tree(problem)
    if integral:
        return solve_exact(problem, time_limit=time_limit, **milp_options)
    return solve_milp(problem, time_limit=time_limit, **milp_options)

"""Exact GSM on any acyclic network with integer lead times: the tree-shaped parts folded into
their 2-core neighbours by the tree DP, the 2-core a MILP choosing one integer ``(S_j, SI_j)``
pair per stage (exact costs, no approximation) linked along arcs by first-order dominance of
cumulative marginals; its LP relaxation is tight on the Willems (2008) chains (all covered chains
are proven optimal at HiGHS's root node)."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from .problem import GsmError, GsmProblem, GsmSolution, _finish, _repair
from .tree import _integer_grids, _Peel, _peel, _unpeel, solve_tree

__all__ = ["solve_exact"]


def _undominated(cm: np.ndarray) -> np.ndarray:
    """Pairs ``(S, SI)`` of one stage that no other pair dominates: ``(S', SI')`` with ``S' <= S``
    (easier for its customers), ``SI' >= SI`` (easier for its suppliers) and a cost no higher can
    replace it in any solution. ``cm[s, si]`` is the stage's cost (inf when infeasible)."""
    m = np.minimum.accumulate(np.minimum.accumulate(cm, axis=0)[:, ::-1], axis=1)[:, ::-1]
    inf = np.full((1, cm.shape[1]), np.inf)
    by_s = np.vstack([inf, m[:-1]])  # min over s' <= s - 1, si' >= si
    by_si = np.hstack([m[:, 1:], np.full((cm.shape[0], 1), np.inf)])  # s' <= s, si' >= si + 1
    keep: np.ndarray = cm < np.minimum(by_s, by_si)
    return keep


def _core_pair_model(
    problem: GsmProblem, pe: _Peel, lt_i: np.ndarray, si_max: np.ndarray, s_cap: np.ndarray
) -> tuple[Any, dict[int, tuple[int, np.ndarray, np.ndarray]], dict[int, int], dict[int, int], float]:
    """Exact MILP of the 2-core choosing one ``(S_j, SI_j)`` pair per stage.

    ``p_jk`` = 1 when stage j takes pair k; its cost ``coef_j sqrt(SI + T_j - S) + A_j(SI) +
    B_j(S)`` is exact (``A``, ``B``: the folded subtrees). An arc ``i -> j`` needs ``S_i <= SI_j``,
    written on cumulative marginals ``P(S_i >= v) <= P(SI_j >= v)`` for every v: the first-order
    dominance that makes the relaxation the local marginal polytope, exact on trees and tight on
    near-trees, unlike the chord of a one-variable piecewise model."""
    import highspy

    inf = highspy.kHighsInf
    lo: list[float] = []
    hi: list[float] = []
    cost: list[float] = []
    integ: list[bool] = []
    rows: list[tuple[list[int], list[float], float, float]] = []
    pairs: dict[int, tuple[int, np.ndarray, np.ndarray]] = {}  # j -> (first column, s, si)
    gs: dict[int, int] = {}  # first column of GS_{j,1..s_cap}
    gi: dict[int, int] = {}  # first column of GI_{j,1..si_max}
    offset = pe.total
    for j in pe.core:
        S, SI = np.meshgrid(np.arange(s_cap[j] + 1), np.arange(si_max[j] + 1), indexing="ij")  # noqa: N806
        tau = SI + lt_i[j] - S
        cm = problem.coef[j] * np.sqrt(np.maximum(tau, 0)) + pe.a_fun[j][None, :] + pe.b_fun[j][:, None]
        cm = np.where(tau >= 0, cm, np.inf)
        ok = np.isfinite(cm) & _undominated(cm)
        s_k, si_k, c = S[ok], SI[ok], cm[ok]
        base = float(c.min())
        offset += base
        first = len(lo)
        lo += [0.0] * c.size
        hi += [1.0] * c.size
        cost += list(c - base)
        integ += [True] * c.size
        pairs[j] = (first, s_k, si_k)
        rows.append((list(range(first, first + c.size)), [1.0] * c.size, 1.0, 1.0))
        for name, vals, top in (("s", s_k, int(s_cap[j])), ("si", si_k, int(si_max[j]))):
            g0 = len(lo)
            lo += [0.0] * top
            hi += [1.0] * top
            cost += [0.0] * top
            integ += [False] * top
            (gs if name == "s" else gi)[j] = g0
            for v in range(1, top + 1):  # G_v - G_{v+1} - sum_{k: val_k = v} p_k = 0
                ks = [int(k) for k in first + np.flatnonzero(vals == v)]
                idx = [g0 + v - 1] + ([g0 + v] if v < top else []) + ks
                val = [1.0] + ([-1.0] if v < top else []) + [-1.0] * len(ks)
                rows.append((idx, val, 0.0, 0.0))
    in_core = set(pe.core)
    for i, j in problem.edges:
        i, j = int(i), int(j)
        if i in in_core and j in in_core:
            for v in range(1, int(s_cap[i]) + 1):
                if v > si_max[j]:
                    rows.append(([gs[i] + v - 1], [1.0], -inf, 0.0))
                else:
                    rows.append(([gs[i] + v - 1, gi[j] + v - 1], [1.0, -1.0], -inf, 0.0))
    lp = highspy.HighsLp()
    lp.num_col_ = len(lo)
    lp.num_row_ = len(rows)
    lp.col_cost_ = np.asarray(cost, float)
    lp.col_lower_ = np.asarray(lo, float)
    lp.col_upper_ = np.asarray(hi, float)
    lp.row_lower_ = np.asarray([r[2] for r in rows], float)
    lp.row_upper_ = np.asarray([r[3] for r in rows], float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    starts = np.zeros(len(rows) + 1, dtype=np.int32)
    starts[1:] = np.cumsum([len(r[0]) for r in rows])
    lp.a_matrix_.start_ = starts
    lp.a_matrix_.index_ = np.concatenate([np.asarray(r[0], np.int32) for r in rows])
    lp.a_matrix_.value_ = np.concatenate([np.asarray(r[1], float) for r in rows])
    lp.integrality_ = [
        highspy.HighsVarType.kInteger if t else highspy.HighsVarType.kContinuous for t in integ
    ]
    return lp, pairs, gs, gi, offset


def _spanning_tree_start(problem: GsmProblem) -> np.ndarray:
    """A feasible start: the tree DP on a spanning tree, then ``SI_j = max_i S_i`` on all arcs."""
    tree = GsmProblem(
        problem.ids, problem.lead_time, problem.coef, problem.max_service, problem.spanning_edges()
    )
    return solve_tree(tree).service


def solve_exact(
    problem: GsmProblem,
    time_limit: float = 120.0,
    rel_gap: float = 1e-6,
    threads: int | None = None,
    start: np.ndarray | None = None,
    verbose: bool = False,
    lp_first: bool = True,
) -> GsmSolution:
    """Exact GSM on any acyclic network with integer lead times (integer service times).

    With integer lead times and service-time caps the constraints ``SI_j >= S_i``,
    ``S_j <= SI_j + T_j`` form a network matrix, so the concave cost is minimised at an integer
    point and optimising over integer ``(S_j, SI_j)`` is exact.

    1. The parts of the network that hang off its 2-core as trees are folded into their core
       neighbour by the Graves & Willems (2000) recursion: a cost ``A_j(SI_j)`` for the
       suppliers' subtrees, ``B_j(S_j)`` for the customers' (Humair & Willems 2011 likewise solve
       tree-shaped parts by the recursion).
    2. The 2-core is a MILP choosing one pair ``(S_j, SI_j)`` per stage (Pareto-dominated pairs
       dropped) at its exact cost ``coef_j sqrt(SI_j + T_j - S_j) + A_j(SI_j) + B_j(S_j)``; an
       arc ``i -> j`` is ``P(S_i >= v) <= P(SI_j >= v)`` for every v on the cumulative marginals
       (see :func:`_core_pair_model`). No approximation is left, so a bound is a proof.
    3. HiGHS solves the LP relaxation first (``lp_first``); when it is integral the solution is
       optimal with the LP bound as its proof, else branch and bound runs for the time left. The
       tree DP on a spanning tree (repaired) is the fallback incumbent.

    ``status`` in ``info`` is "optimal" only when the true cost of the returned service times
    meets the bound (relative ``10 * rel_gap``).
    """
    import highspy

    t0 = time.perf_counter()
    lt_i, si_max, s_cap = _integer_grids(problem)
    pe = _peel(problem, lt_i, si_max, s_cap)
    S = np.zeros(problem.n)  # noqa: N806
    SI = np.zeros(problem.n)  # noqa: N806
    if not pe.core:
        _unpeel(pe, S, SI)
        return _finish(problem, S, "graves_willems_tree_dp", pe.total, t0, status="optimal", core=0)
    # the constant part of the cost is added outside HiGHS (bound = HiGHS bound + offset)
    lp, pairs, gs, gi, offset = _core_pair_model(problem, pe, lt_i, si_max, s_cap)
    s0 = np.round(_spanning_tree_start(problem) if start is None else np.asarray(start, float))
    best = _finish(problem, s0, "exact_core_milp_highs", 0.0, t0)
    lb = -math.inf
    status = "time limit"
    integrality = list(lp.integrality_)
    lp.integrality_ = []
    nodes = 0
    # 1. the LP relaxation (simplex): integral on every Willems chain, which proves optimality
    # 2. if not integral, branch and bound (HiGHS MIP) for the remaining time. No MIP start is
    #    passed: with one, HiGHS 1.16's presolve mapped a feasible start to an objective below
    #    its true cost and declared it optimal (willems_04).
    for phase in ("lp", "mip") if lp_first else ("mip",):
        remaining = time_limit - (time.perf_counter() - t0)
        if remaining <= 0:
            break
        h = highspy.Highs()
        h.setOptionValue("output_flag", bool(verbose))
        h.setOptionValue("mip_rel_gap", rel_gap)
        h.setOptionValue("time_limit", float(remaining))
        if threads:
            h.setOptionValue("threads", int(threads))
        if phase == "mip":
            lp.integrality_ = integrality
        h.passModel(lp)
        h.run()
        ms = h.getModelStatus()
        info = h.getInfo()
        if ms not in (highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kTimeLimit):
            raise GsmError(f"GSM {phase.upper()} failed: {h.modelStatusToString(ms)}")
        if phase == "lp" and ms == highspy.HighsModelStatus.kOptimal:
            lb = max(lb, float(info.objective_function_value) + offset)
        if phase == "mip":
            nodes = int(info.mip_node_count)
            if math.isfinite(info.mip_dual_bound):
                lb = max(lb, float(info.mip_dual_bound) + offset)
        if info.primal_solution_status != 0:
            x = np.asarray(h.getSolution().col_value)
            for j in pe.core:
                first, s_k, si_k = pairs[j]
                k = int(np.argmax(x[first : first + s_k.size]))
                S[j], SI[j] = s_k[k], si_k[k]
            _unpeel(pe, S, SI)
            cand = _finish(problem, _repair(problem, S, problem.upstream()), best.method, 0.0, t0)
            if cand.cost < best.cost:
                best = cand
        if best.cost - lb <= 10 * rel_gap * max(best.cost, 1e-12) + 1e-9:
            status = "optimal"
            break
    res = _finish(
        problem,
        best.service,
        best.method,
        lb if math.isfinite(lb) else 0.0,
        t0,
        status=status,
        core=len(pe.core),
        columns=int(lp.num_col_),
        nodes=nodes,
    )
    return res

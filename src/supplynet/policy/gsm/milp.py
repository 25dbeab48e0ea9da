"""GSM on any acyclic network (general DAG, fractional lead times too) as an iterative
piecewise-linear MILP with HiGHS.

The concave cost ``sqrt(tau)`` is replaced by its piecewise-linear interpolation on breakpoints;
breakpoints are added at the NRTs of each solution until every NRT sits on a breakpoint (the
iterative piecewise-linear scheme of Magnanti, Shen, Shu, Simchi-Levi & Teo 2006, "Inventory
placement in acyclic supply chain networks", Oper. Res. Letters 34:228-238). The interpolation
under-estimates a concave cost, so each MILP gives a lower bound and the true cost of its solution
an upper bound; at the fixed point they meet and the solution is optimal (up to the MILP gap). A
per-call time limit returns the best solution with its lower bound and status.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .problem import GsmError, GsmProblem, GsmSolution, _finish, _repair

__all__ = ["solve_milp"]


def _initial_breakpoints(upper: float, lead: float, n_geo: int) -> list[float]:
    pts = {0.0, float(upper)}
    if 0 < lead < upper:
        pts.add(float(lead))
    if upper > 0:
        for k in range(1, n_geo + 1):
            pts.add(float(upper) * (k / (n_geo + 1)) ** 2)
    return sorted(pts)


def solve_milp(
    problem: GsmProblem,
    rel_gap: float = 1e-6,
    max_iter: int = 60,
    time_limit: float = 120.0,
    n_initial: int = 0,
    threads: int | None = None,
) -> GsmSolution:
    """Exact GSM on any acyclic network: iterative piecewise-linear MILP with HiGHS.

    Variables ``S_j, SI_j`` (continuous) and, for stages with a positive cost, the incremental
    piecewise-linear model of ``coef_j sqrt(tau_j)`` on breakpoints ``0 = b_0 < ... < b_K = U_j``
    (``U_j`` = longest supply path to j): ``tau_j = sum_k d_jk``, ``0 <= d_jk <= l_jk``,
    ``d_jk >= l_jk y_jk``, ``d_j,k+1 <= l_j,k+1 y_jk`` with binaries ``y``. Constraints
    ``SI_j >= S_i`` for every arc ``i -> j``, ``tau_j = SI_j + T_j - S_j >= 0``,
    ``0 <= S_j <= max_service_j``. The chords lie below the concave cost, so the MILP optimum is a
    lower bound; the true cost of its ``S`` is an upper bound. Breakpoints are added at the NRTs of
    the solution (Magnanti et al. 2006) until the bounds meet within ``rel_gap`` (then the answer
    is optimal: the piecewise model is exact at the solution and below the cost everywhere).
    """
    import highspy

    t0 = time.perf_counter()
    n = problem.n
    lt = problem.lead_time.astype(float)
    si_max = problem.max_inbound()
    upper_tau = si_max + lt
    s_hi = np.minimum(upper_tau, problem.max_service)
    up = problem.upstream()
    if np.any(problem.max_service < 0):
        raise GsmError("max_service_time must be >= 0")
    costly = [j for j in range(n) if problem.coef[j] > 0 and upper_tau[j] > 0]
    bps: dict[int, list[float]] = {j: _initial_breakpoints(upper_tau[j], lt[j], n_initial) for j in costly}

    best_S: np.ndarray | None = None  # noqa: N806
    best_cost = math.inf
    lower = 0.0
    it = 0
    status = "iteration limit"
    for it in range(1, max_iter + 1):  # noqa: B007
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("mip_rel_gap", rel_gap / 4)
        h.setOptionValue("mip_feasibility_tolerance", 1e-9)
        h.setOptionValue("primal_feasibility_tolerance", 1e-9)
        if threads:
            h.setOptionValue("threads", int(threads))
        remaining = time_limit - (time.perf_counter() - t0)
        if remaining <= 0:
            status = "time limit"
            break
        h.setOptionValue("time_limit", float(remaining))
        inf = highspy.kHighsInf
        # columns: S (0..n-1), SI (n..2n-1), then per costly stage: d_1..d_K, y_1..y_{K-1}
        lo = [0.0] * (2 * n)
        hi = [float(s_hi[j]) for j in range(n)] + [float(si_max[j]) for j in range(n)]
        cost = [0.0] * (2 * n)
        integ = [0] * (2 * n)
        rows_lo: list[float] = []
        rows_hi: list[float] = []
        a_idx: list[list[int]] = []
        a_val: list[list[float]] = []
        row = _row_adder(a_idx, a_val, rows_lo, rows_hi)

        for j in range(n):
            for i in up[j]:
                row([n + j, i], [1.0, -1.0], 0.0, inf)  # SI_j - S_i >= 0
        seg_cols: dict[int, tuple[int, list[float]]] = {}
        for j in range(n):
            if j in bps:
                b = bps[j]
                lens = np.diff(b)
                vals = problem.coef[j] * np.sqrt(np.asarray(b))
                slopes = np.diff(vals) / lens
                first = len(lo)
                k_seg = len(lens)
                for k in range(k_seg):
                    lo.append(0.0)
                    hi.append(float(lens[k]))
                    cost.append(float(slopes[k]))
                    integ.append(0)
                for _ in range(k_seg - 1):
                    lo.append(0.0)
                    hi.append(1.0)
                    cost.append(0.0)
                    integ.append(1)
                seg_cols[j] = (first, list(b))
                # sum d - SI + S >= T   (tau_j = SI + T - S <= sum d)
                row(
                    [first + k for k in range(k_seg)] + [n + j, j],
                    [1.0] * k_seg + [-1.0, 1.0],
                    float(lt[j]),
                    inf,
                )
                for k in range(k_seg - 1):
                    y = first + k_seg + k
                    row([first + k, y], [1.0, -float(lens[k])], 0.0, inf)  # d_k >= l_k y_k
                    row([first + k + 1, y], [1.0, -float(lens[k + 1])], -inf, 0.0)  # d_k+1 <= l_k+1 y_k
            row([n + j, j], [1.0, -1.0], -float(lt[j]), inf)  # SI + T - S >= 0
        ncol = len(lo)
        lp = highspy.HighsLp()
        lp.num_col_ = ncol
        lp.num_row_ = len(rows_lo)
        lp.col_cost_ = np.asarray(cost)
        lp.col_lower_ = np.asarray(lo)
        lp.col_upper_ = np.asarray(hi)
        lp.row_lower_ = np.asarray(rows_lo)
        lp.row_upper_ = np.asarray(rows_hi)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        starts = np.zeros(len(a_idx) + 1, dtype=np.int32)
        starts[1:] = np.cumsum([len(r) for r in a_idx])
        lp.a_matrix_.start_ = starts
        lp.a_matrix_.index_ = np.concatenate([np.asarray(r, np.int32) for r in a_idx])
        lp.a_matrix_.value_ = np.concatenate([np.asarray(v, float) for v in a_val])
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if t else highspy.HighsVarType.kContinuous for t in integ
        ]
        h.passModel(lp)
        if best_S is not None:
            h.setSolution(_warm_start(problem, best_S, seg_cols, ncol))
        h.run()
        ms = h.getModelStatus()
        if ms not in (highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kTimeLimit):
            raise GsmError(f"MILP failed: {h.modelStatusToString(ms)}")
        info = h.getInfo()
        sol = np.asarray(h.getSolution().col_value)
        dual = float(info.mip_dual_bound)
        if math.isfinite(dual):  # valid even when stopped early: the chords under-estimate the cost
            lower = max(lower, dual)
        S = np.clip(sol[:n], 0.0, s_hi)  # noqa: N806
        S = _repair(problem, S, up)  # noqa: N806
        c = problem.cost(S)
        if c < best_cost:
            best_cost, best_S = c, S  # noqa: N806
        if ms == highspy.HighsModelStatus.kTimeLimit:
            status = "time limit"
            break
        if best_cost - lower <= rel_gap * max(best_cost, 1e-12):
            status = "optimal"
            break
        tau = problem.net_replenishment(S)
        added = 0
        for j in bps:
            t = float(min(max(tau[j], 0.0), upper_tau[j]))
            b = bps[j]
            if min(abs(t - x) for x in b) > 1e-7 * max(1.0, upper_tau[j]):
                b.append(t)
                b.sort()
                added += 1
        if added == 0:  # every NRT on a breakpoint: the model is exact at S, so S is optimal
            status = "optimal"
            lower = max(lower, best_cost * (1 - rel_gap))
            break
    assert best_S is not None
    return _finish(
        problem,
        best_S,
        "piecewise_linear_milp_highs",
        lower,
        t0,
        it,
        status=status,
        breakpoints=int(sum(len(b) for b in bps.values())),
    )


def _row_adder(
    a_idx: list[list[int]], a_val: list[list[float]], rows_lo: list[float], rows_hi: list[float]
) -> Callable[[list[int], list[float], float, float], None]:
    def row(idx: list[int], val: list[float], rlo: float, rhi: float) -> None:
        a_idx.append(idx)
        a_val.append(val)
        rows_lo.append(rlo)
        rows_hi.append(rhi)

    return row


def _warm_start(
    problem: GsmProblem, S: np.ndarray, seg_cols: dict[int, tuple[int, list[float]]], ncol: int
) -> Any:  # noqa: N803
    import highspy

    x = np.zeros(ncol)
    n = problem.n
    x[:n] = S
    SI = np.zeros(n)  # noqa: N806
    for i, j in problem.edges:
        SI[j] = max(SI[j], S[i])
    x[n : 2 * n] = SI
    tau = SI + problem.lead_time - S
    for j, (first, b) in seg_cols.items():
        k_seg = len(b) - 1
        t = max(float(tau[j]), 0.0)
        for k in range(k_seg):
            d = min(max(t - b[k], 0.0), b[k + 1] - b[k])
            x[first + k] = d
        for k in range(k_seg - 1):
            x[first + k_seg + k] = 1.0 if t >= b[k + 1] - 1e-12 else 0.0
    sol = highspy.HighsSolution()
    sol.col_value = list(x)
    sol.value_valid = True
    return sol

"""The Graves & Willems (2000) dynamic program: exact GSM on a spanning tree (the network read as an
undirected graph has no cycle) with integer lead times, and the leaf peeling that folds the
tree-shaped parts of any network into their 2-core neighbours (used by :mod:`.exact`)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .problem import GsmError, GsmProblem, GsmSolution, _finish

__all__ = ["solve_tree"]


def _integer_grids(problem: GsmProblem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integer lead times, ``SI`` upper bounds (longest supply path) and ``S`` caps."""
    lt = problem.lead_time
    if np.any(np.abs(lt - np.round(lt)) > 1e-9):
        raise GsmError("the exact solvers need integer lead times; use solve_milp for fractional ones")
    lt_i = np.round(lt).astype(np.int64)
    si_max = np.round(problem.max_inbound()).astype(np.int64)
    cap = np.where(np.isfinite(problem.max_service), np.floor(problem.max_service + 1e-9), 1e18)
    s_cap = np.minimum(si_max + lt_i, cap).astype(np.int64)
    if np.any(s_cap < 0):
        raise GsmError("infeasible max service times")
    return lt_i, si_max, s_cap


@dataclass
class _Peel:
    """Leaf peeling of the undirected network (Graves & Willems 2000, section 4): the stages off
    the 2-core are folded into functions of their neighbour's service times.

    ``order`` lists the peeled stages, each before its ``parent`` (-1 for the last stage of a
    component that is a tree). ``a_fun[j]`` (over ``SI_j``) and ``b_fun[j]`` (over ``S_j``) are the
    costs the peeled subtrees add to core stage ``j``; ``core`` lists the remaining stages."""

    order: list[int]
    parent: np.ndarray
    core: list[int]
    a_fun: dict[int, np.ndarray]
    b_fun: dict[int, np.ndarray]
    arg: dict[int, np.ndarray]
    kind: dict[int, str]
    roots: dict[int, tuple[int, int]]
    total: float  # optimal cost of the components that are trees


def _peel(problem: GsmProblem, lt_i: np.ndarray, si_max: np.ndarray, s_cap: np.ndarray) -> _Peel:
    n = problem.n
    nbr: list[list[tuple[int, bool]]] = [[] for _ in range(n)]  # (neighbour, neighbour supplies me)
    for i, j in problem.edges:
        nbr[int(j)].append((int(i), True))
        nbr[int(i)].append((int(j), False))
    deg = np.array([len(a) for a in nbr])
    done = np.zeros(n, bool)
    order: list[int] = []
    parent = np.full(n, -1)
    stack = [j for j in range(n) if deg[j] <= 1]
    while stack:
        j = stack.pop()
        if done[j]:
            continue
        done[j] = True
        order.append(j)
        for v, _ in nbr[j]:
            if not done[v]:
                parent[j] = v  # the one neighbour left (deg <= 1)
                deg[v] -= 1
                if deg[v] <= 1:
                    stack.append(v)
    core = [j for j in range(n) if not done[j]]
    fmin: dict[int, np.ndarray] = {}  # prefix min of f_k (over x <= SI of the parent)
    gmin: dict[int, np.ndarray] = {}  # suffix min of g_k (over y >= S of the parent)
    arg: dict[int, np.ndarray] = {}
    kind: dict[int, str] = {}
    roots: dict[int, tuple[int, int]] = {}
    total = 0.0

    def extra(k: int, s_len: int, si_len: int) -> tuple[np.ndarray, np.ndarray]:
        a = np.zeros(si_len)
        b = np.zeros(s_len)
        si = np.arange(si_len)
        s = np.arange(s_len)
        for v, v_supplies_me in nbr[k]:
            if parent[v] != k or not done[v]:
                continue
            if v_supplies_me:  # child supplies k: S_v <= SI_k
                f = fmin[v]
                a += f[np.minimum(si, f.size - 1)]
            else:  # k supplies child: SI_v >= S_k
                g = gmin[v]
                b += np.where(s < g.size, g[np.minimum(s, g.size - 1)], np.inf)
        return a, b

    for k in order:
        a, b = extra(k, int(s_cap[k]) + 1, int(si_max[k]) + 1)
        S, SI = np.meshgrid(np.arange(s_cap[k] + 1), np.arange(si_max[k] + 1), indexing="ij")  # noqa: N806
        tau = SI + lt_i[k] - S
        c = np.where(tau >= 0, problem.coef[k] * np.sqrt(np.maximum(tau, 0)), np.inf)
        c = c + a[None, :] + b[:, None]
        p = int(parent[k])
        if p < 0:
            flat = int(np.argmin(c))
            s_b, si_b = np.unravel_index(flat, c.shape)
            roots[k] = (int(s_b), int(si_b))
            total += float(c[s_b, si_b])
            continue
        if any(v == p and sup for v, sup in nbr[k]):  # parent supplies k: g_k(SI), suffix min
            kind[k] = "g"
            best_s = np.argmin(c, axis=0)
            g = c[best_s, np.arange(c.shape[1])]
            suf_arg = np.empty(g.size, int)
            cur = g.size - 1
            for y in range(g.size - 1, -1, -1):
                if g[y] <= g[cur]:
                    cur = y
                suf_arg[y] = cur
            gmin[k] = g[suf_arg]
            arg[k] = np.stack([best_s[suf_arg], suf_arg], axis=1)
        else:  # k supplies parent: f_k(S), prefix min
            kind[k] = "f"
            best_si = np.argmin(c, axis=1)
            f = c[np.arange(c.shape[0]), best_si]
            pre_arg = np.empty(f.size, int)
            cur = 0
            for x in range(f.size):
                if f[x] < f[cur]:
                    cur = x
                pre_arg[x] = cur
            fmin[k] = f[pre_arg]
            arg[k] = np.stack([pre_arg, best_si[pre_arg]], axis=1)
    a_fun: dict[int, np.ndarray] = {}
    b_fun: dict[int, np.ndarray] = {}
    for j in core:
        a_fun[j], b_fun[j] = extra(j, int(s_cap[j]) + 1, int(si_max[j]) + 1)
    return _Peel(order, parent, core, a_fun, b_fun, arg, kind, roots, total)


def _unpeel(pe: _Peel, S: np.ndarray, SI: np.ndarray) -> None:  # noqa: N803
    """Backtrack the peeled stages from the core's (or the roots') service times, in place."""
    for k in reversed(pe.order):
        p = int(pe.parent[k])
        if p < 0:
            S[k], SI[k] = pe.roots[k]
            continue
        a = int(S[p]) if pe.kind[k] == "g" else int(SI[p])  # g: SI_k >= S_p; f: S_k <= SI_p
        a = min(a, pe.arg[k].shape[0] - 1)
        S[k], SI[k] = pe.arg[k][a]


def solve_tree(problem: GsmProblem) -> GsmSolution:
    """Graves & Willems (2000) dynamic program on a spanning tree, exact for integer lead times.

    Peel leaves so that each stage has at most one neighbour (its parent) peeled after it.
    For stage k: if k supplies its parent, compute ``f_k(S) = min_SI c_k(S, SI)``; if the parent
    supplies k, compute ``g_k(SI) = min_S c_k(S, SI)``, where
    ``c_k(S, SI) = coef_k sqrt(SI + T_k - S) + sum_{child i supplies k} min_{x <= SI} f_i(x)
    + sum_{k supplies child i} min_{y >= S} g_i(y)``. The last stage minimises ``c_k`` over both.
    """
    t0 = time.perf_counter()
    if not problem.is_tree():
        raise GsmError("solve_tree needs a spanning tree (no undirected cycle); use solve_milp")
    lt_i, si_max, s_cap = _integer_grids(problem)
    pe = _peel(problem, lt_i, si_max, s_cap)
    if not np.isfinite(pe.total):
        raise GsmError("no feasible service times (check max_service_time against lead times)")
    S_out = np.zeros(problem.n)  # noqa: N806
    SI_out = np.zeros(problem.n)  # noqa: N806
    _unpeel(pe, S_out, SI_out)
    sol = _finish(problem, S_out, "graves_willems_tree_dp", pe.total, t0)
    if abs(sol.cost - pe.total) > 1e-6 * max(1.0, pe.total):
        raise GsmError(f"internal: tree DP backtrack mismatch ({sol.cost} vs {pe.total})")
    return sol

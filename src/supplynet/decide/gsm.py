"""Guaranteed-service model (GSM) for multi-echelon safety-stock placement.

Model (Simpson 1958; Graves & Willems 2000, "Optimizing strategic safety stock placement in supply
chains", MSOM 2(1):68-83). Each stage j has a lead time ``T_j``, quotes an outbound service time
``S_j`` to its customers (at most ``max_service_time`` for demand stages) and is quoted the inbound
service time ``SI_j = max_{i -> j} S_i`` by its suppliers. Its net replenishment time
``tau_j = SI_j + T_j - S_j >= 0`` is covered by the safety stock ``k sigma_j sqrt(tau_j)``, held at
the holding cost ``h_j`` (holding rate x cumulative unit cost). Minimise
``sum_j h_j k sigma_j sqrt(tau_j)``.

Demand (Humair & Willems 2011, appendix "demand propagation"): every stage sees the demand of the
demand stages it feeds, ``phi_jd`` units per unit (summed over paths); its safety-stock scale is
``(sum_d (phi_jd z_d sigma_d)^p)^(1/p)`` (risk pooling ``p``, 2 = independent demands).

Solvers
- :func:`solve_tree`: the Graves & Willems (2000) dynamic program on a spanning tree (the network
  read as an undirected graph has no cycle), exact, integer service times.
- :func:`solve_milp`: any acyclic network (general DAG). The concave cost ``sqrt(tau)`` is replaced
  by its piecewise-linear interpolation on breakpoints and the problem solved as a MILP with HiGHS;
  breakpoints are added at the NRTs of each solution until every NRT sits on a breakpoint (the
  iterative piecewise-linear scheme of Magnanti, Shen, Shu, Simchi-Levi & Teo 2006, "Inventory
  placement in acyclic supply chain networks", Oper. Res. Letters 34:228-238). The interpolation
  under-estimates a concave cost, so each MILP gives a lower bound and the true cost of its
  solution an upper bound; at the fixed point they meet and the solution is optimal (up to the MILP
  gap). A per-call time limit returns the best solution with its lower bound and status.
- :func:`solve`: the tree DP when the network is a tree with integer lead times, else the MILP.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from supplynet.errors import DecisionError

__all__ = ["GsmError", "GsmProblem", "GsmSolution", "solve", "solve_milp", "solve_tree", "stage_table"]


class GsmError(DecisionError, ValueError):
    """A GSM input or request is invalid; the message names the stage and the value."""

    code = "gsm"


@dataclass(frozen=True)
class GsmProblem:
    """A GSM instance on arrays: stage ``j`` is ``ids[j]``; ``edges[e] = (i, j)``: i supplies j."""

    ids: tuple[str, ...]
    lead_time: np.ndarray
    coef: np.ndarray  # cost per sqrt(time) of net replenishment time: h_j * k sigma_j
    max_service: np.ndarray  # +inf when unconstrained
    edges: np.ndarray  # (m, 2) int
    holding_cost: np.ndarray | None = None  # h_j (for reporting)
    ss_scale: np.ndarray | None = None  # k sigma_j (for reporting)
    mean: np.ndarray | None = None  # mean demand per period through the stage

    def __post_init__(self) -> None:
        n = len(self.ids)
        for name in ("lead_time", "coef", "max_service"):
            a = getattr(self, name)
            if a.shape != (n,):
                raise GsmError(f"{name} must have shape ({n},), got {a.shape}")
        if np.any(self.lead_time < 0) or not np.all(np.isfinite(self.lead_time)):
            j = int(np.argmax(~(self.lead_time >= 0)))
            raise GsmError(f"stage {self.ids[j]!r}: lead_time must be >= 0, got {self.lead_time[j]}")
        if np.any(self.coef < 0) or not np.all(np.isfinite(self.coef)):
            raise GsmError("stage costs (holding cost x safety-stock scale) must be finite and >= 0")
        if np.any(self.max_service < 0):
            j = int(np.argmax(self.max_service < 0))
            raise GsmError(f"stage {self.ids[j]!r}: max_service_time must be >= 0, got {self.max_service[j]}")
        self.topological_order()  # raises on a cycle

    @property
    def n(self) -> int:
        return len(self.ids)

    def upstream(self) -> list[list[int]]:
        up: list[list[int]] = [[] for _ in range(self.n)]
        for i, j in self.edges:
            up[int(j)].append(int(i))
        return up

    def downstream(self) -> list[list[int]]:
        down: list[list[int]] = [[] for _ in range(self.n)]
        for i, j in self.edges:
            down[int(i)].append(int(j))
        return down

    def topological_order(self) -> list[int]:
        """Suppliers first; raises :class:`GsmError` naming a stage on a directed cycle."""
        indeg = np.zeros(self.n, int)
        for _, j in self.edges:
            indeg[int(j)] += 1
        down = self.downstream()
        order = [j for j in range(self.n) if indeg[j] == 0]
        k = 0
        while k < len(order):
            for v in down[order[k]]:
                indeg[v] -= 1
                if indeg[v] == 0:
                    order.append(v)
            k += 1
        if len(order) < self.n:
            j = int(np.argmax(indeg > 0))
            raise GsmError(f"the network has a directed cycle through stage {self.ids[j]!r}")
        return order

    def is_tree(self) -> bool:
        """True when the network, read as an undirected graph, is a forest (Graves & Willems 2000)."""
        parent = list(range(self.n))

        def find(a: int) -> int:
            while parent[a] != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            return a

        for i, j in self.edges:
            ri, rj = find(int(i)), find(int(j))
            if ri == rj:
                return False
            parent[ri] = rj
        return True

    def max_inbound(self) -> np.ndarray:
        """Longest supply path into each stage: an upper bound on ``SI_j`` (``M_j - T_j``)."""
        up = self.upstream()
        m = np.zeros(self.n)
        si = np.zeros(self.n)
        for j in self.topological_order():
            si[j] = max((m[i] for i in up[j]), default=0.0)
            m[j] = si[j] + self.lead_time[j]
        return si

    def cost(self, S: np.ndarray, SI: np.ndarray | None = None) -> float:  # noqa: N803
        """Total safety-stock cost of outbound service times ``S`` (SI from the suppliers' S)."""
        tau = self.net_replenishment(S, SI)
        return float(np.sum(self.coef * np.sqrt(np.maximum(tau, 0.0))))

    def net_replenishment(self, S: np.ndarray, SI: np.ndarray | None = None) -> np.ndarray:  # noqa: N803
        S = np.asarray(S, float)  # noqa: N806
        if SI is None:
            SI = np.zeros(self.n)  # noqa: N806
            for i, j in self.edges:
                SI[j] = max(SI[j], S[i])
        return np.asarray(SI, float) + self.lead_time - S

    def check(self, S: np.ndarray, tol: float = 1e-6) -> list[str]:  # noqa: N803
        """Feasibility problems of a solution (empty when feasible)."""
        tau = self.net_replenishment(S)
        bad = [f"{self.ids[j]}: net replenishment time {tau[j]:.6g} < 0" for j in np.flatnonzero(tau < -tol)]
        bad += [
            f"{self.ids[j]}: service time {S[j]:.6g} > max {self.max_service[j]:.6g}"
            for j in np.flatnonzero(np.asarray(S) > self.max_service + tol)
        ]
        bad += [
            f"{self.ids[j]}: negative service time {S[j]:.6g}" for j in np.flatnonzero(np.asarray(S) < -tol)
        ]
        return bad

    @classmethod
    def from_stages(
        cls,
        stages: Iterable,
        holding_rate: float = 1.0,
        default_risk_pool: float = 2.0,
        cumulative_cost: bool = True,
    ) -> GsmProblem:
        """Build from stage records with ``id, lead_time, added_cost, max_service_time, demand_mean,
        demand_std, service_factor, risk_pool, upstream=((supplier id, quantity), ...)`` (see
        :class:`supplynet.decide.willems_data.StageRow`).

        Cumulative cost ``c_j = a_j + sum_{i -> j} phi_ij c_i``; holding cost ``h_j = rate * c_j``
        (Graves & Willems 2000). With ``cumulative_cost=False`` the cost column is taken as the
        stage's own unit value (the convention of some published test instances).
        Demand-stage bound ``z_d sigma_d sqrt(tau)``; internal stages pool the demand stages they
        feed (Humair & Willems 2011).
        """
        rows = list(stages)
        if holding_rate <= 0:
            raise GsmError(f"holding_rate must be > 0, got {holding_rate}")
        ids = tuple(r.id for r in rows)
        index = {s: k for k, s in enumerate(ids)}
        if len(index) != len(ids):
            raise GsmError("stage ids must be unique")
        edges, qty = [], []
        for r in rows:
            for u, q in r.upstream:
                if u not in index:
                    raise GsmError(f"stage {r.id!r}: unknown upstream stage {u!r}")
                edges.append((index[u], index[r.id]))
                qty.append(float(q))
        n = len(rows)
        lead = np.array([float(r.lead_time) for r in rows])
        max_s = np.array([np.inf if r.max_service_time is None else float(r.max_service_time) for r in rows])
        e = np.array(edges, int).reshape(-1, 2)
        skeleton = cls(ids, lead, np.zeros(n), max_s, e)
        order = skeleton.topological_order()
        up = [[] for _ in range(n)]
        down = [[] for _ in range(n)]
        for (i, j), q in zip(edges, qty, strict=True):
            up[j].append((i, q))
            down[i].append((j, q))
        cum = np.zeros(n)
        for j in order:
            cum[j] = float(rows[j].added_cost) + (
                sum(q * cum[i] for i, q in up[j]) if cumulative_cost else 0.0
            )
        # phi[j][d]: units of stage j per unit of demand at demand stage d
        phi: list[dict[int, float]] = [dict() for _ in range(n)]
        demand_z, demand_sd, demand_mu = {}, {}, {}
        for j, r in enumerate(rows):
            if r.demand_mean is not None:
                if r.demand_std is None or r.demand_std < 0 or r.demand_mean < 0:
                    raise GsmError(f"stage {r.id!r}: demand mean/std must be >= 0")
                demand_mu[j], demand_sd[j] = float(r.demand_mean), float(r.demand_std)
                demand_z[j] = 1.645 if r.service_factor is None else float(r.service_factor)
        for j in reversed(order):
            acc: dict[int, float] = {j: 1.0} if j in demand_mu else {}
            for v, q in down[j]:
                for d, f in phi[v].items():
                    acc[d] = acc.get(d, 0.0) + q * f
            phi[j] = acc
        scale = np.zeros(n)
        mean = np.zeros(n)
        for j, r in enumerate(rows):
            p = float(r.risk_pool) if (r.risk_pool and j not in demand_mu) else default_risk_pool
            terms = [(f * demand_z[d] * demand_sd[d]) for d, f in phi[j].items()]
            scale[j] = sum(t**p for t in terms) ** (1.0 / p) if terms else 0.0
            mean[j] = sum(f * demand_mu[d] for d, f in phi[j].items())
        h = holding_rate * cum
        return cls(ids, lead, h * scale, max_s, e, holding_cost=h, ss_scale=scale, mean=mean)


@dataclass(frozen=True)
class GsmSolution:
    service: np.ndarray  # outbound service time S_j
    inbound: np.ndarray  # inbound service time SI_j
    nrt: np.ndarray  # net replenishment time
    cost: float
    method: str
    lower_bound: float
    seconds: float
    iterations: int = 1
    info: dict = field(default_factory=dict)

    def safety_stock(self, problem: GsmProblem) -> np.ndarray:
        """Safety stock ``k sigma_j sqrt(tau_j)`` per stage (needs ``problem.ss_scale``)."""
        if problem.ss_scale is None:
            raise GsmError("the problem has no safety-stock scale (build it with GsmProblem.from_stages)")
        return problem.ss_scale * np.sqrt(np.maximum(self.nrt, 0.0))

    def as_dict(self, problem: GsmProblem) -> dict[str, dict[str, float]]:
        return {
            problem.ids[j]: {
                "s": float(self.service[j]),
                "si": float(self.inbound[j]),
                "nrt": float(self.nrt[j]),
            }
            for j in range(problem.n)
        }


def _finish(
    problem: GsmProblem, S: np.ndarray, method: str, lb: float, t0: float, it: int = 1, **info
) -> GsmSolution:  # noqa: N803
    S = np.asarray(S, float)  # noqa: N806
    SI = np.zeros(problem.n)  # noqa: N806
    for i, j in problem.edges:
        SI[j] = max(SI[j], S[i])
    tau = SI + problem.lead_time - S
    cost = float(np.sum(problem.coef * np.sqrt(np.maximum(tau, 0.0))))
    return GsmSolution(S, SI, tau, cost, method, min(lb, cost), time.perf_counter() - t0, it, dict(info))


# ------------------------------------------------------------------------------ tree DP (GW 2000)


def solve_tree(problem: GsmProblem) -> GsmSolution:
    """Graves & Willems (2000) dynamic program on a spanning tree, exact for integer lead times.

    Label the stages so that each has at most one neighbour with a larger label (peel leaves).
    For stage k with parent p (its larger neighbour): if k supplies p, compute
    ``f_k(S) = min_SI c_k(S, SI)``; if p supplies k, compute ``g_k(SI) = min_S c_k(S, SI)``, where
    ``c_k(S, SI) = coef_k sqrt(SI + T_k - S) + sum_{child i supplies k} min_{x <= SI} f_i(x)
    + sum_{k supplies child i} min_{y >= S} g_i(y)``. The last stage minimises ``c_k`` over both.
    """
    t0 = time.perf_counter()
    if not problem.is_tree():
        raise GsmError("solve_tree needs a spanning tree (no undirected cycle); use solve_milp")
    lt = problem.lead_time
    if np.any(np.abs(lt - np.round(lt)) > 1e-9):
        raise GsmError("solve_tree needs integer lead times; use solve_milp for fractional ones")
    lt_i = np.round(lt).astype(int)
    n = problem.n
    si_max = np.round(problem.max_inbound()).astype(int)
    s_cap = np.minimum(
        si_max + lt_i, np.where(np.isfinite(problem.max_service), problem.max_service, 1e18)
    ).astype(np.int64)
    if np.any(s_cap < 0):
        raise GsmError("infeasible max service times")
    nbr: list[list[tuple[int, bool]]] = [[] for _ in range(n)]  # (neighbour, neighbour supplies me)
    for i, j in problem.edges:
        nbr[int(j)].append((int(i), True))
        nbr[int(i)].append((int(j), False))
    # peel leaves: order[k] processed before its parent
    deg = np.array([len(a) for a in nbr])
    done = np.zeros(n, bool)
    order: list[int] = []
    stack = [j for j in range(n) if deg[j] <= 1]
    while stack:
        j = stack.pop()
        if done[j]:
            continue
        done[j] = True
        order.append(j)
        for v, _ in nbr[j]:
            if not done[v]:
                deg[v] -= 1
                if deg[v] <= 1:
                    stack.append(v)
    parent = np.full(n, -1)
    pos = {j: k for k, j in enumerate(order)}
    for j in order:
        later = [(v, sup) for v, sup in nbr[j] if pos[v] > pos[j]]
        if later:
            parent[j] = later[0][0]
    # functions over integer grids: f_k on S in [0, s_cap], g_k on SI in [0, si_max]
    fmin: dict[int, np.ndarray] = {}  # cumulative min of f_i over x <= SI, as array over SI grid of parent
    gmin: dict[int, np.ndarray] = {}
    arg: dict[int, np.ndarray] = {}  # best (S, SI) given the argument
    kind: dict[int, str] = {}
    total = 0.0
    best_root: dict[int, tuple[int, int]] = {}
    for k in order:
        s_grid = np.arange(s_cap[k] + 1)
        si_grid = np.arange(si_max[k] + 1)
        S, SI = np.meshgrid(s_grid, si_grid, indexing="ij")  # noqa: N806
        tau = SI + lt_i[k] - S
        c = np.where(tau >= 0, problem.coef[k] * np.sqrt(np.maximum(tau, 0)), np.inf)
        for v, v_supplies_me in nbr[k]:
            if parent[v] != k:
                continue
            if v_supplies_me:  # child supplies k: S_v <= SI_k
                f = fmin[v]
                c = c + f[np.minimum(SI, f.size - 1)][...]
            else:  # k supplies child: SI_v >= S_k
                g = gmin[v]
                c = c + np.where(S < g.size, g[np.minimum(S, g.size - 1)], np.inf)
        p = parent[k]
        if p < 0:
            flat = int(np.argmin(c))
            s_b, si_b = np.unravel_index(flat, c.shape)
            best_root[k] = (int(s_b), int(si_b))
            total += float(c[s_b, si_b])
            continue
        p_supplies_me = any(v == p and sup for v, sup in nbr[k])
        if p_supplies_me:  # g_k(SI) = min_S c(S, SI); then min over y >= SI (suffix min)
            kind[k] = "g"
            best_s = np.argmin(c, axis=0)
            g = c[best_s, np.arange(c.shape[1])]
            suf = np.minimum.accumulate(g[::-1])[::-1]
            suf_arg = np.empty(g.size, int)
            cur = g.size - 1
            for y in range(g.size - 1, -1, -1):
                if g[y] <= g[cur]:
                    cur = y
                suf_arg[y] = cur
            gmin[k] = suf
            arg[k] = np.stack([best_s[suf_arg], suf_arg], axis=1)
        else:  # f_k(S) = min_SI c(S, SI); then min over x <= S (prefix min)
            kind[k] = "f"
            best_si = np.argmin(c, axis=1)
            f = c[np.arange(c.shape[0]), best_si]
            pre = np.minimum.accumulate(f)
            pre_arg = np.empty(f.size, int)
            cur = 0
            for x in range(f.size):
                if f[x] < f[cur]:
                    cur = x
                pre_arg[x] = cur
            fmin[k] = pre
            arg[k] = np.stack([pre_arg, best_si[pre_arg]], axis=1)
    if not np.isfinite(total):
        raise GsmError("no feasible service times (check max_service_time against lead times)")
    # backtrack from the roots
    S_out = np.zeros(n)  # noqa: N806
    SI_out = np.zeros(n)  # noqa: N806
    for k in reversed(order):
        if parent[k] < 0:
            S_out[k], SI_out[k] = best_root[k]
            continue
        p = parent[k]
        if kind[k] == "g":  # argument: S of parent (k's SI >= S_p)
            a = int(min(S_out[p], arg[k].shape[0] - 1))
        else:  # argument: SI of parent (k's S <= SI_p)
            a = int(min(SI_out[p], arg[k].shape[0] - 1))
        S_out[k], SI_out[k] = arg[k][a]
    sol = _finish(problem, S_out, "graves_willems_tree_dp", total, t0)
    if abs(sol.cost - total) > 1e-6 * max(1.0, total):
        raise GsmError(f"internal: tree DP backtrack mismatch ({sol.cost} vs {total})")
    return sol


# ------------------------------------------------------------------- general networks (MILP)


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


def _row_adder(a_idx: list, a_val: list, rows_lo: list, rows_hi: list):
    def row(idx: list[int], val: list[float], rlo: float, rhi: float) -> None:
        a_idx.append(idx)
        a_val.append(val)
        rows_lo.append(rlo)
        rows_hi.append(rhi)

    return row


def _repair(problem: GsmProblem, S: np.ndarray, up: list[list[int]]) -> np.ndarray:  # noqa: N803
    """Snap tiny MILP tolerance violations: make ``S_j <= max_i S_i + T_j`` hold exactly."""
    S = S.copy()  # noqa: N806
    for j in problem.topological_order():
        si = max((S[i] for i in up[j]), default=0.0)
        S[j] = min(max(S[j], 0.0), si + problem.lead_time[j], problem.max_service[j])
    return S


def _warm_start(problem: GsmProblem, S: np.ndarray, seg_cols: dict, ncol: int):  # noqa: N803
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


def solve(problem: GsmProblem, **milp_options) -> GsmSolution:
    """The Graves-Willems tree DP when the network is a tree with integer lead times, else the MILP."""
    lt = problem.lead_time
    if problem.is_tree() and np.all(np.abs(lt - np.round(lt)) < 1e-9):
        return solve_tree(problem)
    return solve_milp(problem, **milp_options)


def stage_table(problem: GsmProblem, sol: GsmSolution) -> list[dict[str, float | str]]:
    """Rows ``stage, S, SI, nrt, safety_stock, cost`` for reports."""
    ss = sol.safety_stock(problem) if problem.ss_scale is not None else np.full(problem.n, np.nan)
    return [
        {
            "stage": problem.ids[j],
            "S": float(sol.service[j]),
            "SI": float(sol.inbound[j]),
            "nrt": float(sol.nrt[j]),
            "safety_stock": float(ss[j]),
            "cost": float(problem.coef[j] * math.sqrt(max(sol.nrt[j], 0.0))),
        }
        for j in range(problem.n)
    ]

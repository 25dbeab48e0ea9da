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
- :func:`solve_exact`: any acyclic network with integer lead times, exact. The tree-shaped parts are
  folded into their 2-core neighbours by the tree DP; the 2-core is a MILP choosing one integer
  ``(S_j, SI_j)`` pair per stage (exact costs, no approximation) linked along arcs by first-order
  dominance of cumulative marginals; its LP relaxation is tight on the Willems (2008) chains
  (all covered chains are proven optimal at HiGHS's root node).
- :func:`solve`: the tree DP for a tree, :func:`solve_exact` for integer lead times, else the
  piecewise-linear MILP.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from supplynet.errors import DecisionError

__all__ = [
    "GsmError",
    "GsmProblem",
    "GsmSolution",
    "service_level_of_rounded_z",
    "solve",
    "solve_milp",
    "solve_tree",
    "stage_table",
]


def service_level_of_rounded_z(
    z: float, decimals: int = 3, max_level_decimals: int = 4
) -> tuple[float | None, float]:
    """The service level a rounded safety factor was computed from, and its exact quantile.

    Data sets often store ``z = round(Phi^-1(alpha), decimals)`` instead of the service level
    ``alpha`` (the Willems (2008) CSV conversion writes ``norm.ppf(serviceLevel)`` with 3 decimals).
    Returns ``(alpha, Phi^-1(alpha))`` for the ``alpha`` with the fewest decimals (2 up to
    ``max_level_decimals``) whose quantile rounds to ``z``; ``(None, z)`` when there is none (``z``
    is then taken as given).
    """
    from statistics import NormalDist

    nd = NormalDist()
    z = float(z)
    for d in range(2, max_level_decimals + 1):
        alpha = round(nd.cdf(z), d)
        if 0.0 < alpha < 1.0:
            exact = nd.inv_cdf(alpha)
            if abs(round(exact, decimals) - z) < 0.5 * 10.0**-decimals * 1e-6 + 1e-12:
                return alpha, exact
    return None, z


class GsmError(DecisionError):
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
        z_decimals: int | None = None,
    ) -> GsmProblem:
        """Build from stage records with ``id, lead_time, added_cost, max_service_time, demand_mean,
        demand_std, service_factor, risk_pool, upstream=((supplier id, quantity), ...)`` (see
        :class:`supplynet.decide.willems_data.StageRow`).

        Cumulative cost ``c_j = a_j + sum_{i -> j} phi_ij c_i``; holding cost ``h_j = rate * c_j``
        (Graves & Willems 2000). With ``cumulative_cost=False`` the cost column is taken as the
        stage's own unit value (the convention of some published test instances).
        Demand-stage bound ``z_d sigma_d sqrt(tau)``; internal stages pool the demand stages they
        feed (Humair & Willems 2011). With ``z_decimals`` the service factors are read as quantiles
        rounded to that many decimals and replaced by the exact quantile of the service level they
        came from (:func:`service_level_of_rounded_z`).
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
                z = 1.645 if r.service_factor is None else float(r.service_factor)
                if z_decimals is not None:
                    z = service_level_of_rounded_z(z, z_decimals)[1]
                demand_z[j] = z
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


# ------------------------------------------------------- general networks, integer lead times


def _undominated(cm: np.ndarray) -> np.ndarray:
    """Pairs ``(S, SI)`` of one stage that no other pair dominates: ``(S', SI')`` with ``S' <= S``
    (easier for its customers), ``SI' >= SI`` (easier for its suppliers) and a cost no higher can
    replace it in any solution. ``cm[s, si]`` is the stage's cost (inf when infeasible)."""
    m = np.minimum.accumulate(np.minimum.accumulate(cm, axis=0)[:, ::-1], axis=1)[:, ::-1]
    inf = np.full((1, cm.shape[1]), np.inf)
    by_s = np.vstack([inf, m[:-1]])  # min over s' <= s - 1, si' >= si
    by_si = np.hstack([m[:, 1:], np.full((cm.shape[0], 1), np.inf)])  # s' <= s, si' >= si + 1
    return cm < np.minimum(by_s, by_si)


def _core_pair_model(problem: GsmProblem, pe: _Peel, lt_i, si_max, s_cap):
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
                ks = list(first + np.flatnonzero(vals == v))
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
    parent = list(range(problem.n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    keep = []
    for i, j in problem.edges:
        ri, rj = find(int(i)), find(int(j))
        if ri != rj:
            parent[ri] = rj
            keep.append((int(i), int(j)))
    tree = GsmProblem(
        problem.ids,
        problem.lead_time,
        problem.coef,
        problem.max_service,
        np.asarray(keep, int).reshape(-1, 2),
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


def solve(problem: GsmProblem, time_limit: float = 120.0, **milp_options) -> GsmSolution:
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

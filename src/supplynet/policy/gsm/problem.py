"""The guaranteed-service model (GSM) for multi-echelon safety-stock placement: the problem, its
solution and the stage records it is built from.

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

The solvers are in :mod:`~supplynet.policy.gsm.tree`, :mod:`~supplynet.policy.gsm.exact` and
:mod:`~supplynet.policy.gsm.milp`; :func:`supplynet.policy.gsm.solve` picks one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from supplynet.errors import DecisionError
from supplynet.model.willems import WillemsStage, read_stages

__all__ = [
    "GsmError",
    "GsmProblem",
    "GsmSolution",
    "StageRow",
    "service_level_of_rounded_z",
    "stage_table",
    "willems_rows",
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
        return len(self.spanning_edges()) == len(self.edges)

    def spanning_edges(self) -> np.ndarray:
        """The arcs of a spanning forest of the network read as an undirected graph (union-find, in
        arc order): each arc that joins two components so far."""
        parent = list(range(self.n))

        def find(a: int) -> int:
            while parent[a] != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            return a

        keep = []
        for i, j in self.edges:
            ri, rj = find(int(i)), find(int(j))
            if ri != rj:
                parent[ri] = rj
                keep.append((int(i), int(j)))
        return np.asarray(keep, int).reshape(-1, 2)

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
        tau: np.ndarray = np.asarray(SI, float) + self.lead_time - S
        return tau

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
        stages: Iterable[Any],
        holding_rate: float = 1.0,
        default_risk_pool: float = 2.0,
        cumulative_cost: bool = True,
        z_decimals: int | None = None,
    ) -> GsmProblem:
        """Build from stage records with ``id, lead_time, added_cost, max_service_time, demand_mean,
        demand_std, service_factor, risk_pool, upstream=((supplier id, quantity), ...)`` (see
        :class:`StageRow`).

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
        up: list[list[tuple[int, float]]] = [[] for _ in range(n)]
        down: list[list[tuple[int, float]]] = [[] for _ in range(n)]
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
    info: dict[str, Any] = field(default_factory=dict)

    def safety_stock(self, problem: GsmProblem) -> np.ndarray:
        """Safety stock ``k sigma_j sqrt(tau_j)`` per stage (needs ``problem.ss_scale``)."""
        if problem.ss_scale is None:
            raise GsmError("the problem has no safety-stock scale (build it with GsmProblem.from_stages)")
        stock: np.ndarray = problem.ss_scale * np.sqrt(np.maximum(self.nrt, 0.0))
        return stock

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
    problem: GsmProblem, S: np.ndarray, method: str, lb: float, t0: float, it: int = 1, **info: Any
) -> GsmSolution:  # noqa: N803
    S = np.asarray(S, float)  # noqa: N806
    SI = np.zeros(problem.n)  # noqa: N806
    for i, j in problem.edges:
        SI[j] = max(SI[j], S[i])
    tau = SI + problem.lead_time - S
    cost = float(np.sum(problem.coef * np.sqrt(np.maximum(tau, 0.0))))
    return GsmSolution(S, SI, tau, cost, method, min(lb, cost), time.perf_counter() - t0, it, dict(info))


def _repair(problem: GsmProblem, S: np.ndarray, up: list[list[int]]) -> np.ndarray:  # noqa: N803
    """Snap tiny MILP tolerance violations: make ``S_j <= max_i S_i + T_j`` hold exactly."""
    S = S.copy()  # noqa: N806
    for j in problem.topological_order():
        si = max((S[i] for i in up[j]), default=0.0)
        S[j] = min(max(S[j], 0.0), si + problem.lead_time[j], problem.max_service[j])
    return S


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


@dataclass(frozen=True)
class StageRow:
    """One stage as :meth:`GsmProblem.from_stages` reads it (a Willems (2008) chain's row, or a
    network's stocking point)."""

    id: str
    lead_time: float
    added_cost: float
    max_service_time: float | None = None
    demand_mean: float | None = None
    demand_std: float | None = None
    service_factor: float | None = None  # z of the demand bound at a demand stage
    risk_pool: float | None = None
    upstream: tuple[tuple[str, float], ...] = field(default_factory=tuple)  # (stage id, quantity)

    @classmethod
    def from_willems(cls, stage: WillemsStage) -> StageRow:
        """The GSM's reading of a Willems CSV row (its cost rate is the cost the stage adds, its
        ``ext_demand_thres`` the safety factor of the demand bound)."""
        return cls(
            id=stage.id,
            lead_time=stage.lead_time,
            added_cost=stage.cost_rate,
            max_service_time=stage.max_service_time,
            demand_mean=stage.demand_mean,
            demand_std=stage.demand_std,
            service_factor=stage.demand_z,
            risk_pool=stage.risk_pool,
            upstream=tuple(stage.upstream),
        )


def willems_rows(path: str | Path) -> list[StageRow]:
    """The stages of a Willems (2008) chain CSV, read by :func:`supplynet.model.willems.read_stages`
    (the one parser of the format), as GSM rows.

    The CSVs keep only a stage's mean lead time where the source had a stochastic or piecewise lead
    time (see the data folder's README), so some published optima cannot be reproduced from them.
    """
    return [StageRow.from_willems(s) for s in read_stages(path)]

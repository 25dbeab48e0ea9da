"""Inventory policy sizing: pure functions that compute the parameters of the runtime policies.

Every function takes plain numbers (or numpy arrays of a demand distribution) and returns a small
frozen result; nothing here does I/O or keeps state. The runtime classes (``BaseStock``,
``SsPolicy``, ``RQPolicy``, ``RSPolicy``, ``Newsvendor`` in :mod:`supplynet.policy.policies`) take
these numbers as their parameters.

Conventions (those of Snyder & Shen, *Fundamentals of Supply Chain Theory*, 2nd ed., 2019):
``h`` holding cost per unit per period, ``p`` stockout (backorder) cost per unit, ``K`` fixed cost
per order, ``L`` lead time in periods. In periodic review the protection interval of a base-stock
policy is ``L + 1`` periods (order placed at the start of the period, Snyder & Shen sec. 4.3).

Contents
- EOQ without and with planned backorders, EPQ (Harris 1913; Snyder & Shen ch. 3).
- Newsvendor for normal, Poisson, any scipy distribution and empirical/discrete demand; critical
  ratio (Snyder & Shen ch. 4).
- Base-stock level for a cycle service level (type 1) or a fill rate (type 2), for normal or
  Poisson lead-time demand; stochastic lead time through the variance formula
  ``Var = E[L] sigma_D^2 + mu_D^2 Var[L]`` (Silver, Pyke & Peterson 1998, sec. 7.11).
- (s,S): exact for discrete demand (Zheng & Federgruen 1991), power approximation for normal demand
  (Ehrhardt 1979; Ehrhardt & Mosier 1984), and EOQ + safety stock for a service target.
- (R,S) periodic review order-up-to level for a service target (Silver, Pyke & Peterson ch. 7).
- (r,Q): Hadley-Whitin loss-function approximation (Hadley & Whitin 1963; Snyder & Shen sec. 5.2),
  exact (r,Q) for Poisson demand (Federgruen & Zheng 1992), and (r,Q) for a service target.
- Clark-Scarf serial system: optimal echelon base-stock levels by the exact decomposition of
  Chen & Zheng (1994) on a discretized grid (Snyder & Shen sec. 6.2).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from supplynet.errors import DecisionError

__all__ = [
    "EOQResult",
    "LeadTimeDemand",
    "NewsvendorResult",
    "RQResult",
    "SerialResult",
    "SizingError",
    "SsResult",
    "base_stock_cost_optimal",
    "base_stock_for_fill_rate",
    "base_stock_for_service",
    "clark_scarf_serial",
    "critical_ratio",
    "eoq",
    "eoq_backorders",
    "epq",
    "lead_time_demand",
    "newsvendor_continuous",
    "newsvendor_discrete",
    "newsvendor_empirical",
    "newsvendor_explicit",
    "newsvendor_normal",
    "newsvendor_poisson",
    "normal_loss",
    "normal_second_loss",
    "poisson_loss",
    "rq_for_service",
    "rq_loss_function",
    "rq_poisson_exact",
    "rs_order_up_to",
    "ss_eoq_safety_stock",
    "ss_poisson_exact",
    "ss_power_approximation",
]


class SizingError(DecisionError):
    """A sizing input is out of range; the message names the parameter and its value."""

    code = "sizing"


def _positive(name: str, value: float) -> float:
    if not (value > 0 and math.isfinite(value)):
        raise SizingError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _nonneg(name: str, value: float) -> float:
    if not (value >= 0 and math.isfinite(value)):
        raise SizingError(f"{name} must be a non-negative finite number, got {value!r}")
    return float(value)


def _prob(name: str, value: float) -> float:
    if not (0.0 < value < 1.0):
        raise SizingError(f"{name} must be strictly between 0 and 1, got {value!r}")
    return float(value)


# ----------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class EOQResult:
    order_quantity: float
    cost: float
    stockout_fraction: float = 0.0  # fraction of the cycle with backorders (EOQ with backorders)


@dataclass(frozen=True)
class NewsvendorResult:
    level: float  # order quantity / base-stock level S
    cost: float  # expected holding + shortage cost per period (or profit, see newsvendor_explicit)


@dataclass(frozen=True)
class SsResult:
    s: float  # reorder point: order when the inventory position is <= s
    S: float  # order-up-to level
    cost: float | None = None


@dataclass(frozen=True)
class RQResult:
    r: float  # reorder point
    Q: float  # order quantity
    cost: float | None = None


@dataclass(frozen=True)
class SerialResult:
    echelon_levels: tuple[float, ...]  # S_1 (downstream, facing demand) ... S_N (upstream)
    local_levels: tuple[float, ...]  # S_j - S_{j-1}
    cost: float


@dataclass(frozen=True)
class LeadTimeDemand:
    mean: float
    std: float


# ----------------------------------------------------------------------------- loss functions


def normal_loss(x: float | np.ndarray, mean: float, sd: float) -> float | np.ndarray:
    """First-order loss ``n(x) = E[(D - x)^+]`` for ``D ~ N(mean, sd^2)`` (Snyder & Shen C.3)."""
    if sd == 0:
        return np.maximum(mean - np.asarray(x, float), 0.0)
    z = (np.asarray(x, float) - mean) / sd
    loss: float | np.ndarray = sd * (stats.norm.pdf(z) - z * stats.norm.sf(z))
    return loss


def normal_second_loss(x: float | np.ndarray, mean: float, sd: float) -> float | np.ndarray:
    """Second-order loss ``n2(x) = 0.5 E[((D - x)^+)^2]`` for a normal ``D`` (Snyder & Shen C.3)."""
    z = (np.asarray(x, float) - mean) / sd
    loss: float | np.ndarray = 0.5 * sd**2 * ((z**2 + 1) * stats.norm.sf(z) - z * stats.norm.pdf(z))
    return loss


def poisson_loss(x: float | np.ndarray, mean: float) -> float | np.ndarray:
    """``E[(D - x)^+]`` for ``D ~ Poisson(mean)`` and integer ``x``."""
    x = np.asarray(x, float)
    loss: float | np.ndarray = mean * stats.poisson.sf(x - 1, mean) - x * stats.poisson.sf(x, mean)
    return loss


def lead_time_demand(
    demand_mean: float, demand_sd: float, lead_time: float, lead_time_sd: float = 0.0
) -> LeadTimeDemand:
    """Mean and sd of demand over a random lead time (Silver, Pyke & Peterson 1998, eq. 7.2x).

    ``mean = E[L] mu``, ``var = E[L] sigma^2 + mu^2 Var[L]`` for i.i.d. period demands independent
    of the lead time ``L``. ``lead_time`` is the number of periods to protect (add the review period
    for periodic review).
    """
    _nonneg("demand_mean", demand_mean)
    _nonneg("demand_sd", demand_sd)
    _nonneg("lead_time", lead_time)
    _nonneg("lead_time_sd", lead_time_sd)
    var = lead_time * demand_sd**2 + demand_mean**2 * lead_time_sd**2
    return LeadTimeDemand(demand_mean * lead_time, math.sqrt(var))


# --------------------------------------------------------------------------------------- EOQ


def eoq(fixed_cost: float, holding_cost: float, demand_rate: float) -> EOQResult:
    """Economic order quantity ``Q* = sqrt(2 K lambda / h)``, cost ``sqrt(2 K lambda h)``.

    Harris (1913); Snyder & Shen eq. (3.4)-(3.5). Example 3.1: K=8, h=0.225, lambda=1300 gives
    Q*=304.05 and g*=68.41.
    """
    k, h, lam = (
        _positive("fixed_cost", fixed_cost),
        _positive("holding_cost", holding_cost),
        _nonneg("demand_rate", demand_rate),
    )
    q = math.sqrt(2 * k * lam / h)
    return EOQResult(q, math.sqrt(2 * k * lam * h))


def eoq_backorders(
    fixed_cost: float, holding_cost: float, stockout_cost: float, demand_rate: float
) -> EOQResult:
    """EOQ with planned backorders (Snyder & Shen sec. 3.5, eq. 3.23-3.25).

    ``Q* = sqrt(2 K lambda (h + p) / (h p))``, stockout fraction ``x* = h / (h + p)``,
    ``g* = sqrt(2 K lambda h p / (h + p))``.
    """
    k = _positive("fixed_cost", fixed_cost)
    h = _positive("holding_cost", holding_cost)
    p = _positive("stockout_cost", stockout_cost)
    lam = _nonneg("demand_rate", demand_rate)
    q = math.sqrt(2 * k * lam * (h + p) / (h * p))
    return EOQResult(q, math.sqrt(2 * k * lam * h * p / (h + p)), h / (h + p))


def epq(fixed_cost: float, holding_cost: float, demand_rate: float, production_rate: float) -> EOQResult:
    """Economic production quantity (Taft 1918; Snyder & Shen sec. 3.6): finite production rate."""
    k, h = _positive("fixed_cost", fixed_cost), _positive("holding_cost", holding_cost)
    lam, mu = _nonneg("demand_rate", demand_rate), _positive("production_rate", production_rate)
    if lam >= mu:
        raise SizingError(f"production_rate ({mu}) must exceed demand_rate ({lam})")
    rho = lam / mu
    return EOQResult(math.sqrt(2 * k * lam / (h * (1 - rho))), math.sqrt(2 * k * lam * h * (1 - rho)))


# -------------------------------------------------------------------------------- newsvendor


def critical_ratio(holding_cost: float, stockout_cost: float) -> float:
    """Newsvendor critical ratio ``p / (p + h)`` (Snyder & Shen eq. 4.16)."""
    h, p = _nonneg("holding_cost", holding_cost), _nonneg("stockout_cost", stockout_cost)
    if h + p == 0:
        raise SizingError("holding_cost + stockout_cost must be positive")
    return p / (h + p)


def newsvendor_normal(
    holding_cost: float, stockout_cost: float, demand_mean: float, demand_sd: float, lead_time: float = 0
) -> NewsvendorResult:
    """Normal newsvendor: ``S* = mu + z sigma`` with ``z = Phi^-1(p/(p+h))``; cost ``(h+p) sigma phi(z)``.

    Snyder & Shen Theorem 4.2 / eq. (4.24). With ``lead_time`` L, the periodic-review base-stock
    problem of sec. 4.3 (protection over L + 1 periods). Example 4.3: h=0.18, p=0.70, N(50, 8^2)
    gives S*=56.60, g*=1.96.
    """
    cr = critical_ratio(holding_cost, stockout_cost)
    _nonneg("demand_sd", demand_sd)
    ltd = lead_time_demand(demand_mean, demand_sd, lead_time + 1)
    if ltd.std == 0:
        return NewsvendorResult(ltd.mean, 0.0)
    z = stats.norm.ppf(cr)
    return NewsvendorResult(
        ltd.mean + z * ltd.std, (holding_cost + stockout_cost) * ltd.std * stats.norm.pdf(z)
    )


def newsvendor_explicit(
    revenue: float, purchase_cost: float, salvage_value: float, demand_mean: float, demand_sd: float
) -> NewsvendorResult:
    """Newsvendor with explicit prices (Snyder & Shen sec. 4.3.3): ``h = c - v``, ``p = r - c``.

    Returns the optimal order and the expected *profit* ``(r - c) mu - g(S*)``.
    """
    if not revenue > purchase_cost > salvage_value:
        raise SizingError(
            f"need revenue > purchase_cost > salvage_value, got {revenue}, {purchase_cost}, {salvage_value}"
        )
    res = newsvendor_normal(purchase_cost - salvage_value, revenue - purchase_cost, demand_mean, demand_sd)
    return NewsvendorResult(res.level, (revenue - purchase_cost) * demand_mean - res.cost)


def newsvendor_discrete(
    holding_cost: float,
    stockout_cost: float,
    values: Sequence[float] | np.ndarray,
    probs: Sequence[float] | np.ndarray,
) -> NewsvendorResult:
    """Discrete newsvendor: the smallest support point with ``F(S) >= p/(p+h)`` (Snyder & Shen 4.3.2).

    ``values``/``probs`` is the demand pmf (need not be sorted; probabilities are normalised).
    """
    cr = critical_ratio(holding_cost, stockout_cost)
    v = np.asarray(values, float)
    w = np.asarray(probs, float)
    if v.ndim != 1 or v.shape != w.shape or v.size == 0:
        raise SizingError(f"values and probs must be equal-length 1-d arrays, got {v.shape} and {w.shape}")
    if np.any(w < 0) or w.sum() <= 0:
        raise SizingError("probs must be non-negative and sum to a positive number")
    order = np.argsort(v)
    v, w = v[order], w[order] / w.sum()
    cdf = np.cumsum(w)
    i = int(np.searchsorted(cdf, cr - 1e-12))
    s = float(v[min(i, v.size - 1)])
    cost = float(np.sum(w * (holding_cost * np.maximum(s - v, 0) + stockout_cost * np.maximum(v - s, 0))))
    return NewsvendorResult(s, cost)


def newsvendor_empirical(
    holding_cost: float, stockout_cost: float, samples: Sequence[float]
) -> NewsvendorResult:
    """Sample-average-approximation newsvendor: the ``p/(p+h)`` empirical quantile of demand samples
    (Levi, Roundy & Shmoys 2007), e.g. forecast sample paths or history."""
    x = np.asarray(samples, float).ravel()
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise SizingError("samples must be a non-empty array of finite numbers")
    vals, counts = np.unique(x, return_counts=True)
    return newsvendor_discrete(holding_cost, stockout_cost, vals, counts)


def newsvendor_poisson(
    holding_cost: float, stockout_cost: float, demand_mean: float, lead_time: int = 0
) -> NewsvendorResult:
    """Poisson newsvendor: smallest integer ``S`` with ``F(S) >= p/(p+h)`` (Snyder & Shen 4.3.2)."""
    cr = critical_ratio(holding_cost, stockout_cost)
    mu = _nonneg("demand_mean", demand_mean) * (lead_time + 1)
    s = float(stats.poisson.ppf(cr, mu))
    n = poisson_loss(s, mu)
    cost = holding_cost * (s - mu) + (holding_cost + stockout_cost) * n
    return NewsvendorResult(s, float(cost))


def newsvendor_continuous(
    holding_cost: float, stockout_cost: float, dist: stats.rv_continuous
) -> NewsvendorResult:
    """Newsvendor for any frozen scipy continuous distribution: ``S* = F^-1(p/(p+h))``; cost by
    quadrature of ``(h+p) n(S) + h (S - mu)`` (Snyder & Shen eq. 4.12)."""
    cr = critical_ratio(holding_cost, stockout_cost)
    s = float(dist.ppf(cr))
    hi = float(dist.isf(1e-14))
    loss = dist.expect(lambda d: d - s, lb=s, ub=hi) if s < hi else 0.0
    cost = holding_cost * (s - dist.mean()) + (holding_cost + stockout_cost) * loss
    return NewsvendorResult(s, float(cost))


# -------------------------------------------------------------------------------- base stock


def base_stock_cost_optimal(
    holding_cost: float, stockout_cost: float, demand_mean: float, demand_sd: float, lead_time: float = 0
) -> NewsvendorResult:
    """Cost-optimal periodic-review base-stock level (Snyder & Shen Theorem 4.4): the newsvendor
    on demand over ``L + 1`` periods. Example 4.4 (h=0.18, p=0.70, N(50, 8^2), L=4): S*=264.77."""
    return newsvendor_normal(holding_cost, stockout_cost, demand_mean, demand_sd, lead_time)


def base_stock_for_service(
    service_level: float,
    demand_mean: float,
    demand_sd: float,
    lead_time: float,
    lead_time_sd: float = 0.0,
    dist: str = "normal",
) -> float:
    """Base-stock level for a cycle service level (type 1, ``P(no stockout) >= alpha``).

    ``S = mu_LT + z_alpha sigma_LT`` for normal lead-time demand, the ``alpha`` quantile for Poisson
    (Silver, Pyke & Peterson 1998 sec. 7.5). ``lead_time`` is the protection interval in periods
    (for periodic review pass ``L + R``); a stochastic lead time enters through
    :func:`lead_time_demand`'s variance formula (normal only).
    """
    a = _prob("service_level", service_level)
    if dist == "normal":
        ltd = lead_time_demand(demand_mean, demand_sd, lead_time, lead_time_sd)
        return float(ltd.mean + stats.norm.ppf(a) * ltd.std)
    if dist == "poisson":
        if lead_time_sd:
            raise SizingError("a stochastic lead time needs dist='normal' (variance formula)")
        return float(
            stats.poisson.ppf(a, _nonneg("demand_mean", demand_mean) * _nonneg("lead_time", lead_time))
        )
    raise SizingError(f"dist must be 'normal' or 'poisson', got {dist!r}")


def base_stock_for_fill_rate(
    fill_rate: float,
    demand_mean: float,
    demand_sd: float,
    lead_time: float,
    lead_time_sd: float = 0.0,
    dist: str = "normal",
    demand_per_cycle: float | None = None,
) -> float:
    """Base-stock (order-up-to) level for a fill rate (type 2, ``1 - E[short per cycle]/E[demand per
    cycle] >= beta``).

    Solves ``n(S) = (1 - beta) * demand_per_cycle`` where ``n`` is the loss function of lead-time
    demand (Silver, Pyke & Peterson 1998 eq. 7.19; Snyder & Shen sec. 4.3.4). The cycle demand
    defaults to one period's mean demand (base-stock policy: one order per period); pass ``R mu`` for
    an (R,S) policy or ``Q`` for (r,Q). Normal or Poisson lead-time demand.
    """
    b = _prob("fill_rate", fill_rate)
    cyc = demand_mean if demand_per_cycle is None else demand_per_cycle
    target = (1 - b) * _nonneg("demand_per_cycle", cyc)
    if dist == "normal":
        ltd = lead_time_demand(demand_mean, demand_sd, lead_time, lead_time_sd)
        if ltd.std == 0:
            return ltd.mean

        def f(s: float) -> float:
            return float(normal_loss(s, ltd.mean, ltd.std)) - target

        lo, hi = ltd.mean - 10 * ltd.std, ltd.mean + 12 * ltd.std
        if f(lo) <= 0:
            return float(lo)
        return float(optimize.brentq(f, lo, hi, xtol=1e-10))
    if dist == "poisson":
        if lead_time_sd:
            raise SizingError("a stochastic lead time needs dist='normal' (variance formula)")
        mu = _nonneg("demand_mean", demand_mean) * _nonneg("lead_time", lead_time)
        s = 0
        while poisson_loss(s, mu) > target:
            s += 1
        return float(s)
    raise SizingError(f"dist must be 'normal' or 'poisson', got {dist!r}")


def rs_order_up_to(
    review_period: float,
    demand_mean: float,
    demand_sd: float,
    lead_time: float,
    service_level: float | None = None,
    fill_rate: float | None = None,
    lead_time_sd: float = 0.0,
) -> float:
    """(R,S) order-up-to level: protect over ``R + L`` (Silver, Pyke & Peterson 1998 sec. 7.10).

    Cycle service level: ``S = mu (R+L) + z sigma_{R+L}``; fill rate: ``n(S) = (1-beta) mu R``.
    """
    r = _positive("review_period", review_period)
    if (service_level is None) == (fill_rate is None):
        raise SizingError("give exactly one of service_level or fill_rate")
    if service_level is not None:
        return base_stock_for_service(service_level, demand_mean, demand_sd, lead_time + r, lead_time_sd)
    assert fill_rate is not None  # exactly one of the two is given (checked above)
    return base_stock_for_fill_rate(
        fill_rate, demand_mean, demand_sd, lead_time + r, lead_time_sd, demand_per_cycle=demand_mean * r
    )


# ----------------------------------------------------------------------------------------- (s,S)


def _poisson_g(
    holding_cost: float, stockout_cost: float, mean: float
) -> Callable[[np.ndarray | int], np.ndarray]:
    """One-period expected cost ``g(y) = h E[(y-D)^+] + p E[(D-y)^+]`` for Poisson ``D``, vectorized."""

    def g(y: np.ndarray | int) -> np.ndarray:
        y = np.asarray(y, float)
        return holding_cost * (y - mean) + (holding_cost + stockout_cost) * poisson_loss(y, mean)

    return g


def ss_poisson_exact(
    holding_cost: float, stockout_cost: float, fixed_cost: float, demand_mean: float, lead_time: int = 0
) -> SsResult:
    """Optimal (s,S) for Poisson period demand by Zheng & Federgruen (1991).

    Uses the renewal-theoretic cost ``c(s,S) = [K + sum_{d=0}^{S-s-1} m(d) g(S-d)] / M(S-s)``
    (Snyder & Shen sec. 4.6.2, eq. 4.64-4.66) and the Zheng-Federgruen search, which is exact.
    ``g`` uses demand over ``L + 1`` periods. Example 4.7 (h=1, p=4, K=5, Poisson(6)) gives
    s=4, S=10, cost 8.034.
    """
    h, p = _positive("holding_cost", holding_cost), _positive("stockout_cost", stockout_cost)
    k = _positive("fixed_cost", fixed_cost)
    mu = _positive("demand_mean", demand_mean)
    g = _poisson_g(h, p, mu * (lead_time + 1))
    # per-period demand pmf and renewal quantities m(j), M(j)
    pmf = stats.poisson.pmf(np.arange(int(stats.poisson.isf(1e-15, mu)) + 2), mu)
    p0 = pmf[0]
    m: list[float] = [1.0 / (1.0 - p0)]
    big_m: list[float] = [0.0, m[0]]

    def ensure(n: int) -> None:
        while len(m) <= n:
            j = len(m)
            lim = min(j, pmf.size - 1)
            acc = sum(pmf[ell] * m[j - ell] for ell in range(1, lim + 1))
            m.append(acc / (1.0 - p0))
            big_m.append(big_m[-1] + m[j])  # M(n) = sum_{j<n} m(j)

    def c(s: int, S: int) -> float:  # noqa: N803
        n = S - s
        ensure(n)
        ds = np.arange(n)
        return float((k + np.dot(np.asarray(m[:n]), g(S - ds))) / big_m[n])

    ys = np.arange(
        int(mu * (lead_time + 1)) - 10 * int(math.sqrt(mu * (lead_time + 1)) + 1),
        int(mu * (lead_time + 2)) + 50,
    )
    y_star = int(ys[np.argmin(g(ys))])
    s = y_star
    while True:
        s -= 1
        if c(s, y_star) <= float(g(s)):
            break
    c0, S0 = c(s, y_star), y_star  # noqa: N806
    S = S0 + 1  # noqa: N806
    while float(g(S)) <= c0:
        if c(s, S) < c0:
            S0 = S  # noqa: N806
            while c(s, S0) <= float(g(s + 1)):
                s += 1
            c0 = c(s, S0)
        S += 1  # noqa: N806
    return SsResult(float(s), float(S0), c0)


def ss_power_approximation(
    holding_cost: float,
    stockout_cost: float,
    fixed_cost: float,
    demand_mean: float,
    demand_sd: float,
    lead_time: float = 0,
    newsvendor_cap: bool = False,
) -> SsResult:
    """(s,S) by the power approximation (Ehrhardt 1979; Ehrhardt & Mosier 1984; Snyder & Shen eq.
    4.77-4.80).

    ``Q = 1.30 mu^0.494 (K/h)^0.506 (1 + sigma_L^2/mu^2)^0.116``, ``z = sqrt(Q h / (sigma_L p))``,
    ``s = 0.973 mu_L + sigma_L (0.183/z + 1.063 - 2.192 z)``, ``S = s + Q``, with lead-time demand
    over ``L + 1`` periods. ``newsvendor_cap`` applies Ehrhardt & Mosier's rule for ``Q/mu <= 1.5``
    (cap s and S by the newsvendor level); Snyder & Shen's Example 4.8 leaves it out (default).
    Example 4.8: h=0.18, p=0.70, K=2.5, N(50, 8^2) gives s=40.19, S=74.29.
    """
    h, p = _positive("holding_cost", holding_cost), _positive("stockout_cost", stockout_cost)
    k, mu = _positive("fixed_cost", fixed_cost), _positive("demand_mean", demand_mean)
    sd = _positive("demand_sd", demand_sd)
    ltd = lead_time_demand(mu, sd, lead_time + 1)
    q = 1.30 * mu**0.494 * (k / h) ** 0.506 * (1 + (ltd.std / mu) ** 2) ** 0.116
    z = math.sqrt(q * h / (ltd.std * p))
    s = 0.973 * ltd.mean + ltd.std * (0.183 / z + 1.063 - 2.192 * z)
    big_s = s + q
    if newsvendor_cap and q / mu <= 1.5:
        s0 = ltd.mean + ltd.std * stats.norm.ppf(p / (p + h))
        s, big_s = min(s, s0), min(big_s, s0)
    return SsResult(float(s), float(big_s))


def ss_eoq_safety_stock(
    fixed_cost: float,
    holding_cost: float,
    demand_mean: float,
    demand_sd: float,
    lead_time: float,
    service_level: float | None = None,
    fill_rate: float | None = None,
    lead_time_sd: float = 0.0,
) -> SsResult:
    """(s,S) for a service target by the classic decomposition: ``s`` protects the lead time at the
    target (cycle service level, or fill rate with ``Q`` units per cycle), ``S = s + EOQ``
    (Silver, Pyke & Peterson 1998 sec. 7.9; an approximation that ignores the undershoot of s)."""
    q = eoq(fixed_cost, holding_cost, demand_mean).order_quantity
    if (service_level is None) == (fill_rate is None):
        raise SizingError("give exactly one of service_level or fill_rate")
    if service_level is not None:
        s = base_stock_for_service(service_level, demand_mean, demand_sd, lead_time, lead_time_sd)
    else:
        assert fill_rate is not None  # exactly one of the two is given (checked above)
        s = base_stock_for_fill_rate(
            fill_rate, demand_mean, demand_sd, lead_time, lead_time_sd, demand_per_cycle=q
        )
    return SsResult(s, s + q)


# ----------------------------------------------------------------------------------------- (r,Q)


def rq_loss_function(
    holding_cost: float,
    stockout_cost: float,
    fixed_cost: float,
    demand_mean: float,
    demand_sd: float,
    lead_time: float,
    tol: float = 1e-8,
) -> RQResult:
    """(r,Q) by the loss-function approximation of Hadley & Whitin (1963) (Snyder & Shen sec. 5.2.4,
    eq. 5.28-5.29): iterate ``n(r) = h Q / (h + p)`` and ``Q = sqrt(2 [K lambda + (h+p) n2(r)] / h)``
    from ``Q = EOQ``. Normal demand with rate ``lambda`` and sd per unit time ``tau``; lead time L.
    The returned cost is ``h (r - lambda L + Q/2) + [K lambda + (h+p) n2(r)] / Q``.
    Example 5.6: h=0.225, p=7.5, K=8, lambda=1300, tau=150, L=1/12 gives r=126.87, Q=328.45.
    """
    h, p = _positive("holding_cost", holding_cost), _positive("stockout_cost", stockout_cost)
    k, lam = _positive("fixed_cost", fixed_cost), _positive("demand_mean", demand_mean)
    ltd = lead_time_demand(lam, demand_sd, _positive("lead_time", lead_time))
    if ltd.std <= 0:
        raise SizingError("demand_sd must be positive for the loss-function approximation")
    q = eoq(k, h, lam).order_quantity
    r = ltd.mean
    for _ in range(500):
        target = h * q / (h + p)
        f = lambda y, t=target: normal_loss(y, ltd.mean, ltd.std) - t  # noqa: E731
        lo, hi = ltd.mean - 40 * ltd.std, ltd.mean + 40 * ltd.std
        r_new = float(optimize.brentq(f, lo, hi, xtol=1e-12))
        q_new = math.sqrt(2 * (k * lam + (h + p) * normal_second_loss(r_new, ltd.mean, ltd.std)) / h)
        done = abs(q_new - q) < tol and abs(r_new - r) < tol
        r, q = r_new, q_new
        if done:
            break
    cost = h * (r - ltd.mean + q / 2) + (k * lam + (h + p) * normal_second_loss(r, ltd.mean, ltd.std)) / q
    return RQResult(r, q, float(cost))


def rq_poisson_exact(
    holding_cost: float, stockout_cost: float, fixed_cost: float, demand_mean: float, lead_time: float
) -> RQResult:
    """Optimal (r,Q) for Poisson demand (Federgruen & Zheng 1992; Snyder & Shen sec. 5.3).

    ``g(r,Q) = [K lambda + sum_{y=r+1}^{r+Q} g(y)] / Q`` with ``g`` the expected holding/backorder
    cost at inventory position ``y`` after the lead time. ``g`` is convex, so the best window of Q
    points grows greedily and the cost is unimodal in Q: stop when the next point costs more than
    the current average. Example 5.8 (h=20, p=150, K=100, lambda=1.5, L=2) gives r=3, Q=5.
    """
    h, p = _positive("holding_cost", holding_cost), _positive("stockout_cost", stockout_cost)
    k, lam = _positive("fixed_cost", fixed_cost), _positive("demand_mean", demand_mean)
    mu = lam * _nonneg("lead_time", lead_time)
    g = _poisson_g(h, p, mu)
    ys = np.arange(-10, int(mu + 20 * math.sqrt(mu + 1)) + 20)
    a = b = int(ys[np.argmin(g(ys))])
    total = float(g(a))
    cost = k * lam + total
    while True:
        ga, gb = float(g(a - 1)), float(g(b + 1))
        nxt = min(ga, gb)
        n = b - a + 1
        if nxt >= (k * lam + total) / n:
            cost = (k * lam + total) / n
            break
        if ga < gb:
            a -= 1
        else:
            b += 1
        total += nxt
    return RQResult(float(a - 1), float(b - a + 1), float(cost))


def rq_for_service(
    fixed_cost: float,
    holding_cost: float,
    demand_mean: float,
    demand_sd: float,
    lead_time: float,
    service_level: float | None = None,
    fill_rate: float | None = None,
    lead_time_sd: float = 0.0,
) -> RQResult:
    """(r,Q) for a service target: ``Q = EOQ``; ``r`` the cycle-service quantile of lead-time
    demand, or the fill-rate level with ``n(r) = (1 - beta) Q`` (Silver, Pyke & Peterson sec. 7.7)."""
    res = ss_eoq_safety_stock(
        fixed_cost, holding_cost, demand_mean, demand_sd, lead_time, service_level, fill_rate, lead_time_sd
    )
    return RQResult(res.s, res.S - res.s)


# ------------------------------------------------------------------------ Clark-Scarf serial


def _demand_kernel(dist: str, mean: float, sd: float, periods: float, dx: float) -> tuple[int, np.ndarray]:
    """Lead-time demand over ``periods`` on the grid ``k dx``: (first offset, probability masses)."""
    if periods == 0:
        return 0, np.ones(1)
    if dist == "poisson":
        m = mean * periods
        hi = int(stats.poisson.isf(1e-14, m)) + 1
        return 0, stats.poisson.pmf(np.arange(hi + 1), m)
    m, s = mean * periods, sd * math.sqrt(periods)
    if s == 0:
        k = round(m / dx)
        return k, np.ones(1)
    k0, k1 = math.floor((m - 9 * s) / dx), math.ceil((m + 9 * s) / dx)
    ks = np.arange(k0, k1 + 1)
    edges = (np.concatenate([ks - 0.5, [k1 + 0.5]]) * dx - m) / s
    w = np.diff(stats.norm.cdf(edges))
    return k0, w / w.sum()


def _refine_min(x: np.ndarray, f: np.ndarray) -> tuple[float, float]:
    """Grid argmin refined by the parabola through its two neighbours."""
    i = int(np.argmin(f))
    if 0 < i < f.size - 1:
        y0, y1, y2 = f[i - 1], f[i], f[i + 1]
        den = y0 - 2 * y1 + y2
        if den > 0:
            t = 0.5 * (y0 - y2) / den
            dx = x[1] - x[0]
            return float(x[i] + t * dx), float(y1 - 0.25 * (y0 - y2) * t)
    return float(x[i]), float(f[i])


def clark_scarf_serial(
    echelon_holding_costs: Sequence[float],
    lead_times: Sequence[float],
    stockout_cost: float,
    demand_mean: float,
    demand_sd: float = 0.0,
    dist: str = "normal",
    grid_step: float | None = None,
    levels: Sequence[float] | None = None,
) -> SerialResult:
    """Optimal echelon base-stock levels of a serial system (Clark & Scarf 1960) by the exact
    algorithm of Chen & Zheng (1994), as in Snyder & Shen sec. 6.2.3 (eq. 6.17-6.22).

    Stage 1 faces demand, stage N is supplied by an uncapacitated source; lists are ordered
    1..N (downstream first). With ``C_0(x) = (p + h'_1) x^-`` and for j = 1..N:
    ``Chat_j(x) = h_j x + C_{j-1}(x)``, ``Ctil_j(y) = E[Chat_j(y - D_j)]`` (``D_j`` = demand over
    ``L_j`` periods), ``S*_j = argmin Ctil_j``, ``C_j(x) = Ctil_j(min(S*_j, x))``; the optimal cost
    is ``Ctil_N(S*_N)``. With ``levels`` given, the same recursion evaluates the expected cost of
    those echelon levels instead of optimising (Snyder & Shen eq. 6.13). Expectations are convolutions on a grid (step ``grid_step``, default
    ``sigma / 400`` for normal demand, 1 for Poisson); minima are refined by a parabola.
    Example 6.1 (h = 3, 2, 2; L = 1, 1, 2; p = 37.12; N(5, 1)) gives S* = (6.49, 12.02, 22.71),
    cost 47.66.
    """
    from scipy.signal import fftconvolve

    h = [float(v) for v in echelon_holding_costs]
    lt = [float(v) for v in lead_times]
    if not h or len(h) != len(lt):
        raise SizingError(
            f"echelon_holding_costs and lead_times must be equal-length, got {len(h)} and {len(lt)}"
        )
    for i, v in enumerate(h):
        _nonneg(f"echelon_holding_costs[{i}]", v)
    for i, v in enumerate(lt):
        _nonneg(f"lead_times[{i}]", v)
    p = _positive("stockout_cost", stockout_cost)
    mu = _nonneg("demand_mean", demand_mean)
    if dist == "poisson":
        dx = 1.0  # demand over L periods is Poisson(mu L), also for fractional L
    elif dist == "normal":
        sd = _positive("demand_sd", demand_sd)
        dx = float(grid_step) if grid_step else sd / 400.0
    else:
        raise SizingError(f"dist must be 'normal' or 'poisson', got {dist!r}")
    kernels = [_demand_kernel(dist, mu, demand_sd, v, dx) for v in lt]
    total_l = sum(lt)
    tot_sd = (
        math.sqrt(max(mu, demand_sd**2) * (total_l + 1))
        if dist == "poisson"
        else demand_sd * math.sqrt(total_l + 1)
    )
    hi = mu * total_l + 12 * tot_sd + 10 * dx
    shrink = sum(k0 + w.size - 1 for k0, w in kernels)  # grid points lost at the bottom
    lo_target = -12 * tot_sd - 10 * dx
    i_lo = math.floor(lo_target / dx) - shrink - 5
    i_hi = math.ceil(hi / dx) + sum(max(0, -k0) for k0, _ in kernels) + 5
    idx = np.arange(i_lo, i_hi + 1)
    x = idx * dx
    if levels is not None and len(levels) != len(h):
        raise SizingError(f"levels must have {len(h)} entries, got {len(levels)}")
    c_prev = (p + sum(h)) * np.maximum(-x, 0.0)  # C_0
    out: list[float] = []
    cost = 0.0
    for j in range(len(h)):
        c_hat = h[j] * x + c_prev
        k0, w = kernels[j]
        conv = fftconvolve(c_hat, w)  # conv[n] = sum_k w[k] c_hat[n - k]
        # Ctil(x[i]) = sum_k w[k] c_hat(x[i] - (k0 + k) dx) = conv[i - k0]
        first, last = k0 + w.size - 1, x.size - 1 + min(0, k0)
        i_range = np.arange(max(first, 0), last + 1)
        c_til = conv[i_range - k0]
        x = x[i_range]
        if levels is None:
            i_star = int(np.argmin(c_til))
            c_star = c_til[i_star]
            if dist == "poisson":  # integer levels: the grid minimum is exact
                s_star, cost = float(x[i_star]), float(c_star)
            else:
                s_star, cost = _refine_min(x, c_til)
        else:
            s_star = float(levels[j])
            c_star = cost = float(np.interp(s_star, x, c_til))
            i_star = int(np.searchsorted(x, s_star))
        out.append(s_star)
        c_prev = np.where(x <= s_star, c_til, c_star)
        if levels is not None:  # exact kink at the given level, linear interpolation below it
            c_prev = np.where(x <= s_star, np.interp(np.minimum(x, s_star), x, c_til), c_star)
        _ = i_star
    local = [out[0]] + [out[j] - out[j - 1] for j in range(1, len(out))]
    return SerialResult(tuple(out), tuple(local), float(cost))

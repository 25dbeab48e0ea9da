"""Policy: the pure inventory policies, their sizing and the guaranteed-service model; no I/O.

``decide`` (the live loop's orders) and ``sim`` (the Monte Carlo engine) call the very same code, so
what is simulated is what runs live; both sit to the right of this package.

- :mod:`.policies`: runtime policies behind one protocol (:class:`BaseStock`, :class:`SsPolicy`,
  :class:`RQPolicy`, :class:`RSPolicy`, :class:`Newsvendor`), vectorized and compiled with numba.
- :mod:`.sizing`: the textbook sizing functions (EOQ, newsvendor, base stock, (s, S), (r, Q), (R, S),
  Clark & Scarf).
- :mod:`.gsm`: safety-stock placement across echelons (Graves & Willems 2000): the problem, the tree
  DP, the exact solver and the piecewise-linear MILP; its names are published by ``supplynet.policy.gsm``.

Every public name of the package's modules is here (imported on first use)::

    >>> from supplynet import policy
    >>> policy.SsPolicy is policy.policies.SsPolicy
    True
"""

from __future__ import annotations

from .._lazy import lazy_exports

#: the public names of each public module (its ``__all__``)
_BY_MODULE: dict[str, tuple[str, ...]] = {
    "policies": (
        "KIND_BASE_STOCK",
        "KIND_NEWSVENDOR",
        "KIND_RQ",
        "KIND_RS",
        "KIND_SS",
        "BaseStock",
        "Forecast",
        "Newsvendor",
        "Policy",
        "RQPolicy",
        "RSPolicy",
        "SsPolicy",
        "order_qty_scalar",
        "policy_from_spec",
    ),
    "sizing": (
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
    ),
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _BY_MODULE)

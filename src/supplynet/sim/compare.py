"""Compare two or more policies on common random numbers, with confidence intervals on differences.

Every variant runs with the same seed, so replication ``r`` sees the same demand (and the same lead
times on days both variants ship) in every variant; differences are taken replication by replication
(paired), which removes most of the noise (Law, *Simulation Modeling and Analysis*, 5th ed., s.10.2).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from supplynet.errors import SimulationError
from supplynet.sim.kpi import network_per_replication
from supplynet.sim.network import SimNetwork
from supplynet.sim.runners import run_replications
from supplynet.sim.scenario import ScenarioLike

__all__ = ["compare_policies", "paired_differences"]

Variant = Any  # a policy object (policy.policies) or a callable SimNetwork -> SimNetwork


def _apply(net: SimNetwork, variant: Variant) -> SimNetwork:
    if callable(variant) and not hasattr(variant, "kernel_params"):
        return variant(net)
    if hasattr(variant, "kernel_params"):
        items = np.nonzero(~net.source & (net.pol_kind >= 0))[0]
        return net.with_policy(variant, items)
    raise SimulationError(f"a policy variant must be a policy or a function of the network, got {variant!r}")


def compare_policies(net: SimNetwork, variants: Mapping[str, Variant], *, replications: int, horizon: int,
                     seed: int = 0, scenario: ScenarioLike | None = None, executor: str = "local", scheduler: Any = None,
                     confidence: float = 0.95,
                     progress: Callable[[int], None] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run each variant on common random numbers.

    Returns ``(per_replication, differences)``: network metrics per (variant, replication), and per
    (variant, metric) the mean difference against the first variant with its confidence interval.
    """
    if len(variants) < 2:
        raise SimulationError(f"compare at least two policies, got {len(variants)}")
    frames = []
    for name, variant in variants.items():
        res = run_replications(_apply(net, variant), replications=replications, horizon=horizon, seed=seed,
                               scenario=scenario, executor=executor, scheduler=scheduler, progress=progress)
        frames.append(network_per_replication(res).assign(variant=name))
    per_rep = pd.concat(frames, ignore_index=True)
    return per_rep, paired_differences(per_rep, baseline=next(iter(variants)), confidence=confidence)


def paired_differences(per_rep: pd.DataFrame, *, baseline: str, confidence: float = 0.95) -> pd.DataFrame:
    """Mean paired difference (variant - baseline) per metric with a Student-t interval."""
    metrics = [c for c in per_rep.columns if c not in ("replication", "variant")]
    base = per_rep[per_rep["variant"] == baseline].set_index("replication")
    rows = []
    for name, grp in per_rep.groupby("variant", sort=False):
        if name == baseline:
            continue
        g = grp.set_index("replication")
        for m in metrics:
            d = (g[m] - base.loc[g.index, m]).to_numpy(dtype=float)
            d = d[np.isfinite(d)]
            n = len(d)
            mean = float(d.mean()) if n else np.nan
            half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * d.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan
            rows.append({"variant": name, "baseline": baseline, "metric": m, "mean_diff": mean,
                         "ci_low": mean - half, "ci_high": mean + half,
                         "baseline_mean": float(base[m].mean()), "significant": bool(n > 1 and abs(mean) > half)})
    return pd.DataFrame(rows)

"""KPIs of a run as tidy DataFrames: distributions over replications (P5, P50, P95, mean).

- :func:`item_kpis` / :func:`site_kpis` / :func:`network_kpis`: fill rate (share of demand served
  from stock the day it arrives), average backorders, lost sales, revenue at risk (price x demand not
  served in the horizon) and the total cost in the network's cost model (its currency is
  ``result.meta["currency"]``), by component (:data:`COST_COMPONENTS`): holding (on hand and in
  transit), ordering, transport (a lane's fixed cost once per day it ships), lost-sale and backorder
  penalties (``shortage_cost`` is their sum), demand a disruption took away (at the lost-sale penalty)
  and machine downtime at sites a disruption takes down.
- :func:`node_resilience`: per site, time-to-survive (days from the first disruption until the skus it
  fails to serve carry more than a tenth of its demand) and time-to-recover (days until all but a
  tenth of its demand is served again for good), after
  Simchi-Levi et al., "Identifying risks and mitigating disruptions in the automotive supply chain",
  Interfaces 45(5), 2015. Sites whose TTS < TTR are flagged; sites are ranked by a risk exposure index:
  impact over the largest impact, in [0, 1], where impact = revenue at risk and shortage cost at the
  site plus the value of what it owed downstream sites on an average day.
- :func:`stress_test_nodes`: the paper's own experiment: take each site down for its TTR and measure
  the network's lost revenue and time-to-survive; REI = impact / max impact.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from supplynet.errors import SimulationError
from supplynet.sim import _kernel as K
from supplynet.sim.engine import SimResult

__all__ = ["COST_COMPONENTS", "QUANTILES", "item_kpis", "network_kpis", "node_resilience", "site_kpis", "stress_test_nodes"]

QUANTILES = (0.05, 0.5, 0.95)
METRICS = ("fill_rate", "backorders", "lost_sales", "holding_cost", "ordering_cost", "transport_cost",
           "shortage_cost", "lost_sale_cost", "backorder_cost", "downtime_cost", "demand_loss",
           "demand_loss_cost", "total_cost", "revenue_at_risk", "demand")
#: the parts of ``total_cost`` (the network's cost model, :class:`supplynet.model.CostModel`), in report order
COST_COMPONENTS = ("holding_cost", "ordering_cost", "transport_cost", "lost_sale_cost", "backorder_cost",
                   "demand_loss_cost", "downtime_cost")


def _per_replication(res: SimResult, groups: np.ndarray, n_groups: int) -> dict[str, np.ndarray]:
    """Metric arrays [R, G] summed over the items of each group."""
    acc = res.acc
    R = acc.shape[0]

    def gsum(col: np.ndarray) -> np.ndarray:
        out = np.zeros((R, n_groups))
        for g in range(n_groups):
            out[:, g] = col[:, groups == g].sum(axis=1)
        return out

    days = max(res.days, 1)
    demand = gsum(acc[:, :, K.A_DEMAND])
    served = gsum(acc[:, :, K.A_SERVED_NOW])
    unmet_value = gsum(res.price[None, :] * np.maximum(acc[:, :, K.A_DEMAND] - acc[:, :, K.A_SHIPPED_EXT], 0.0))
    m = {
        "demand": demand,
        "fill_rate": np.where(demand > 0, served / np.where(demand > 0, demand, 1.0), np.nan),
        "backorders": gsum(acc[:, :, K.A_BACKLOG_DAYS]) / days,
        "lost_sales": gsum(acc[:, :, K.A_LOST]),
        "holding_cost": gsum(acc[:, :, K.A_HOLD] + acc[:, :, K.A_TRANSIT]),
        "ordering_cost": gsum(acc[:, :, K.A_ORDER]),
        "transport_cost": gsum(acc[:, :, K.A_TRANSPORT]),
        "shortage_cost": gsum(acc[:, :, K.A_SHORT]),
        "lost_sale_cost": gsum(acc[:, :, K.A_LOST_COST]),
        "backorder_cost": gsum(acc[:, :, K.A_BACKORDER_COST]),
        "downtime_cost": gsum(acc[:, :, K.A_DOWNTIME]),
        "demand_loss": gsum(acc[:, :, K.A_DEMAND_LOSS]),
        "demand_loss_cost": gsum(acc[:, :, K.A_DEMAND_LOSS_COST]),
        "revenue_at_risk": unmet_value,
    }
    m["total_cost"] = np.sum([m[c] for c in COST_COMPONENTS], axis=0)
    return m


def _tidy(res: SimResult, metrics: dict[str, np.ndarray], labels: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for name in METRICS:
        arr = metrics[name]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            q = np.nanquantile(arr, QUANTILES, axis=0) if np.isfinite(arr).any() else np.full((3, arr.shape[1]), np.nan)
            mean = np.nanmean(arr, axis=0) if np.isfinite(arr).any() else np.full(arr.shape[1], np.nan)
        for g, lab in enumerate(labels):
            if name == "fill_rate" and not np.isfinite(arr[:, g]).any():
                continue
            rows.append({"scenario": res.scenario, **lab, "metric": name, "p5": q[0, g], "p50": q[1, g],
                         "p95": q[2, g], "mean": mean[g]})
    return pd.DataFrame(rows)


def item_kpis(res: SimResult) -> pd.DataFrame:
    """One row per (site, sku, metric) with P5/P50/P95/mean over replications."""
    n = len(res.item_names)
    labels = [{"site": res.sites[res.item_site[i]], "sku": res.item_sku[i]} for i in range(n)]
    return _tidy(res, _per_replication(res, np.arange(n), n), labels)


def site_kpis(res: SimResult) -> pd.DataFrame:
    """One row per (site, metric)."""
    S = len(res.sites)
    labels = [{"site": s} for s in res.sites]
    df = _tidy(res, _per_replication(res, np.asarray(res.item_site), S), labels)
    present = set(np.asarray(res.item_site).tolist())
    return df[df["site"].isin([res.sites[s] for s in present])].reset_index(drop=True)


def network_kpis(res: SimResult) -> pd.DataFrame:
    """One row per metric for the whole network."""
    return _tidy(res, _per_replication(res, np.zeros(len(res.item_names), dtype=np.int64), 1), [{}])


def network_per_replication(res: SimResult) -> pd.DataFrame:
    """Network metrics per replication (for comparisons on common random numbers)."""
    m = _per_replication(res, np.zeros(len(res.item_names), dtype=np.int64), 1)
    return pd.DataFrame({"replication": res.replications, **{k: v[:, 0] for k, v in m.items()}})


def _crossing(times: np.ndarray, w: np.ndarray, level: np.ndarray, *, strict: bool) -> np.ndarray:
    """Per row: the first time (items sorted by ``times``) at which the cumulated weight passes ``level``
    (``>`` when ``strict``, else ``>=``); inf when it never does."""
    order = np.argsort(times, axis=1, kind="stable")
    t = np.take_along_axis(times, order, axis=1)
    cum = np.cumsum(np.take_along_axis(w, order, axis=1), axis=1)
    over = cum > level[:, None] + 1e-12 if strict else cum >= level[:, None] - 1e-12
    at = over.argmax(axis=1)
    found = over.any(axis=1)
    return np.where(found, t[np.arange(len(t)), at], np.inf)


def node_resilience(res: SimResult, *, short_share: float = 0.1) -> pd.DataFrame:
    """Per site: TTS and TTR (days, P50 and P95 over replications), flag TTS < TTR, risk exposure rank.

    A site is *short* once the skus it has failed to serve carry more than ``short_share`` of its demand
    (skus weighted by their customer demand in the replication; equally at a site without customer
    demand, e.g. a DC serving stores), so one slow sku out of stock does not make a store "short".
    Days are counted from the replication's first disruption (day 0 without disruptions):

    - TTS, time to survive: days until the site is short; censored at the end of the horizon when it
      never is. Skus already short before the first disruption and still short after it say nothing
      about surviving the disruption: they are left out (the others' demand is the whole), and when
      they carry more than ``short_share`` of the site's demand the site is flagged
      ``short_before_disruption`` (in most replications; ``share_short_before_disruption``: in how
      many) instead of reading "TTS 0". A site whose every sku was short before has no TTS (NaN).
    - TTR, time to recover: days until skus carrying all but ``short_share`` of the site's demand have
      had their last shortage (0 when the site is never short).

    A run without disruptions (the baseline) gets no ``risk_exposure_index`` (NaN): it is the
    reference, not a risk.
    """
    if not 0 <= short_share < 1:
        raise SimulationError(f"short_share must be in [0, 1), got {short_share}")
    R = res.acc.shape[0]
    t0 = res.ev_start.min(axis=1) if res.ev_start.shape[1] else np.zeros(R, dtype=np.int64)
    horizon = res.meta.get("horizon", res.days)
    m = _per_replication(res, np.asarray(res.item_site), len(res.sites))
    rows = []
    for s, site in enumerate(res.sites):
        items = np.nonzero(np.asarray(res.item_site) == s)[0]
        if not len(items):
            continue
        fs = res.first_short[:, items].astype(np.int64)
        ls = res.last_short[:, items].astype(np.int64)
        w = np.maximum(res.acc[:, items, K.A_DEMAND], 0.0)
        w = np.where(w.sum(axis=1, keepdims=True) > 0, w, 1.0)  # no customer demand: every sku counts alike
        W = w.sum(axis=1)
        start = t0[:, None]
        early = (fs >= 0) & (fs < start)                    # first short before the disruption
        chronic = early & (ls >= start)                     # ... and still short after it: TTS unknown
        before = (w * early).sum(axis=1) > short_share * W
        chronic_site = (w * chronic).sum(axis=1) > short_share * W
        wa = np.where(chronic, 0.0, w)
        Wa = wa.sum(axis=1)
        fail = np.where(fs >= start, fs - start, np.inf).astype(float)
        cross = _crossing(fail, wa, short_share * Wa, strict=True)
        tts = np.where(Wa > 0, np.where(np.isfinite(cross), cross, horizon - t0), np.nan)
        hit = np.isfinite(cross) | chronic_site
        rec = np.where(ls >= start, ls + 1 - start, 0).astype(float)
        ttr = np.where(hit, _crossing(rec, w, (1.0 - short_share) * W, strict=False), 0.0)
        rows.append({
            "site": site, "kind": res.site_kind[s], "scenario": res.scenario,
            "share_short": float(hit.mean()),
            "share_short_before_disruption": float(before.mean()),
            "short_before_disruption": bool(before.mean() > 0.5),
            "tts_p50": _nanq(tts, 0.5), "tts_p5": _nanq(tts, 0.05),
            "ttr_p50": float(np.median(ttr)), "ttr_p95": float(np.quantile(ttr, 0.95)),
            "revenue_at_risk_p50": float(np.median(m["revenue_at_risk"][:, s])),
            "revenue_at_risk_mean": float(m["revenue_at_risk"][:, s].mean()),
            "shortage_cost_mean": float(m["shortage_cost"][:, s].mean()),
            "unserved_days_mean": float(res.acc[:, items, K.A_SHORT_DAYS].sum(axis=1).mean()),
            "owed_value_mean": float((res.acc[:, items, K.A_OWED_DAYS] * res.price[items]).sum(axis=1).mean()
                                     / max(res.days, 1)),
        })
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    # runs dry before it recovers; a site already failing when the disruption hits (no TTS) is flagged too
    df["flag_tts_lt_ttr"] = (df["share_short"] > 0) & ((df["tts_p50"] < df["ttr_p50"])
                                                       | (df["tts_p50"].isna() & (df["ttr_p50"] > 0)))
    impact = df["revenue_at_risk_mean"] + df["shortage_cost_mean"] + df["owed_value_mean"]
    if not res.ev_start.shape[1]:  # a run without disruptions (the baseline) is no risk to rank
        df["risk_exposure_index"] = np.nan
        return df.sort_values(["ttr_p50", "site"], ascending=[False, True]).reset_index(drop=True)
    df["risk_exposure_index"] = impact / impact.max() if impact.max() > 0 else 0.0
    return df.sort_values(["risk_exposure_index", "ttr_p50"], ascending=False).reset_index(drop=True)


def _nanq(x: np.ndarray, q: float) -> float:
    x = x[np.isfinite(x)]
    return float(np.quantile(x, q)) if len(x) else float("nan")


def stress_test_nodes(net: Any, *, ttr_days: float | dict[str, float] = 14.0, horizon: int = 90,
                      replications: int = 50, seed: int = 0, start: int = 7,
                      kinds: tuple[str, ...] = ("supplier", "plant", "dc")) -> pd.DataFrame:
    """Simchi-Levi et al. (2015) node by node: each site of ``kinds`` is down from ``start`` for its
    TTR; impact = network revenue at risk plus shortage cost beyond the baseline's; TTS = days until the network's
    first customer shortage with the site down for the rest of the horizon. Common random numbers.
    """
    from supplynet.sim.disruptions import Disruption, Draw, Target
    from supplynet.sim.engine import Simulation
    from supplynet.sim.scenario import Scenario

    base = Simulation(net, horizon=horizon, replications=replications, seed=seed).run().result()
    b = network_per_replication(base)
    base_rar = (b["revenue_at_risk"] + b["shortage_cost"]).to_numpy()
    demand_items = net.dem_kind >= 0
    rows = []
    for s, site in enumerate(net.sites):
        if net.site_kind[s] not in kinds or not np.any(net.item_site == s):
            continue
        ttr = float(ttr_days.get(site, 14.0) if isinstance(ttr_days, dict) else ttr_days)
        out = []
        for dur in (ttr, float(horizon)):
            ev = Disruption("site_outage", Draw(value=float(start)), Draw(value=dur), 1.0, Target(site=(site,)))
            sim = Simulation(net, horizon=horizon, replications=replications, seed=seed,
                             scenario=Scenario(f"outage:{site}", (ev,)))
            out.append(sim.run().result())
        hit = network_per_replication(out[0])
        impact = (hit["revenue_at_risk"] + hit["shortage_cost"]).to_numpy() - base_rar
        fs = out[1].first_short[:, demand_items]
        fs = np.where(fs >= start, fs, np.iinfo(np.int64).max).min(axis=1)
        tts = np.where(fs < np.iinfo(np.int64).max, fs - start, horizon - start).astype(float)
        rows.append({"site": site, "kind": net.site_kind[s], "ttr_days": ttr, "tts_p50": float(np.median(tts)),
                     "tts_p5": float(np.quantile(tts, 0.05)), "impact_mean": float(impact.mean()),
                     "impact_p95": float(np.quantile(impact, 0.95))})
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df["flag_tts_lt_ttr"] = df["tts_p50"] < df["ttr_days"]
    mx = df["impact_mean"].clip(lower=0).max()
    df["risk_exposure_index"] = df["impact_mean"].clip(lower=0) / mx if mx > 0 else 0.0
    return df.sort_values("risk_exposure_index", ascending=False).reset_index(drop=True)

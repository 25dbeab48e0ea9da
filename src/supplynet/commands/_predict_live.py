"""``supplynet simulate --from-live --horizon D``: the next days' KPIs predicted from a store's live state.

The store remembers its network (:mod:`supplynet.commands._netstore`). Its log is read once, as the
brain reads it: every event is folded into the twin and fed to a replenisher built as the live loop
builds it (the demand sensor and the lead-time learner see the same events), so the policies, demand
estimates and lead times are the ones the loop would use now; with 14 or more days of store sales the
forecaster is refitted as the loop's daily refit does. :func:`supplynet.sim.run_scenarios` (``predict=True``,
:func:`supplynet.sim.forecast_live.predict_from_live`) then runs the network forward from the twin under
those policies.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from supplynet.errors import ConfigError, SimulationError

__all__ = ["predict_store", "summary_rows"]

#: the KPIs of the summary table, with their unit
_ROWS = (("store_fill_rate", "store fill rate", "%"), ("lost_sales_units", "lost sales (units)", "n"),
         ("lost_sales_value", "lost sales (value)", "$"), ("inventory_plant", "inventory at plants (units)", "n"),
         ("inventory_dc", "inventory at DCs (units)", "n"), ("inventory_store", "inventory at stores (units)", "n"),
         ("total_cost", "total cost", "$"))


def predict_store(store_url: str | None, network_path: Path | None, *, horizon: int, replications: int, seed: int,
                  at: datetime | None = None) -> dict[str, Any]:
    """The prediction (see :func:`~supplynet.sim.forecast_live.predict_from_live`) for the store at
    ``store_url``; ``network_path``: a network file that must match the store's (None: the store's)."""
    from supplynet.decide.replenish import Replenisher
    from supplynet.sim import run_scenarios
    from supplynet.store import open_store
    from supplynet.twin import Twin

    from ._netstore import store_network

    with open_store(store_url, readonly=True) as st:
        try:
            net = store_network(st, network_path, record=False)
        except ConfigError as exc:
            raise SimulationError(f"--from-live: {exc}") from exc
        assert net is not None
        twin = Twin(net)
        rep = Replenisher(net)
        until = at + timedelta(microseconds=1) if at is not None else None
        for rec in st.log.read(until=until, order="offset"):
            twin.apply(rec.event, rec.offset)
            rep.observe(rec.event, twin)
    if twin.state.events_applied == 0:
        raise SimulationError(f"--from-live: the store has no events{' up to ' + at.isoformat() if at else ''}; "
                              "nothing to predict from")
    _refit(rep, net, twin)
    for key in rep.policies:  # the loop re-sizes a policy when its SKU-site is touched: all of them were
        rep.resize(key)
    report = run_scenarios(net, twin=twin, predict=True, policies=rep, replications=replications, horizon=horizon,
                           seed=seed, at=at)
    assert report.prediction is not None
    return report.prediction


def _refit(rep: Any, net: Any, twin: Any) -> None:
    """The loop's daily forecaster refit (stores' series, 14 closed days at least), once, now."""
    sensor = getattr(rep, "sensor", None)
    if sensor is None:
        return
    from supplynet.sense.demand.demand_live import forecast_estimates

    stores = {s.id for s in net.sites if s.kind == "store"}
    hist = sensor.history([k for k in sensor.daily if k[0] in stores])
    if hist.empty or int(hist["unique_id"].value_counts().max()) < 14:
        return
    try:
        est = forecast_estimates(hist, 7, model="snaive_smooth", min_history=14, level=80.0,
                                 now=twin.state.last_event_at)
    except Exception:  # noqa: BLE001 - as in the loop: the online estimates go on serving
        return
    sensor.install(est, 7)


def _fmt(value: float, unit: str, currency: str | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    if unit == "%":
        return f"{value:.1%}"
    if unit == "$":
        return f"{value:,.0f}" + (f" {currency}" if currency else "")
    return f"{value:,.0f}"


def summary_rows(doc: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(KPI, P10, P50, P90) rows of a prediction, formatted for a table."""
    cur = doc.get("meta", {}).get("currency")
    return [(label, _fmt(doc[key]["p10"], unit, cur), _fmt(doc[key]["p50"], unit, cur), _fmt(doc[key]["p90"], unit, cur))
            for key, label, unit in _ROWS if key in doc]

"""One way into the simulator: :func:`run_scenarios` runs scenarios on a network or from the live
state and returns a :class:`Report`; the CLI (``supplynet simulate``), the API's scenario runs and the
demo's stress test all go through it.

    >>> from supplynet.sim import SimNetwork, run_scenarios
    >>> net = SimNetwork.build(items=[("dc", "a")], lead_time=2, demand_mean=5.0)
    >>> report = run_scenarios(net, replications=8, horizon=30, seed=1)
    >>> report.scenarios
    ['baseline']
    >>> report.network_kpis()["metric"].iloc[0]
    'fill_rate'

The start is a network (a :class:`supplynet.model.Network` or a :class:`SimNetwork`), a network and
the live ``twin`` it runs on, or a :class:`supplynet.sim.live.LiveStart` already mapped from a twin.
From a network the runs are the undisturbed ``"baseline"`` (unless ``baseline=False``) and each
scenario given. From the live state they are the live state undisturbed (``"baseline"``) and each
scenario (default: the whole library), with the machines down or at risk added to every run, and
the report ranks the sites by risk exposure over them (:meth:`Report.ranked_sites`, after
Simchi-Levi et al. 2015). Every run uses the same seed: common random numbers.

Two more modes ride on the same call, so the CLI, the API and the demo have one way in:

- ``compare={name: policy or function of the network, ...}`` also runs each policy variant on common
  random numbers under the first scenario given (none: undisturbed) and puts the paired differences
  against the first variant in :attr:`Report.comparison` (:func:`supplynet.sim.compare.compare_policies`);
- ``predict=True`` with a model ``Network`` and its ``twin`` runs no scenario: it predicts the live
  world's next ``horizon`` days under the live ``policies`` (the replenisher the loop runs, a mapping
  ``{(site, sku): policy}``, or None for the network's specs) and puts the P10/P50/P90 KPIs in
  :attr:`Report.prediction` (:func:`supplynet.sim.forecast_live.predict_from_live`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from supplynet.errors import SimulationError
from supplynet.sim import kpi
from supplynet.sim.arrays import D_BACKLOG, D_DEMAND, D_SERVED_NOW
from supplynet.sim.engine import SimResult
from supplynet.sim.live import LiveStart, initial_state_from_twin, rank_sites
from supplynet.sim.network import SimNetwork
from supplynet.sim.scenario import ScenarioLike, library, load_scenario

__all__ = ["Report", "run_scenarios"]

#: a scenario by library name or YAML path, or a scenario object
ScenarioSpec = str | Path | ScenarioLike


@dataclass
class Report:
    """What :func:`run_scenarios` ran: one :class:`SimResult` per run (``"baseline"`` first), the
    simulated network, the live start (when the runs started from the twin) and the options."""

    results: dict[str, SimResult]
    network: SimNetwork
    live: LiveStart | None = None
    options: dict[str, Any] = field(default_factory=dict)
    #: with ``compare=``: per (variant, metric) the mean paired difference against the first variant
    comparison: pd.DataFrame | None = None
    #: with ``compare=``: the network metrics per (variant, replication)
    per_replication: pd.DataFrame | None = None
    #: with ``predict=True``: the live world's predicted KPIs (``{kpi: {"p10", "p50", "p90", "mean"}, ...}``)
    prediction: dict[str, Any] | None = None

    @property
    def scenarios(self) -> list[str]:
        """The runs' names, in the order they ran."""
        return list(self.results)

    @property
    def currency(self) -> str:
        """The currency of every cost in the report ("" when the network names none)."""
        return self.network.currency

    def __getitem__(self, name: str) -> SimResult:
        return self.results[name]

    def network_kpis(self) -> pd.DataFrame:
        """Network KPIs of every run (``scenario, metric, p5, p50, p95, mean``)."""
        return pd.concat([kpi.network_kpis(r) for r in self.results.values()], ignore_index=True)

    def site_kpis(self) -> pd.DataFrame:
        """KPIs per site of every run (``scenario, site, metric, p5, p50, p95, mean``)."""
        frame = pd.concat([kpi.site_kpis(r) for r in self.results.values()], ignore_index=True)
        frame.attrs["warnings"] = self.warnings
        return frame

    def resilience(self, name: str) -> pd.DataFrame:
        """Time-to-survive and time-to-recover per site in run ``name``."""
        return kpi.node_resilience(self.results[name])

    def ranked_sites(self) -> pd.DataFrame:
        """One row per site, highest risk exposure over the scenarios first (see
        :func:`supplynet.sim.live.rank_sites`); needs the baseline run."""
        ranking = rank_sites(self.results)
        ranking.attrs["warnings"] = self.warnings
        if self.live is not None:
            ranking.attrs["at"] = self.live.at.isoformat()
        return ranking

    def cost_breakdown(self) -> pd.DataFrame:
        """Mean cost per component (rows) and run (columns), in :attr:`currency`."""
        from supplynet.sim.report import cost_breakdown

        return cost_breakdown(self.results)

    def daily_fill_rate(self, name: str) -> np.ndarray:
        """Fill rate per replication and day of run ``name`` (NaN on a day without demand)."""
        d = self.results[name].daily
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(d[:, :, D_DEMAND] > 0, d[:, :, D_SERVED_NOW] / d[:, :, D_DEMAND], np.nan)

    def daily_backlog(self, name: str) -> np.ndarray:
        """Units backordered per replication at the end of each day of run ``name``."""
        return self.results[name].daily[:, :, D_BACKLOG].astype(float)

    @property
    def warnings(self) -> list[str]:
        """What the live start could not map (empty from a network)."""
        return list(self.live.warnings) if self.live is not None else []

    def write(
        self,
        out_dir: str | Path,
        *,
        meta: dict[str, Any] | None = None,
        comparison: pd.DataFrame | None = None,
    ) -> dict[str, Any]:
        """Write report.json, report.html and the plots to ``out_dir``; returns the JSON summary.
        ``comparison``: default the report's own (``compare=``)."""
        from supplynet.sim.report import write_report

        if comparison is None:
            comparison = self.comparison
        return write_report(out_dir, self.results, meta=meta, comparison=comparison)


def run_scenarios(
    start: Any,
    scenarios: Sequence[ScenarioSpec] | ScenarioSpec | None = None,
    *,
    replications: int = 200,
    horizon: int = 180,
    seed: int = 0,
    baseline: bool = True,
    twin: Any = None,
    at: datetime | None = None,
    forecast: pd.DataFrame | None = None,
    executor: str = "local",
    scheduler: Any = None,
    chunk_size: int | None = None,
    progress: Callable[[int], None] | None = None,
    compare: Mapping[str, Any] | None = None,
    predict: bool = False,
    policies: Any = None,
) -> Report:
    """Run ``scenarios`` from ``start`` (see the module docstring) and return the :class:`Report`.

    ``start``: a model ``Network``, a :class:`SimNetwork` or a :class:`LiveStart`; with ``twin`` (a
    ``Twin`` or ``TwinState``) a network starts from the twin's state as of ``at``. ``scenarios``:
    library names, YAML paths or scenario objects (any :class:`ScenarioLike`); ``None`` is none from a
    network and the whole library from the live state. ``forecast``: a long-format forecast frame fed
    to demand (:mod:`supplynet.sim.demand`). ``executor``, ``scheduler``, ``chunk_size``: how the
    replications run (:func:`supplynet.sim.runners.run_replications`); ``progress(n)`` is told of
    every ``n`` replications finished. ``compare``, ``predict`` and ``policies``: the two more modes
    of the module docstring.
    """
    from supplynet.sim.runners import run_replications

    if predict:
        return _predict(start, scenarios, twin=twin, at=at, forecast=forecast, compare=compare, policies=policies,
                        replications=replications, horizon=horizon, seed=seed)
    if policies is not None:
        raise SimulationError("policies= are the live policies of predict=True; to compare policies give compare=")
    if isinstance(start, LiveStart):
        if twin is not None or forecast is not None:
            raise SimulationError(
                "a LiveStart is already mapped from a twin: give no twin nor forecast with it"
            )
        live: LiveStart | None = start
    else:
        net = _as_sim_network(start)
        if forecast is not None:
            from supplynet.sim.demand import demand_from_forecast

            net = demand_from_forecast(net, forecast)
        live = initial_state_from_twin(net, twin, at=at) if twin is not None else None
    if live is not None:
        net = live.network
        chosen = _scenarios(library() if scenarios is None else scenarios)
        todo = _live_runs(live, chosen, int(horizon))
    else:
        chosen = _scenarios([] if scenarios is None else scenarios)
        todo = [("baseline", None, None)] if baseline or not chosen else []
        todo += [(name, sc, None) for name, sc in chosen.items()]
    results: dict[str, SimResult] = {}
    for name, sc, rows in todo:
        res = run_replications(
            net,
            replications=replications,
            horizon=horizon,
            seed=seed,
            scenario=sc,
            executor=executor,
            scheduler=scheduler,
            chunk_size=chunk_size,
            progress=progress,
        )
        res.scenario = name
        if rows is not None:  # the scenario's own events, not the machines' health events added to it
            res.ev_start = res.ev_start[:, :rows]
            res.ev_end = res.ev_end[:, :rows]
        results[name] = res
    options = {
        "replications": int(replications),
        "horizon": int(horizon),
        "seed": int(seed),
        "executor": executor,
    }
    report = Report(results=results, network=net, live=live, options=options)
    if compare is not None:
        from supplynet.sim.compare import compare_policies

        first = next(iter(chosen.values()), None)  # as given: without the live machines' health events
        report.per_replication, report.comparison = compare_policies(
            net, compare, replications=replications, horizon=horizon, seed=seed, scenario=first, executor=executor,
            scheduler=scheduler, progress=progress)
        report.options["compare"] = list(compare)
    return report


def _predict(start: Any, scenarios: Any, *, twin: Any, at: datetime | None, forecast: Any, compare: Any,
             policies: Any, replications: int, horizon: int, seed: int) -> Report:
    """``predict=True``: the live world's next ``horizon`` days (see the module docstring)."""
    from supplynet.sim.forecast_live import predict_from_live

    if scenarios is not None or compare is not None or forecast is not None:
        raise SimulationError("predict=True runs no scenario: give no scenarios, compare nor forecast with it")
    if twin is None:
        raise SimulationError("predict=True needs the live twin (twin=) the network runs on")
    doc = predict_from_live(start, twin, horizon_days=horizon, replications=replications, seed=seed,
                            policies=policies, at=at)
    options = {"replications": int(replications), "horizon": int(horizon), "seed": int(seed), "predict": True}
    return Report(results={}, network=SimNetwork.from_network(start), options=options, prediction=doc)


def _as_sim_network(network: Any) -> SimNetwork:
    if isinstance(network, SimNetwork):
        return network
    if hasattr(network, "sites") and hasattr(network, "demand"):
        return SimNetwork.from_network(network)
    raise SimulationError(
        "the start must be a supplynet.model.Network, a SimNetwork or a LiveStart, "
        f"got {type(network).__name__}"
    )


def _scenarios(given: Sequence[ScenarioSpec] | Mapping[str, str] | ScenarioSpec) -> dict[str, ScenarioLike]:
    """Scenario objects by name (a later one of the same name replaces an earlier one)."""
    if isinstance(given, (str, Path)) or isinstance(given, ScenarioLike):
        given = [given]
    out: dict[str, ScenarioLike] = {}
    for s in given:
        sc = s if isinstance(s, ScenarioLike) else load_scenario(s)
        out[sc.name] = sc
    return out


def _live_runs(
    live: LiveStart, scenarios: Mapping[str, ScenarioLike], horizon: int
) -> list[tuple[str, ScenarioLike | None, int | None]]:
    """The live state undisturbed and under each scenario, the health disruptions added to all:
    ``(name, scenario, rows)``, ``rows`` the scenario's own event rows. TTS and TTR count from the
    first of them (day 0 for the baseline), not from the health events."""
    todo: list[tuple[str, ScenarioLike | None, int | None]] = [("baseline", live.scenario(None), 0)]
    for name, given in scenarios.items():
        rows = len(given.compile(live.network, np.zeros(1, np.uint64), horizon).kind)
        todo.append((name, live.scenario(given), rows))
    return todo

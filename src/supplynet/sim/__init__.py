"""Sim: the vectorized Monte Carlo engine, disruptions, scenarios and KPIs, run locally or on Dask;
what-ifs started from a network or from the live twin.

Every public name of the package's modules is here (imported on first use)::

    >>> from supplynet import sim
    >>> sim.SimNetwork is sim.network.SimNetwork
    True
"""

from __future__ import annotations

from .._lazy import lazy_exports

#: the public names of each public module (its ``__all__``)
_BY_MODULE: dict[str, tuple[str, ...]] = {
    "compare": ("compare_policies", "paired_differences"),
    "demand": ("demand_from_forecast", "forecast_to_daily"),
    "disruptions": ("KINDS", "Disruption", "Draw", "Target"),
    "engine": ("SimResult", "Simulation", "replication_keys"),
    "kpi": ("COST_COMPONENTS", "QUANTILES", "item_kpis", "network_kpis", "node_resilience", "site_kpis", "stress_test_nodes"),
    "forecast_live": ("DEFAULT_TIMING_SHIFT", "KPIS", "predict_from_live", "quantiles"),
    "live": ("LiveStart", "initial_state_from_twin", "rank_sites", "run_live_scenarios",
        "stress_test_from_twin"),
    "network": ("DEMAND_KINDS", "LEAD_KINDS", "SimNetwork"),
    "report": ("build_tables", "cost_breakdown", "render_table", "scenario_summary", "service_panels",
               "summary_table", "write_report"),
    "runners": ("EXECUTORS", "run_chunk", "run_replications"),
    "scenario": ("EventArrays", "Scenario", "library", "load_scenario", "parse_scenario"),
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _BY_MODULE)

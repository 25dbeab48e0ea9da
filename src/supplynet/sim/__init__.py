"""Sim: the vectorized Monte Carlo engine, disruptions, scenarios and KPIs, run locally or on Dask;
what-ifs started from a network or from the live twin, all through :func:`run_scenarios`.

Every public name of the package's modules is here (imported on first use)::

    >>> from supplynet import sim
    >>> sim.SimNetwork is sim.network.SimNetwork
    True
"""

from __future__ import annotations

from .._lazy import lazy_exports

#: the public names of each public module (its ``__all__``)
_BY_MODULE: dict[str, tuple[str, ...]] = {
    "arrays": ("A_BACKLOG_DAYS", "A_BACKORDER_COST", "A_DEMAND", "A_DEMAND_LOSS", "A_DEMAND_LOSS_COST", "A_DOWNTIME",
               "A_HOLD", "A_LOST", "A_LOST_COST", "A_NORDERS", "A_ONHAND_DAYS", "A_ORDER", "A_OWED_DAYS", "A_REVENUE",
               "A_SERVED_NOW", "A_SHIPPED_EXT", "A_SHORT", "A_SHORT_DAYS", "A_TRANSIT", "A_TRANSPORT", "CAPACITY_LOSS",
               "DEMAND_SHIFT", "DEMAND_SPIKE", "D_BACKLOG", "D_COST", "D_DEMAND", "D_LOST", "D_ON_HAND", "D_SERVED_NOW",
               "GUIDE", "KernelEvents", "KernelNetwork", "KernelParams", "KernelState", "LANE_CLOSURE",
               "LEAD_TIME_SHOCK", "N_ACC", "N_DAILY", "OUTAGE", "SUPPLIER_FAILURE", "as_kernel"),
    "compare": ("compare_policies", "paired_differences"),
    "demand": ("demand_from_forecast", "forecast_to_daily"),
    "disruptions": ("KINDS", "Disruption", "Draw", "Target"),
    "engine": ("SimResult", "Simulation", "replication_keys"),
    "kpi": ("COST_COMPONENTS", "QUANTILES", "item_kpis", "network_kpis", "node_resilience", "site_kpis", "stress_test_nodes"),
    "forecast_live": ("DEFAULT_TIMING_SHIFT", "FIDELITY_KPIS", "KPIS", "MachineRisk", "fidelity", "live_machines",
                      "live_refit", "observe_twin", "predict_from_live", "quantiles", "realized_between"),
    "live": ("LiveStart", "initial_state_from_twin", "rank_sites"),
    "network": ("DEMAND_KINDS", "LEAD_KINDS", "SimNetwork"),
    "report": ("build_tables", "cost_breakdown", "days_cell", "render_table", "scenario_summary", "service_panels",
               "summary_table", "write_report"),
    "runners": ("EXECUTORS", "run_chunk", "run_replications"),
    "run": ("Report", "run_scenarios"),
    "scenario": ("EventArrays", "Scenario", "ScenarioLike", "library", "load_scenario", "parse_scenario"),
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _BY_MODULE)

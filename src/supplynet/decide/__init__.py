"""Decide: replenish, maintain, reroute and rebalance; the autonomy policy (levels, guardrails,
approvals); decisions recorded with their outbox rows; the dispatcher and its sinks.

Every public name of the package's modules is here (imported on first use)::

    >>> from supplynet import decide
    >>> decide.AutonomyPolicy is decide.autonomy.AutonomyPolicy
    True
"""

from __future__ import annotations

from .._lazy import lazy_exports

#: the public names of each public module (its ``__all__``)
_BY_MODULE: dict[str, tuple[str, ...]] = {
    "autonomy": ("KINDS", "AutonomyPolicy", "Guardrails", "KindPolicy", "QuietHours", "Verdict",
        "evaluate", "load_policy", "loosened", "parse_policy"),
    "coldchain_watch": ("COLDCHAIN_SOURCE", "ColdChainWatch"),
    "groups": ("BULK_ACTIONS", "MAX_BULK", "bulk", "decision_site", "group_key", "parse_group_key"),
    "decision": ("DECIDE_SOURCE", "Approval", "Decision", "DecisionNotFound", "OrderAction", "Option",
        "QualityAction", "RerouteAction", "Submitted", "WorkOrderAction", "approve", "decision_from_row",
        "execute", "from_order_proposal", "get", "reject", "submit", "submit_many", "approve_many"),
    "forecast_refit": ("DemandRefit",),
    "geo_watch": ("GEO_SOURCE", "GeoWatch"),
    "impact": ("Impact", "ItemImpact", "Node", "StarvedRun", "affected_items", "assess_impact", "downstream_days",
        "project"),
    "machines": ("MachineWatch", "SENSE_SOURCE"),
    "maintain": ("MaintenancePolicy", "MaintenanceState", "RulForecast", "WorkOrder", "close", "decide",
        "significant", "wilson_lower"),
    "outbox": ("ALERT_SOURCE", "Dispatcher", "backoff_s", "sink_secret"),
    "people": ("person_verdict", "subjects", "window_days"),
    "plan": ("POLICY_PARAMS", "ItemNetwork", "plan_gsm", "plan_inventory", "stage_problem_from_network",
        "stocking_points"),
    "plan_apply": ("apply_plan", "policies_from_plan"),
    "rebalance": ("RebalanceOption", "Rebalancer", "haversine_km"),
    "record": ("ACTIONS", "Outbox", "Recorded", "action_name", "alert_body", "decision_body", "dedupe_key",
        "subject_of"),
    "replenish": ("OrderProposal", "ProductionLine", "Replenisher", "downstream_demand", "fill_rate_factor",
        "newsvendor_ratio", "production_lines", "size_levels", "size_policy", "touched_keys"),
    "reroute": ("OBJECTIVES", "REGULAR_CYCLE_DAYS", "Alternative", "CostedOption", "ExpediteMode", "Response",
        "alternatives", "choose", "cost_alternatives", "plan_response", "regular_deliveries"),
    "sinks": ("SinkSpec", "SinksConfig", "load_sinks", "parse_sinks"),
    "watch": ("ETA_SOURCE", "MINIMAL_POLICY", "ShipmentWatch", "WatchStats"),
    "whatif": ("Simulate", "WhatIfNetwork", "WhatIfOutcome", "WhatIfStart"),
}
#: names two modules share, or equal to their module's name, published under a name of their own
_ALIASES = {"SINK_KINDS": ("sinks", "KINDS"), "record_decisions": ("record", "record"),
            "decision_groups": ("groups", "groups")}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _BY_MODULE, _ALIASES)

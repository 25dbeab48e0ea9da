"""Sense: what the readings mean, one subpackage per family.

- :mod:`~supplynet.sense.demand`: demand forecasts (batch, conformal intervals) and live demand;
- :mod:`~supplynet.sense.eta`: GPS trips, route geometry, ETA models, their backtest and delays;
- :mod:`~supplynet.sense.health`: equipment health (features, anomaly, onset) and remaining useful life;
- :mod:`~supplynet.sense.leadtime`: lead-time distributions, late-delivery risk, live lead times;
- two modules of their own: :mod:`~supplynet.sense.coldchain` (the goods' temperature exposure in
  transit: neither when a shipment arrives nor how a machine wears) and
  :mod:`~supplynet.sense.shrinkage` (stock counts against the book: inventory record accuracy,
  not demand).

The public data sets the models learn from are loaded by :mod:`supplynet.datasets`.

Every public name of the package's modules is here (imported on first use)::

    >>> from supplynet import sense
    >>> sense.haversine_m is sense.eta.geo.haversine_m
    True
"""

from __future__ import annotations

from .._lazy import lazy_exports

#: the public names of each public module (its ``__all__``)
_BY_MODULE: dict[str, tuple[str, ...]] = {
    "coldchain": ("ACTIVATION_ENERGY_J_MOL", "GAS_CONSTANT_J_MOL_K", "ColdChainAssessment", "Excursion",
        "ProductTolerance", "assess_load", "find_excursions", "mean_kinetic_temperature_c"),
    "demand.demand_live": ("DemandEstimate", "DemandSensor", "forecast_estimates", "protection_demand"),
    "demand.forecast": ("MODELS", "Forecaster", "forecast_metrics"),
    "demand.forecast_run": ("parse_levels", "read_frame", "run_forecast", "sales_history", "to_nixtla"),
    "eta.delay": ("ArrivalForecast", "DelayDeclared", "DelayDetector", "DelayPolicy", "LaneEta",
        "SegmentEtaModel", "fit_lane_eta_model", "lane_route", "split_normal_sf"),
    "eta.eta": ("EtaForecast", "EtaModel", "LaneGeometry", "MatchedTrip", "TripStatus", "classify_trips",
        "learn_route", "match_trip", "weighted_quantiles"),
    "eta.eta_backtest": ("BacktestResult", "backtest_seeds"),
    "eta.eta_lane": ("CONTEXTS", "LaneEtaModel", "contexts", "declared_sea", "lane_backtest", "load_eta_models",
        "repeated_route"),
    "eta.eta_tod": ("BANDWIDTHS_S", "ETA_MODELS", "LOADING_SLOPES", "TodEtaModel", "eta_model_class"),
    "eta.geo": ("EARTH_RADIUS_M", "Dwell", "Geofence", "GeofenceEvent", "Projection", "Route", "Deviation",
        "detect_deviations", "detect_dwells", "geofence_events", "haversine_m", "path_length_m",
        "speeds_mps"),
    "eta.trips": ("Trip", "generate_trips", "load_gpx", "load_trips", "load_trips_csv"),
    "health.features": ("BearingGeometry", "ConditionNormalizer", "OperatingConditions", "WindowFeatures",
        "WindowSpec", "snapshot_features", "waveform_features", "window_feature_names", "window_features"),
    "health.health": ("Cusum", "HealthModel", "HealthMonitor", "HealthState", "Onset", "detect_onset"),
    "health.onset_log": ("ChannelOnset", "channel_onsets", "plot_onsets", "windows"),
    "health.rul": ("RulDistribution", "RulModel", "RulTracker", "evaluate_last_cycle", "phm08_score",
        "rul_targets"),
    "health.runlog": ("RunLog", "read_any", "read_run_log", "read_truth"),
    "leadtime.leadtime": ("LateDeliveryClassifier", "LeadTimeStats", "evaluate_late_delivery", "lead_time_table",
        "leadtime_report", "time_split"),
    "leadtime.leadtimes_live": ("LeadTimeEstimate", "LeadTimeLearner"),
    "shrinkage": ("ShrinkageFinding", "ShrinkageMonitor", "reconcile"),
}
#: names two modules share, or equal to their module's name, published under a name of their own
_ALIASES = {"eta_backtest": ("eta.eta_backtest", "backtest"), "forecast_backtest": ("demand.forecast", "backtest")}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _BY_MODULE, _ALIASES)

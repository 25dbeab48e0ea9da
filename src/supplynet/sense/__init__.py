"""Sense: what the readings mean. Demand forecasts, ETA and delays, equipment health, onset and
remaining useful life, lead times, cold-chain exposure, and the public data loaders they learn from.

Every public name of the package's modules is here (imported on first use)::

    >>> from supplynet import sense
    >>> sense.haversine_m is sense.geo.haversine_m
    True
"""

from __future__ import annotations

from .._lazy import lazy_exports

#: the public names of each public module (its ``__all__``)
_BY_MODULE: dict[str, tuple[str, ...]] = {
    "cmapss": ("CMAPSS_COLUMNS", "SENSOR_COLUMNS", "SETTING_COLUMNS", "CmapssSubset",
        "generate_wear_fleet", "load_cmapss", "read_table", "truncate_units", "write_cmapss_folder"),
    "coldchain": ("ACTIVATION_ENERGY_J_MOL", "GAS_CONSTANT_J_MOL_K", "ColdChainAssessment", "Excursion",
        "ProductTolerance", "assess_load", "find_excursions", "mean_kinetic_temperature_c"),
    "delay": ("ArrivalForecast", "DelayDeclared", "DelayDetector", "DelayPolicy", "LaneEta",
        "SegmentEtaModel", "fit_lane_eta_model", "lane_route", "split_normal_sf"),
    "demand_live": ("DemandEstimate", "DemandSensor", "forecast_estimates", "protection_demand"),
    "eta": ("BacktestResult", "EtaForecast", "EtaModel", "LaneGeometry", "MatchedTrip", "TripStatus",
        "backtest_seeds", "classify_trips", "learn_route", "match_trip", "weighted_quantiles"),
    "eta_lane": ("CONTEXTS", "LaneEtaModel", "contexts", "declared_sea", "lane_backtest", "load_eta_models", "repeated_route"),
    "eta_tod": ("BANDWIDTHS_S", "ETA_MODELS", "LOADING_SLOPES", "TodEtaModel", "eta_model_class"),
    "features": ("BearingGeometry", "ConditionNormalizer", "OperatingConditions", "WindowFeatures",
        "WindowSpec", "waveform_features", "window_feature_names", "window_features"),
    "femto": ("FEMTO_FS_HZ", "PRONOSTIA_BEARING", "FemtoRun", "load_femto_run", "snapshot_features"),
    "forecast": ("MODELS", "Forecaster", "forecast_metrics"),
    "forecast_run": ("parse_levels", "read_frame", "run_forecast", "sales_history", "to_nixtla"),
    "geo": ("EARTH_RADIUS_M", "Dwell", "Geofence", "GeofenceEvent", "Projection", "Route", "Deviation",
        "detect_deviations", "detect_dwells", "geofence_events", "haversine_m", "path_length_m",
        "speeds_mps"),
    "health": ("Cusum", "HealthModel", "HealthMonitor", "HealthState", "Onset", "detect_onset"),
    "leadtime": ("CellIssue", "DataQualityReport", "LateDeliveryClassifier", "LeadTimeStats",
        "evaluate_late_delivery", "lead_time_table", "leadtime_report", "load_scms", "time_split"),
    "leadtimes_live": ("LeadTimeEstimate", "LeadTimeLearner"),
    "onset_log": ("ChannelOnset", "channel_onsets", "plot_onsets", "windows"),
    "rul": ("RulDistribution", "RulModel", "RulTracker", "evaluate_last_cycle", "phm08_score",
        "rul_targets"),
    "runlog": ("RunLog", "read_any", "read_run_log", "read_truth"),
    "shrinkage": ("ShrinkageFinding", "ShrinkageMonitor", "reconcile"),
    "trips": ("Trip", "generate_trips", "load_gpx", "load_trips", "load_trips_csv"),
    "walmart": ("EXOG_COLUMNS", "HOLIDAY_WEIGHT", "find_walmart_dir", "load_walmart"),
}
#: names two modules share, or equal to their module's name, published under a name of their own
_ALIASES = {"eta_backtest": ("eta", "backtest"), "forecast_backtest": ("forecast", "backtest")}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _BY_MODULE, _ALIASES)

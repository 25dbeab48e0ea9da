"""Demand: forecasts from sales history and the demand sensed live.

- :mod:`.forecast`: the :class:`~supplynet.sense.demand.forecast.Forecaster` (statsforecast and
  mlforecast models, ensembles, conformal intervals) and its backtest; the private ``_forecast_*``
  modules hold its data checks, model kernels and conformal quantiles;
- :mod:`.forecast_run`: the batch run the CLI and the API call (a sales file or the store's log);
- :mod:`.demand_live`: per site and product, the daily demand the replenishment decisions size from.

The public names are published by :mod:`supplynet.sense`.
"""

"""Forecasts out: ``POST /v1/forecasts`` forecasts the log's sales of the network's SKU-sites."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from ...errors import DataError
from ..deps import Planner, StateDep

router = APIRouter(tags=["forecasts"])


class ForecastCreate(BaseModel):
    """What to forecast: ``horizon`` periods of ``freq`` with central intervals at ``levels``."""

    model_config = ConfigDict(extra="forbid")
    horizon: int = Field(ge=1, le=520, description="periods past each series' end")
    freq: str = Field("W", max_length=8, description="W, D, H, M, Q")
    levels: list[float] = Field(default_factory=lambda: [80.0, 95.0], min_length=1, max_length=8)
    model: str = Field("default", max_length=32, description="default routes intermittent series to Croston-type "
                                                             "models")
    season_length: int | None = Field(None, ge=1, le=1000)
    network_only: bool = Field(True, description="only the loaded network's SKU-sites with demand")


class ForecastRows(BaseModel):
    series: int
    rows: int
    horizon: int
    freq: str
    levels: list[float]
    model: str
    intermittent_series: int
    intermittent_routed: bool
    seconds: float
    columns: list[str] = Field(description="unique_id (site/sku), ds, mean, lo-L, hi-L ... (Nixtla long format)")
    forecasts: list[dict[str, Any]]


@router.post("/v1/forecasts", response_model=ForecastRows,
             summary="Forecast the sales in the log per site/sku, with intervals (planner)")
def create_forecasts(state: StateDep, _: Planner, body: ForecastCreate) -> ForecastRows:
    """Sales events (``quantity + unfilled`` per period) of the network's SKU-sites, forecast by the
    same model as ``supplynet forecast run``; runs in the request (a few seconds for a network)."""
    from ...sense.demand.forecast_run import run_forecast, sales_history

    net = state.network if body.network_only else None
    if body.network_only and net is None:
        raise DataError("no network is loaded in the service; send network_only: false to forecast every series")
    history = sales_history(state.store, body.freq, net)
    frame, info = run_forecast(history, body.horizon, freq=body.freq, levels=body.levels, model=body.model,
                               season_length=body.season_length)
    frame["ds"] = frame["ds"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    return ForecastRows(**info, columns=list(frame.columns), forecasts=frame.to_dict("records"))

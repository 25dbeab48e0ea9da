"""The demand forecaster on a schedule, off the decision path.

:class:`DemandRefit` is a watcher of the live loop. Every ``every`` of event time it takes the demand
sensor's closed daily history (:meth:`~supplynet.sense.demand.demand_live.DemandSensor.history`, on the loop's
thread: the sensor is not shared), forecasts it on a worker thread with the forecasting module
(:func:`~supplynet.sense.demand.demand_live.forecast_estimates`: statsforecast models, intermittent series
routed to theirs, conformal intervals) and, at the loop's next ``decide`` (the next tick of event time),
installs the predictive distribution in the sensor, so the replenisher sizes the next policies from it
(``demand_source: forecast`` in each order's sizing notes). The forecast runs while the loop folds that
tick's events; the loop waits for it only if it is not done by then. So when a forecast takes effect is
a matter of event time, never of how fast the process runs: a loop catching up on a long log, one
following a live one and one restarted after SIGKILL (a refit under way is saved with the loop's state,
its input included, and run again) make the same decisions. A refit that fails is logged and the online
estimates go on serving.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from ..errors import ParameterError
from ..events import EventBase
from ..sense.demand.demand_live import DemandEstimate, DemandSensor, forecast_estimates

__all__ = ["DemandRefit"]

log = logging.getLogger(__name__)


class DemandRefit:
    """Refit ``sensor``'s forecasts every ``every`` (event time) on a worker thread.

    ``background=False`` forecasts inline (tests, notebooks: deterministic timing). ``min_history``:
    closed days a series needs; ``horizon_days``: the forecast's reach and how long it is trusted.
    ``sites``: forecast only these sites' series (the demo: the stores, whose demand is customers'; a
    DC's is the lumpy sum of its stores' orders, which a daily forecaster turns into intervals wider
    than the demand itself, so the DC keeps its smoothed estimate); None: every series.
    """

    #: it reads no event (the replenisher feeds its sensor)
    kinds: frozenset[str] = frozenset()

    def __init__(self, sensor: DemandSensor, *, every: timedelta = timedelta(days=1), horizon_days: int = 7,
                 min_history: int = 14, model: str = "snaive_smooth", level: float = 80.0,
                 background: bool = True, sites: Iterable[str] | None = None):
        if every <= timedelta(0) or horizon_days < 1 or min_history < 2:
            raise ParameterError("DemandRefit: every must be > 0, horizon_days >= 1 and min_history >= 2")
        self.sensor = sensor
        self.every, self.horizon_days, self.min_history = every, int(horizon_days), int(min_history)
        self.model, self.level = model, float(level)
        self.sites = frozenset(sites) if sites is not None else None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="demand-refit") if background else None
        self._running: Future[dict[tuple[str, str], DemandEstimate]] | None = None
        self._pending: tuple[Any, int, dict[str, Any]] | None = None  # the running refit's input (saved)
        self.last_started: datetime | None = None
        self.refits = 0
        self.series = 0
        self.failures = 0

    def __getstate__(self) -> dict[str, Any]:
        """Saved with the loop's state: settings, counters, the schedule and a refit under way's input (not
        the worker thread: after a restart the refit is run again on the same input and installed at the
        same tick as it would have been)."""
        state = dict(self.__dict__)
        state["_background"] = self._pool is not None
        state["_pool"] = state["_running"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        background = state.pop("_background", False)
        state.setdefault("_pending", None)
        self.__dict__.update(state)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="demand-refit") if background else None
        if self._pending is not None and self._pool is not None:
            hist, horizon, kw = self._pending
            self._running = self._pool.submit(forecast_estimates, hist, horizon, **kw)

    def observe(self, event: EventBase, twin: Any) -> None:
        """Nothing to fold: the sensor is fed by the replenisher."""

    def decide(self, twin: Any, now: datetime) -> list[Any]:
        self._collect()
        if self._running is None and (self.last_started is None or now - self.last_started >= self.every):
            self.last_started = now
            keys = None if self.sites is None else [k for k in self.sensor.daily if k[0] in self.sites]
            hist = self.sensor.history(keys)
            longest = int(hist["unique_id"].value_counts().max()) if not hist.empty else 0
            if longest >= self.min_history:
                args = (hist, self.horizon_days)
                kw = {"model": self.model, "min_history": self.min_history, "level": self.level, "now": now}
                if self._pool is None:
                    self._install(forecast_estimates(*args, **kw))
                else:
                    self._pending = (hist, self.horizon_days, kw)
                    self._running = self._pool.submit(forecast_estimates, *args, **kw)
        return []

    def propose(self, twin: Any, now: datetime) -> tuple[list[Any], list[Any]]:
        """The same turn as :meth:`decide`: it makes no decision and raises no alert itself."""
        return self.decide(twin, now), []

    def _collect(self) -> None:
        """Install the refit started at an earlier tick (waiting for it if it is still running)."""
        if self._running is None:
            return
        fut, self._running, self._pending = self._running, None, None
        try:
            self._install(fut.result())
        except Exception:  # noqa: BLE001 - the online estimates keep serving; say so and go on
            self.failures += 1
            log.exception("demand refit failed; sizing goes on from the online estimates")

    def _install(self, estimates: dict[tuple[str, str], DemandEstimate]) -> None:
        self.sensor.install(estimates, self.horizon_days)
        self.refits += 1
        self.series = len(estimates)

    def close(self) -> None:
        """Wait for a refit under way and stop the worker."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self._collect()

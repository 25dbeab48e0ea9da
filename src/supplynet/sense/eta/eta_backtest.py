"""The ETA backtest: leave-one-trip-out on a lane's GPS trips, against naive baselines.

Each trip whose end was observed (:func:`~supplynet.sense.eta.eta.classify_trips`) is held out in
turn; a model fitted on the other trips (by default the time-of-day segment model,
:class:`~supplynet.sense.eta.eta_tod.TodEtaModel`; ``model="gp"`` the segment GP,
:class:`~supplynet.sense.eta.eta.EtaModel`) forecasts its arrival from random fixes (seeded cuts),
and the errors are compared with the stronger of two naive baselines on the same cuts. It sits above
both models (it picks one by name), so neither model module imports the other's evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from ...errors import DataError, ParameterError
from .eta import LaneGeometry, classify_trips, learn_route, match_trip
from .eta_tod import eta_model_class
from .geo import Route
from .trips import Trip

__all__ = ["BacktestResult", "backtest", "backtest_seeds"]

FloatArray = NDArray[np.float64]


# ----------------------------------------------------------------------------------- backtest
@dataclass(frozen=True)
class BacktestResult:
    n_trips: int
    n_cuts: int
    n_excluded_trips: int
    excluded: dict[str, str]
    model_mae_min: float
    p90_coverage: float
    p10_coverage: float
    naive_mae_min: float
    naive_name: str
    naive_since_departure_mae_min: float
    naive_median_speed_mae_min: float
    n_start_unobserved: int
    cuts: FloatArray = field(repr=False)  # columns: truth, p10, p50, p90, naive_departure, naive_median

    @property
    def mae_reduction(self) -> float:
        return 1.0 - self.model_mae_min / self.naive_mae_min if self.naive_mae_min > 0 else float("nan")

    def to_dict(self) -> dict[str, object]:
        return {
            "n_trips": self.n_trips,
            "n_cuts": self.n_cuts,
            "model": {
                "mae_min": round(self.model_mae_min, 4),
                "p90_coverage": round(self.p90_coverage, 4),
                "p10_coverage": round(self.p10_coverage, 4),
            },
            "naive": {
                "mae_min": round(self.naive_mae_min, 4),
                "which": self.naive_name,
                "since_departure_mae_min": round(self.naive_since_departure_mae_min, 4),
                "median_speed_mae_min": round(self.naive_median_speed_mae_min, 4),
            },
            "mae_reduction_vs_naive": round(self.mae_reduction, 4),
            "n_excluded_trips": self.n_excluded_trips,
            "excluded": self.excluded,
            "n_start_unobserved": self.n_start_unobserved,
        }


def backtest(
    trips: Sequence[Trip],
    *,
    seed: int | np.random.Generator = 0,
    cuts_per_trip: int = 20,
    route: Route | None = None,
    origin_radius_m: float = 300.0,
    dest_radius_m: float = 150.0,
    min_speed_mps: float = 0.5,
    model: Literal["tod", "gp"] = "tod",
    **model_options: object,
) -> BacktestResult:
    """Leave-one-trip-out backtest: each complete trip is cut at ``cuts_per_trip`` random fixes
    between its departure and its arrival (fewer if it has fewer), and the model fitted on every
    other trip forecasts the remaining time. Without ``route`` the geometry is learned from the
    training trips of each fold. ``model`` is ``"tod"`` (default:
    :class:`~supplynet.sense.eta.eta_tod.TodEtaModel`, segment times by time of day with a trip random
    effect) or ``"gp"`` (:class:`~supplynet.sense.eta.eta.EtaModel`, the segment GP); ``model_options``
    go to its constructor.

    Naive baselines on the same cuts: remaining distance over the average speed since departure
    (from the last fix in the origin geofence, so the dwell there does not count; from the first
    fix if the start was not observed; below ``min_speed_mps`` the median-speed baseline is used),
    and remaining distance over the median speed of the training trips. The stronger is reported.
    """
    (res,) = backtest_seeds(
        trips,
        seeds=(seed,),
        cuts_per_trip=cuts_per_trip,
        route=route,
        origin_radius_m=origin_radius_m,
        dest_radius_m=dest_radius_m,
        min_speed_mps=min_speed_mps,
        model=model,
        **model_options,
    )
    return res


def backtest_seeds(
    trips: Sequence[Trip],
    *,
    seeds: Sequence[int | np.random.Generator] = (0,),
    cuts_per_trip: int = 20,
    route: Route | None = None,
    origin_radius_m: float = 300.0,
    dest_radius_m: float = 150.0,
    min_speed_mps: float = 0.5,
    model: Literal["tod", "gp"] = "tod",
    **model_options: object,
) -> list[BacktestResult]:
    """:func:`backtest` for several seeds of the cut points at the cost of one: each fold's model is
    fitted once (it does not depend on the cuts). Result ``i`` equals ``backtest(seed=seeds[i])``."""
    if cuts_per_trip < 1:
        raise ParameterError(f"cuts_per_trip must be >= 1, got {cuts_per_trip}")
    if not seeds:
        raise ParameterError("seeds must not be empty")
    model_cls = eta_model_class(model)
    rngs = [sd if isinstance(sd, np.random.Generator) else np.random.default_rng(sd) for sd in seeds]
    trips = list(trips)
    if len(trips) < 2:
        raise DataError(f"the backtest needs at least 2 trips with an observed end, got {len(trips)} trip(s)")
    data_end = max(float(tr.t[-1]) for tr in trips)
    geom_all = LaneGeometry(
        route if route is not None else learn_route(trips), origin_radius_m, dest_radius_m
    )
    status = classify_trips(geom_all, [match_trip(geom_all, tr) for tr in trips], data_end_t=data_end)
    complete = [i for i, st in enumerate(status) if st.status == "complete"]
    excluded: dict[str, str] = {st.trip_id: st.status for st in status if st.status != "complete"}
    if len(complete) < 2:
        raise DataError(
            f"the backtest needs at least 2 trips with an observed end, found {len(complete)} "
            f"(excluded: {excluded or 'none'})"
        )
    rows: list[list[tuple[float, ...]]] = [[] for _ in rngs]
    n_start_unobs = 0
    for i in complete:
        train = [tr for j, tr in enumerate(trips) if j != i]
        geom = (
            geom_all
            if route is not None
            else LaneGeometry(learn_route(train), origin_radius_m, dest_radius_m)
        )
        m = match_trip(geom, trips[i])
        if m.arr_idx is None:  # the fold's geometry does not see this trip arrive
            continue
        lo = m.start_idx + 1
        cand = np.arange(lo, m.arr_idx)
        if cand.size == 0:
            continue
        n_start_unobs += m.dep_idx is None
        fitted = model_cls(geom, **model_options).fit(train)  # type: ignore[arg-type]
        t, s = m.trip.t, m.s
        arr_t = float(t[m.arr_idx])
        v_med = fitted.median_speed_mps
        i0 = m.start_idx
        forecasts: dict[int, tuple[float, ...]] = {}
        for rng, out in zip(rngs, rows, strict=True):
            cuts = rng.choice(cand, size=min(cuts_per_trip, cand.size), replace=False)
            for c in np.sort(cuts):
                if c not in forecasts:
                    fc = fitted.predict_matched(t[: c + 1], s[: c + 1], i0)
                    truth = arr_t - float(t[c])
                    rem = fc.remaining_m
                    v_dep = (s[c] - s[i0]) / (t[c] - t[i0]) if t[c] > t[i0] else 0.0
                    naive_med = rem / v_med
                    naive_dep = rem / v_dep if v_dep >= min_speed_mps else naive_med
                    forecasts[int(c)] = (truth, fc.p10_s, fc.p50_s, fc.p90_s, naive_dep, naive_med)
                out.append(forecasts[int(c)])
    if not rows[0]:
        raise DataError("no cut could be evaluated (no fix between departure and arrival)")
    return [_summary(np.asarray(r), complete, excluded, n_start_unobs) for r in rows]


def _summary(
    arr: FloatArray, complete: list[int], excluded: dict[str, str], n_start_unobs: int
) -> BacktestResult:
    err = lambda col: float(np.mean(np.abs(arr[:, col] - arr[:, 0])) / 60.0)  # noqa: E731
    mae_dep, mae_med = err(4), err(5)
    naive_name = "since_departure" if mae_dep <= mae_med else "median_speed"
    return BacktestResult(
        n_trips=len(complete),
        n_cuts=len(arr),
        n_excluded_trips=len(excluded),
        excluded=excluded,
        model_mae_min=err(2),
        p90_coverage=float(np.mean(arr[:, 0] <= arr[:, 3])),
        p10_coverage=float(np.mean(arr[:, 0] <= arr[:, 1])),
        naive_mae_min=min(mae_dep, mae_med),
        naive_name=naive_name,
        naive_since_departure_mae_min=mae_dep,
        naive_median_speed_mae_min=mae_med,
        n_start_unobserved=int(n_start_unobs),
        cuts=arr,
    )

"""Runtime inventory policies: one source of truth for the live orchestrator and the simulator.

A policy is a class behind one protocol, ``order_quantity(position, forecast=None, lead_time=None,
day=None) -> quantity``. It is vectorized: ``position`` may be a scalar or a numpy array of any shape
(for the simulator: replications x nodes) and parameters broadcast against it; the result has the
same shape and is never negative. Pack-size and minimum-order-quantity rounding are applied last.

Every class reduces to a numeric code and four numbers (:meth:`Policy.kernel_params`) read by one
scalar function, :func:`order_qty_scalar`, compiled with numba. The classes call it through a numba
ufunc and the Monte Carlo kernel in :mod:`supplynet.sim` calls the very same compiled function, so
what is simulated is exactly what runs live.

Policies (textbook references: Axsaeter, *Inventory Control*, 3rd ed. 2015, ch. 4-5; Snyder & Shen,
*Fundamentals of Supply Chain Theory*, 2nd ed. 2019, ch. 3-4):

- :class:`BaseStock` ``(S)``: order up to S every period.
- :class:`SsPolicy` ``(s, S)``: when the position is at or below s, order up to S (Scarf 1960).
- :class:`RQPolicy` ``(r, Q)``: when the position is at or below r, order the smallest multiple
  of Q that lifts it above r.
- :class:`RSPolicy` ``(R, S)``: periodic review: on review days (``day % R == offset``) order up
  to S; other days order nothing.
- :class:`Newsvendor` ``(q)``: the critical-fractile quantity (Arrow, Harris & Marschak 1951) used
  as an order-up-to level; can be sized from a forecast at call time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numba
import numpy as np
from scipy import stats

from supplynet.errors import DecisionError

__all__ = [
    "KIND_BASE_STOCK",
    "KIND_NEWSVENDOR",
    "KIND_RQ",
    "KIND_RS",
    "KIND_SS",
    "BaseStock",
    "Forecast",
    "Newsvendor",
    "Policy",
    "RQPolicy",
    "RSPolicy",
    "SsPolicy",
    "order_qty_scalar",
    "policy_from_spec",
]

KIND_BASE_STOCK = 0
KIND_SS = 1
KIND_RQ = 2
KIND_RS = 3
KIND_NEWSVENDOR = 4

ArrayLike = Any


def _order_qty_py(kind: int, a: float, b: float, review: float, offset: float, pack: float, moq: float,
                  position: float, day: float) -> float:
    """Order quantity for one stocking point (scalar; compiled by numba, used everywhere).

    ``kind`` selects the rule; ``a``/``b`` are its two levels (S; s,S; r,Q; S; q); ``review`` and
    ``offset`` define review days (``day % review == offset``; review <= 1 means every day).
    """
    if review > 1.0 and day >= 0.0:
        if (day - offset) % review != 0.0:
            return 0.0
    q = 0.0
    if kind == 0 or kind == 3 or kind == 4:  # order-up-to a
        q = a - position
    elif kind == 1:  # (s, S): a = s, b = S
        if position <= a:
            q = b - position
    elif kind == 2:  # (r, Q): a = r, b = Q
        if position <= a:
            n = math.floor((a - position) / b) + 1.0
            q = n * b
    if q <= 1e-12:
        return 0.0
    if q < moq:
        q = moq
    if pack > 1.0:
        q = math.ceil(q / pack - 1e-9) * pack
    return q


order_qty_scalar = numba.njit(cache=True, nogil=True)(_order_qty_py)


@numba.vectorize(cache=True)
def _order_qty_ufunc(kind, a, b, review, offset, pack, moq, position, day):  # type: ignore[no-untyped-def]
    """The ufunc the classes call: a loop around the very same compiled scalar function."""
    return order_qty_scalar(kind, a, b, review, offset, pack, moq, position, day)


@dataclass(frozen=True)
class Forecast:
    """Demand forecast per period: mean and standard deviation (arrays broadcast to positions)."""

    mean: ArrayLike
    std: ArrayLike = 0.0


def _as_forecast(forecast: Any) -> Forecast:
    if forecast is None:
        raise DecisionError("this policy is sized from a forecast: pass forecast=Forecast(mean, std)")
    if isinstance(forecast, Forecast):
        return forecast
    if isinstance(forecast, tuple) and len(forecast) == 2:
        return Forecast(*forecast)
    if hasattr(forecast, "mean") and hasattr(forecast, "std") and not isinstance(forecast, np.ndarray):
        return Forecast(forecast.mean, forecast.std)
    return Forecast(np.asarray(forecast, dtype=float), 0.0)


def _check(name: str, value: ArrayLike, *, positive: bool = False) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise DecisionError(f'"{name}" must be finite, got {value!r}')
    if positive and np.any(arr <= 0):
        raise DecisionError(f'"{name}" must be > 0, got {value!r}')
    if not positive and np.any(arr < 0):
        raise DecisionError(f'"{name}" must be >= 0, got {value!r}')
    return arr


@runtime_checkable
class Policy(Protocol):
    """What every inventory policy offers."""

    def order_quantity(self, position: ArrayLike, forecast: Any = None, lead_time: ArrayLike | None = None,
                       day: ArrayLike | None = None) -> ArrayLike: ...

    def kernel_params(self) -> tuple[int, ArrayLike, ArrayLike, ArrayLike, ArrayLike]: ...


class _Base:
    kind: int = -1

    def __init__(self, pack_size: ArrayLike = 1.0, moq: ArrayLike = 0.0) -> None:
        self.pack_size = _check("pack_size", pack_size, positive=True)
        self.moq = _check("moq", moq)

    def kernel_params(self) -> tuple[int, ArrayLike, ArrayLike, ArrayLike, ArrayLike]:
        """(kind, a, b, review, offset): what the compiled kernel needs."""
        raise NotImplementedError

    def _levels(self, forecast: Any, lead_time: ArrayLike | None) -> tuple[ArrayLike, ArrayLike]:
        _, a, b, _, _ = self.kernel_params()
        return a, b

    def _review(self) -> tuple[ArrayLike, ArrayLike]:
        return 1.0, 0.0

    def order_quantity(self, position: ArrayLike, forecast: Any = None, lead_time: ArrayLike | None = None,
                       day: ArrayLike | None = None) -> ArrayLike:
        """Quantity to order now given the inventory position (on hand + on order - backorders)."""
        pos = np.asarray(position, dtype=float)
        review, offset = self._review()
        a, b = self._levels(forecast, lead_time)
        d = -1.0 if day is None else np.asarray(day, dtype=float)
        out = _order_qty_ufunc(self.kind, np.asarray(a, float), np.asarray(b, float), np.asarray(review, float),
                               np.asarray(offset, float), self.pack_size, self.moq, pos, d)
        if np.ndim(position) == 0 and np.ndim(out) == 0:
            return float(out)
        return out

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        a, b = vars(self), vars(other)
        return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)

    __hash__ = None  # type: ignore[assignment]


class BaseStock(_Base):
    """Order up to ``S`` every period (base-stock / order-up-to; Axsaeter 2015 s.5.1).

    With ``S=None`` and ``service_level`` set, S is sized at call time from the forecast and lead
    time: ``S = mu*(L+1) + z*sigma*sqrt(L+1)`` (one review period plus the lead time).
    """

    kind = KIND_BASE_STOCK

    def __init__(self, S: ArrayLike | None = None, *, service_level: float | None = None,
                 pack_size: ArrayLike = 1.0, moq: ArrayLike = 0.0) -> None:
        super().__init__(pack_size, moq)
        if S is None and service_level is None:
            raise DecisionError('BaseStock needs "S" or "service_level"')
        if service_level is not None and not 0.0 < service_level < 1.0:
            raise DecisionError(f'"service_level" must be in (0, 1), got {service_level!r}')
        self.S = None if S is None else _check("S", S)
        self.service_level = service_level

    def kernel_params(self) -> tuple[int, ArrayLike, ArrayLike, ArrayLike, ArrayLike]:
        if self.S is None:
            raise DecisionError("BaseStock sized by service_level has no static S: call sized(...) first")
        return self.kind, self.S, 0.0, 1.0, 0.0

    def sized(self, forecast: Any, lead_time: ArrayLike) -> BaseStock:
        """A static BaseStock with S sized from the forecast and lead time."""
        if self.S is not None:
            return self
        f = _as_forecast(forecast)
        cover = np.asarray(lead_time, dtype=float) + 1.0
        z = stats.norm.ppf(self.service_level)
        S = np.asarray(f.mean, float) * cover + z * np.asarray(f.std, float) * np.sqrt(cover)
        return BaseStock(np.maximum(S, 0.0), pack_size=self.pack_size, moq=self.moq)

    def _levels(self, forecast: Any, lead_time: ArrayLike | None) -> tuple[ArrayLike, ArrayLike]:
        if self.S is None:
            if lead_time is None:
                raise DecisionError("BaseStock(service_level=...) needs lead_time to size S")
            return self.sized(forecast, lead_time).S, 0.0
        return self.S, 0.0

    def order_quantity(self, position: ArrayLike, forecast: Any = None, lead_time: ArrayLike | None = None,
                       day: ArrayLike | None = None) -> ArrayLike:
        pos = np.asarray(position, dtype=float)
        a, _ = self._levels(forecast, lead_time)
        d = -1.0 if day is None else np.asarray(day, dtype=float)
        out = _order_qty_ufunc(self.kind, np.asarray(a, float), 0.0, 1.0, 0.0, self.pack_size, self.moq, pos, d)
        return float(out) if np.ndim(out) == 0 else out


class SsPolicy(_Base):
    """(s, S): when the position is at or below ``s``, order up to ``S`` (Scarf 1960)."""

    kind = KIND_SS

    def __init__(self, s: ArrayLike, S: ArrayLike, *, pack_size: ArrayLike = 1.0, moq: ArrayLike = 0.0) -> None:
        super().__init__(pack_size, moq)
        s_arr = np.asarray(s, dtype=float)
        if not np.all(np.isfinite(s_arr)):
            raise DecisionError(f'"s" must be finite, got {s!r}')
        S_arr = _check("S", S)
        if np.any(s_arr > S_arr):
            raise DecisionError(f'"s" must be <= "S", got s={s!r}, S={S!r}')
        self.s, self.S = s_arr, S_arr

    def kernel_params(self) -> tuple[int, ArrayLike, ArrayLike, ArrayLike, ArrayLike]:
        return self.kind, self.s, self.S, 1.0, 0.0


class RQPolicy(_Base):
    """(r, Q): at or below ``r``, order the least multiple of ``Q`` lifting the position above r."""

    kind = KIND_RQ

    def __init__(self, r: ArrayLike, Q: ArrayLike, *, pack_size: ArrayLike = 1.0, moq: ArrayLike = 0.0) -> None:
        super().__init__(pack_size, moq)
        r_arr = np.asarray(r, dtype=float)
        if not np.all(np.isfinite(r_arr)):
            raise DecisionError(f'"r" must be finite, got {r!r}')
        self.r, self.Q = r_arr, _check("Q", Q, positive=True)

    def kernel_params(self) -> tuple[int, ArrayLike, ArrayLike, ArrayLike, ArrayLike]:
        return self.kind, self.r, self.Q, 1.0, 0.0


class RSPolicy(_Base):
    """(R, S) periodic review: every ``R`` days (``day % R == offset``) order up to ``S``.

    Without ``day`` (the live orchestrator calling on a review) it orders up to S.
    """

    kind = KIND_RS

    def __init__(self, R: ArrayLike, S: ArrayLike, *, offset: ArrayLike = 0, pack_size: ArrayLike = 1.0,
                 moq: ArrayLike = 0.0) -> None:
        super().__init__(pack_size, moq)
        R_arr = _check("R", R, positive=True)
        if np.any(R_arr != np.round(R_arr)):
            raise DecisionError(f'"R" must be a whole number of days, got {R!r}')
        off = _check("offset", offset)
        if np.any(off >= R_arr):
            raise DecisionError(f'"offset" must be < "R", got offset={offset!r}, R={R!r}')
        self.R, self.S, self.offset = R_arr, _check("S", S), off

    def kernel_params(self) -> tuple[int, ArrayLike, ArrayLike, ArrayLike, ArrayLike]:
        return self.kind, self.S, 0.0, self.R, self.offset

    def _review(self) -> tuple[ArrayLike, ArrayLike]:
        return self.R, self.offset

    def is_review_day(self, day: ArrayLike) -> ArrayLike:
        return (np.asarray(day) - self.offset) % self.R == 0


class Newsvendor(_Base):
    """Critical-fractile quantity ``q`` (Arrow, Harris & Marschak 1951), used as order-up-to level.

    ``Newsvendor(underage=.., overage=..)`` without ``q`` sizes q at call time from the forecast:
    ``q = mu + z*sigma`` with ``z = Phi^-1(cu / (cu + co))`` (normal demand; Snyder & Shen s.3.2).
    """

    kind = KIND_NEWSVENDOR

    def __init__(self, q: ArrayLike | None = None, *, underage: float | None = None,
                 overage: float | None = None, pack_size: ArrayLike = 1.0, moq: ArrayLike = 0.0) -> None:
        super().__init__(pack_size, moq)
        if q is None and (underage is None or overage is None):
            raise DecisionError('Newsvendor needs "q" or both "underage" and "overage" costs')
        if underage is not None and underage <= 0:
            raise DecisionError(f'"underage" must be > 0, got {underage!r}')
        if overage is not None and overage <= 0:
            raise DecisionError(f'"overage" must be > 0, got {overage!r}')
        self.q = None if q is None else _check("q", q)
        self.underage, self.overage = underage, overage

    @property
    def critical_ratio(self) -> float | None:
        if self.underage is None or self.overage is None:
            return None
        return self.underage / (self.underage + self.overage)

    def kernel_params(self) -> tuple[int, ArrayLike, ArrayLike, ArrayLike, ArrayLike]:
        if self.q is None:
            raise DecisionError("Newsvendor sized by costs has no static q: pass a forecast")
        return self.kind, self.q, 0.0, 1.0, 0.0

    def _levels(self, forecast: Any, lead_time: ArrayLike | None) -> tuple[ArrayLike, ArrayLike]:
        if forecast is not None and self.critical_ratio is not None:
            f = _as_forecast(forecast)
            z = stats.norm.ppf(self.critical_ratio)
            return np.maximum(np.asarray(f.mean, float) + z * np.asarray(f.std, float), 0.0), 0.0
        return self.kernel_params()[1], 0.0


def policy_from_spec(spec: Any, *, demand_mean: ArrayLike | None = None, demand_std: ArrayLike | None = None,
                     lead_time: ArrayLike | None = None, pack_size: ArrayLike = 1.0,
                     moq: ArrayLike = 0.0, underage: float | None = None,
                     overage: float | None = None) -> _Base:
    """Build a policy from the network model's ``PolicySpec`` (``type`` + ``params``).

    ``params`` may give the levels directly ({S}, {s, S}, {r, Q}, {R, S}, {q}) or ``service_level``
    (a newsvendor with neither uses the critical ratio ``underage / (underage + overage)``);
    then the levels are sized from ``demand_mean``/``demand_std`` per day and ``lead_time`` (days):
    base-stock and RS cover L+R days, (s,S) and (r,Q) use a reorder point of L days of demand plus
    safety stock and an order quantity of about a week (or ``params['Q']``).
    """
    kind = str(getattr(spec, "type", None) or (spec.get("type") if isinstance(spec, dict) else "")).strip()
    params = dict(getattr(spec, "params", None) or (spec.get("params", {}) if isinstance(spec, dict) else {}))
    where = f"policy {kind!r} at {getattr(spec, 'site', '?')}/{getattr(spec, 'sku', '?')}"
    sl = params.pop("service_level", None)
    if sl is None:
        sl = getattr(spec, "service_level", None) or (spec.get("service_level") if isinstance(spec, dict) else None)
    common = {"pack_size": pack_size, "moq": moq}
    if kind == "newsvendor" and "q" not in params and sl is None:
        # no q and no service level: the critical ratio of the product's costs sets the service level
        if not underage or not overage or demand_mean is None or lead_time is None:
            raise DecisionError(f"{where}: newsvendor without q needs underage and overage costs, demand_mean and "
                                "lead_time to size q")
        sl = underage / (underage + overage)
    if sl is not None:
        if demand_mean is None or lead_time is None:
            raise DecisionError(f"{where}: service_level needs demand_mean and lead_time to size the levels")
        if not 0.0 < float(sl) < 1.0:
            raise DecisionError(f"{where}: service_level must be in (0, 1), got {sl!r}")
        z = float(stats.norm.ppf(float(sl)))
        mu = np.asarray(demand_mean, float)
        sd = np.asarray(demand_std if demand_std is not None else np.sqrt(mu), float)
        L = np.asarray(lead_time, float)
        R = float(params.get("R", 1))
        cover = L + R
        level = mu * cover + z * sd * np.sqrt(cover)
        rop = mu * L + z * sd * np.sqrt(np.maximum(L, 1.0))
        Q = np.maximum(np.asarray(params.get("Q", 7.0 * mu), float), 1.0)
        sized: dict[str, dict[str, Any]] = {"base_stock": {"S": level}, "RS": {"R": R, "S": level}, "newsvendor": {"q": level},
                 "sS": {"s": rop, "S": rop + Q}, "RQ": {"r": rop, "Q": Q}}
        if kind not in sized:
            raise DecisionError(f"{where}: unknown policy type; use one of {sorted(sized)}")
        params = {**sized[kind], **params}  # levels given in params win over sized ones
    try:
        if kind == "base_stock":
            return BaseStock(params["S"], **common)
        if kind == "sS":
            return SsPolicy(params["s"], params["S"], **common)
        if kind == "RQ":
            return RQPolicy(params["r"], params["Q"], **common)
        if kind == "RS":
            return RSPolicy(params["R"], params["S"], offset=params.get("offset", 0), **common)
        if kind == "newsvendor":
            return Newsvendor(params["q"], **common)
    except KeyError as exc:
        raise DecisionError(f"{where}: missing parameter {exc.args[0]!r} in params {params!r}") from exc
    raise DecisionError(f"{where}: unknown policy type; use base_stock, sS, RQ, RS or newsvendor")

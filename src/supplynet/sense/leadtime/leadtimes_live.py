"""Lead-time distributions learned live from shipment events: ``departed -> delivered`` per lane.

Every :class:`~supplynet.events.ShipmentStatus` that leaves an origin (``departed``, ``in_transit``,
``delayed``, ``arrived``) starts a clock for its shipment; ``delivered`` stops it, and the elapsed
days are one sample of that lane's lead time. A lane is the event's ``lane_id``, else the network's
lane from ``origin`` to ``destination``, else ``"<origin>-><destination>"``.

The estimate blends the network's declared lead time (the prior) with the samples as ``prior_weight``
pseudo-observations (a normal-normal update of mean and variance with known-weight prior, as in
Silver, Pyke & Peterson 1998 sec. 7.11 for lead-time variability), over a sliding window of the last
``window`` deliveries so a lane that slows down is noticed. The empirical quantiles of the window
are kept beside the moments, and :meth:`LeadTimeEstimate.demand_over` gives the mean and standard
deviation of demand over the random lead time (``E[L] sigma^2 + mu^2 Var[L]``).

>>> from datetime import UTC, datetime, timedelta
>>> from supplynet.events import Line, ShipmentStatus
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> learn = LeadTimeLearner()
>>> for i, days in enumerate([2.0, 3.0, 4.0]):
...     kw = dict(source="fleet", shipment_id=f"SH{i}", lane_id="L1", origin="A", destination="B",
...               lines=(Line(sku="x", quantity=1),))
...     _ = learn.observe(ShipmentStatus(seq=2 * i, ts=t0, status="departed", **kw))
...     est = learn.observe(ShipmentStatus(seq=2 * i + 1, ts=t0 + timedelta(days=days), status="delivered", **kw))
>>> round(est.mean_days, 3), est.n
(3.0, 3)
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import ModelError
from ...events import EventBase, ShipmentStatus

if TYPE_CHECKING:
    from ...model import Network

__all__ = ["LeadTimeEstimate", "LeadTimeLearner"]

_STARTED = ("departed", "in_transit", "delayed", "arrived")
_DAY_S = 86_400.0


@dataclass(frozen=True)
class LeadTimeEstimate:
    """A lane's lead-time distribution in days: blended moments, sample count and quantiles."""

    lane_id: str
    mean_days: float
    std_days: float
    n: int
    p50_days: float | None = None
    p90_days: float | None = None
    p95_days: float | None = None
    prior_mean_days: float | None = None
    prior_std_days: float | None = None
    last_at: datetime | None = None

    def demand_over(self, demand_mean: float, demand_std: float, review_days: float = 0.0) -> tuple[float, float]:
        """Mean and std of demand over lead time + ``review_days`` for i.i.d. daily demand."""
        periods = self.mean_days + review_days
        var = periods * demand_std**2 + demand_mean**2 * self.std_days**2
        return demand_mean * periods, math.sqrt(max(var, 0.0))

    def as_dict(self) -> dict[str, Any]:
        return {"lane_id": self.lane_id, "mean_days": round(self.mean_days, 4), "std_days": round(self.std_days, 4),
                "n": self.n, "p50_days": self.p50_days, "p90_days": self.p90_days, "p95_days": self.p95_days,
                "prior_mean_days": self.prior_mean_days}


class LeadTimeLearner:
    """Learns per-lane lead times from shipment events; ``observe`` returns the updated estimate on a
    delivery (None otherwise)."""

    def __init__(self, network: Network | None = None, *, prior_weight: float = 5.0, window: int = 200) -> None:
        if not prior_weight >= 0 or not math.isfinite(prior_weight):
            raise ModelError(f'"prior_weight" must be a finite number >= 0, got {prior_weight!r}')
        if int(window) < 2:
            raise ModelError(f'"window" must be >= 2 deliveries, got {window!r}')
        self.network = network
        self.prior_weight = float(prior_weight)
        self.window = int(window)
        self._departed: dict[str, tuple[datetime, str]] = {}
        self._samples: dict[str, deque[float]] = {}
        self._last: dict[str, datetime] = {}
        self._by_ends: dict[tuple[str, str], str] = {}
        self._prior: dict[str, tuple[float, float]] = {}
        for ln in getattr(network, "lanes", None) or []:
            self._by_ends.setdefault((ln.origin, ln.destination), ln.id)
            self._prior[ln.id] = (float(ln.lead_time.mean), float(ln.lead_time.std))

    def _lane(self, e: ShipmentStatus) -> str:
        if e.lane_id:
            return e.lane_id
        return self._by_ends.get((e.origin, e.destination), f"{e.origin}->{e.destination}")

    def observe(self, event: EventBase, twin: Any = None) -> LeadTimeEstimate | None:
        """Fold one event; shipment departures start a clock, deliveries add a sample."""
        if getattr(event, "kind", None) != "shipment":
            return None
        e: ShipmentStatus = event  # type: ignore[assignment]
        lane = self._lane(e)
        if e.status in _STARTED:
            if e.shipment_id not in self._departed:
                self._departed[e.shipment_id] = (e.ts, lane)
            return None
        if e.status == "cancelled":
            self._departed.pop(e.shipment_id, None)
            return None
        if e.status != "delivered":
            return None
        start = self._departed.pop(e.shipment_id, None)
        if start is None and twin is not None:  # the twin may have seen the departure before we started
            sh = twin.state.shipments.get(e.shipment_id)
            if sh is not None and sh.departed_at is not None and sh.departed_at < e.ts:
                start = (sh.departed_at, lane)
        if start is None:
            return None
        days = (e.ts - start[0]).total_seconds() / _DAY_S
        if days < 0:
            return None
        self.add_sample(start[1], days, at=e.ts)
        return self.estimate(start[1])

    def add_sample(self, lane_id: str, days: float, at: datetime | None = None) -> None:
        """Record one observed lead time (days) for ``lane_id``."""
        if not math.isfinite(days) or days < 0:
            raise ModelError(f"lead time of lane {lane_id!r} must be a finite number of days >= 0, got {days!r}")
        self._samples.setdefault(lane_id, deque(maxlen=self.window)).append(float(days))
        if at is not None:
            self._last[lane_id] = at

    def observe_many(self, events: Iterable[EventBase]) -> LeadTimeLearner:
        for e in events:
            self.observe(e)
        return self

    def estimate(self, lane_id: str) -> LeadTimeEstimate | None:
        """The blended distribution of ``lane_id`` (the prior alone before any delivery; None when
        the lane is neither declared nor observed)."""
        xs = np.asarray(self._samples.get(lane_id, ()), dtype=float)
        prior = self._prior.get(lane_id)
        if xs.size == 0 and prior is None:
            return None
        n = int(xs.size)
        if n == 0:
            m, s = prior  # type: ignore[misc]
            return LeadTimeEstimate(lane_id, m, s, 0, prior_mean_days=m, prior_std_days=s)
        xbar = float(xs.mean())
        s2 = float(xs.var(ddof=1)) if n > 1 else 0.0
        if prior is None or self.prior_weight == 0:
            mean, var = xbar, s2
        else:
            m0, s0 = prior
            w0, w = self.prior_weight, float(n)
            mean = (w0 * m0 + w * xbar) / (w0 + w)
            var = (w0 * (s0**2 + (m0 - mean) ** 2) + w * (s2 + (xbar - mean) ** 2)) / (w0 + w)
        q50, q90, q95 = (float(v) for v in np.quantile(xs, [0.5, 0.9, 0.95]))
        return LeadTimeEstimate(lane_id, mean, math.sqrt(max(var, 0.0)), n, q50, q90, q95,
                                prior[0] if prior else None, prior[1] if prior else None, self._last.get(lane_id))

    def estimates(self) -> dict[str, LeadTimeEstimate]:
        """Every lane with a prior or a sample."""
        lanes = set(self._prior) | set(self._samples)
        return {ln: est for ln in sorted(lanes) if (est := self.estimate(ln)) is not None}

    @property
    def open_shipments(self) -> int:
        return len(self._departed)

"""Shrinkage: IoT stock counts reconciled against book inventory.

RFID reads and shelf sensors (:class:`~supplynet.events.StockCount` with ``method`` ``rfid`` or
``shelf``) report what is physically there; the twin's ``on_hand`` is the book (what sales, receipts
and authoritative manual counts say should be there). One count that disagrees proves little (a
delivery being shelved, a read missed); a gap that *persists* over ``min_counts`` consecutive counts,
all beyond the tolerance and of the same sign, is flagged: book above physical is **shrinkage**
(theft, damage, unrecorded waste), book below physical is an **unrecorded receipt**. Its size is
the median gap of the last ``min_counts`` counts (robust to one odd read, current when a leak grows), in units and in money at the
product's unit cost.

This is the inventory-record-inaccuracy setting of DeHoratius & Raman (2008) and Kang & Gershwin
(2005): left alone, a book above physical stock stops replenishment ("freeze"), because the policy
sees stock that is not there. The finding carries the adjustment that would bring the book back to
the physical count; a manual or cycle count (which resets the book in the twin) closes the episode.

:meth:`ShrinkageMonitor.decide` returns :class:`~supplynet.events.Alert` events (``code
"shrinkage"`` or ``"unrecorded_receipt"``, subject ``"<site>/<sku>"``) that the loop appends to the
log; each episode is reported once, and again only if its size grows by ``regrow`` (50%).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ModelError
from ..events import Alert, EventBase, StockCount, alert_seq

if TYPE_CHECKING:
    from ..model import Network

__all__ = ["ShrinkageFinding", "ShrinkageMonitor", "reconcile"]

IOT_METHODS = ("rfid", "shelf")


@dataclass(frozen=True)
class ShrinkageFinding:
    """A persistent gap between book and physical stock at one SKU-site."""

    site: str
    sku: str
    gap: float  # book - physical, units (> 0: shrinkage)
    value: float | None  # gap x unit cost
    book: float
    physical: float
    counts: int
    since: datetime
    last_at: datetime
    method: str
    count_event_ids: tuple[str, ...] = ()

    @property
    def code(self) -> str:
        return "shrinkage" if self.gap > 0 else "unrecorded_receipt"

    @property
    def adjustment(self) -> float:
        """Units to add to the book to match the physical stock (negative for shrinkage)."""
        return -self.gap


def reconcile(book: float, physical: float, *, abs_tolerance: float = 1.0, rel_tolerance: float = 0.02) -> float:
    """The significant gap ``book - physical`` (0 when within tolerance)."""
    gap = float(book) - float(physical)
    tol = max(abs_tolerance, rel_tolerance * max(abs(book), abs(physical)))
    return gap if abs(gap) > tol else 0.0


class ShrinkageMonitor:
    """Watches IoT counts; ``observe(event, twin)`` after the twin applied the event,
    ``decide(twin, now)`` for the alerts of newly found (or grown) gaps."""

    #: the event kinds it reads (the log follower calls it for these only)
    kinds = frozenset({"stock_count"})

    def __init__(self, network: Network | None = None, *, min_counts: int = 3, abs_tolerance: float = 1.0,
                 rel_tolerance: float = 0.02, regrow: float = 0.5, critical_value: float = 1000.0,
                 source: str = "supplynet.shrinkage") -> None:
        if int(min_counts) < 2:
            raise ModelError(f'"min_counts" must be >= 2 (one count is not persistent), got {min_counts!r}')
        for name, v in (("abs_tolerance", abs_tolerance), ("rel_tolerance", rel_tolerance), ("regrow", regrow)):
            if not math.isfinite(v) or v < 0:
                raise ModelError(f'"{name}" must be a finite number >= 0, got {v!r}')
        self.network = network
        self.min_counts = int(min_counts)
        self.abs_tolerance = float(abs_tolerance)
        self.rel_tolerance = float(rel_tolerance)
        self.regrow = float(regrow)
        self.critical_value = float(critical_value)
        self.source = source
        self._runs: dict[tuple[str, str], deque[tuple[float, float, float, datetime, str, str]]] = {}
        self._reported: dict[tuple[str, str], float] = {}
        self._pending: dict[tuple[str, str], ShrinkageFinding] = {}
        self.findings: dict[tuple[str, str], ShrinkageFinding] = {}

    def _unit_cost(self, sku: str) -> float | None:
        if self.network is None:
            return None
        try:
            return float(self.network.product(sku).unit_cost)
        except Exception:  # noqa: BLE001 - an unknown sku simply has no value
            return None

    def observe(self, event: EventBase, twin: Any) -> ShrinkageFinding | None:
        """Reconcile one stock count against the twin's book; returns a finding when the gap is
        persistent."""
        if getattr(event, "kind", None) != "stock_count":
            return None
        e: StockCount = event  # type: ignore[assignment]
        key = (e.site, e.sku)
        if e.method not in IOT_METHODS:  # an authoritative count resets the book: the episode is over
            self._runs.pop(key, None)
            self._reported.pop(key, None)
            self.findings.pop(key, None)
            return None
        book = float(twin.state.position(e.site, e.sku).on_hand)
        gap = reconcile(book, e.quantity, abs_tolerance=self.abs_tolerance, rel_tolerance=self.rel_tolerance)
        run = self._runs.setdefault(key, deque(maxlen=4 * self.min_counts))
        if gap == 0.0 or (run and math.copysign(1, run[-1][0]) != math.copysign(1, gap)):
            run.clear()
            if gap == 0.0:
                self._reported.pop(key, None)
                self.findings.pop(key, None)
                return None
        run.append((gap, book, float(e.quantity), e.ts, e.method, e.event_id))
        if len(run) < self.min_counts:
            return None
        gaps = np.array([r[0] for r in list(run)[-self.min_counts:]])  # the recent size: a leak grows
        cost = self._unit_cost(e.sku)
        size = float(np.median(gaps))
        f = ShrinkageFinding(site=e.site, sku=e.sku, gap=size, value=None if cost is None else size * cost,
                             book=book, physical=float(e.quantity), counts=len(run), since=run[0][3], last_at=e.ts,
                             method=e.method, count_event_ids=tuple(r[5] for r in run))
        self.findings[key] = f
        prev = self._reported.get(key)
        if prev is None or abs(size) > abs(prev) * (1.0 + self.regrow):
            self._pending[key] = f
        return f

    def decide(self, twin: Any = None, now: datetime | None = None) -> list[Alert]:
        """Alerts for the findings not reported yet (each episode once, again when it grows); each is
        numbered from what it is about (:func:`~supplynet.events.alert_seq`: code, SKU-site and the count
        that found it), so the same finding made again after a restart is the same log event."""
        out = []
        for key, f in sorted(self._pending.items()):
            severity = "critical" if f.value is not None and abs(f.value) >= self.critical_value else "warning"
            what = "shrinkage" if f.gap > 0 else "unrecorded receipt"
            msg = (f"{what} at {f.site}/{f.sku}: book {f.book:g} vs {f.method} count {f.physical:g}, "
                   f"persistent gap {f.gap:g} units over {f.counts} counts since {f.since.isoformat()}"
                   + (f" (value {f.value:.2f})" if f.value is not None else ""))
            out.append(Alert(source=self.source, seq=alert_seq(f.code, f"{f.site}/{f.sku}",
                                                                  (f.count_event_ids or (f.last_at.isoformat(),))[-1]),
                             ts=now or f.last_at, code=f.code,
                             subject=f"{f.site}/{f.sku}", severity=severity, message=msg,
                             data={"site": f.site, "sku": f.sku, "gap_units": f.gap, "gap_value": f.value,
                                   "book": f.book, "physical": f.physical, "counts": f.counts,
                                   "since": f.since.isoformat(), "method": f.method,
                                   "adjustment_units": f.adjustment,
                                   "count_event_ids": list(f.count_event_ids)}))
            self._reported[key] = f.gap
        self._pending.clear()
        return out

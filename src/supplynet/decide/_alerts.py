"""Alerts the platform's watchers write to the log, each exactly once however often it is derived.

A watcher that folds the log again after a restart derives the same finding again; its alert carries
a sequence number computed from what it is about (:func:`supplynet.events.alert_seq`: code, subject
and the event that triggered it), and the log stores an event once per ``(source, seq)``, so the second
copy is a duplicate, not a second alert. It is the platform's one alert numbering (the loop's service
records the alerts with the numbers they carry).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..events import Alert, alert_seq

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["AlertOutbox", "alert_seq"]


class AlertOutbox:
    """Alerts a watcher found since its last ``flush``; ``flush(store)`` appends them to the log."""

    def __init__(self, source: str):
        self.source = source
        self.pending: list[Alert] = []
        self.counts: dict[str, int] = {}

    def add(self, *, code: str, subject: str, ts: datetime, key: object, severity: str = "warning",
            message: str = "", data: dict[str, Any] | None = None) -> Alert:
        a = Alert(source=self.source, seq=alert_seq(code, subject, key), ts=ts, code=code, subject=subject,
                  severity=severity, message=message[:2000], data=data or {})  # type: ignore[arg-type]
        self.pending.append(a)
        self.counts[code] = self.counts.get(code, 0) + 1
        return a

    def drain(self) -> list[Alert]:
        """The alerts found since the last call, for a caller that records them itself."""
        out, self.pending = self.pending, []
        return out

    def flush(self, store: Store | None) -> list[Alert]:
        """Append the alerts found since the last call to ``store``'s log; returns them."""
        out = self.drain()
        if out and store is not None:
            store.log.append(out)
        return out

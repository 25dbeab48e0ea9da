"""Projections the twin's state does not keep, fed by the follower: open and past work orders, and the
latest remaining-useful-life estimate per asset (what the API lists beside the assets)."""

from __future__ import annotations

from typing import Any

from ..events import EventBase

__all__ = ["RulIndex", "WorkOrderIndex"]


class WorkOrderIndex:
    """Work orders by id, from ``maintenance`` events: opened (with the decision that opened it, when a
    decision did), started (``in_progress``), completed or cancelled."""

    #: the event kinds it reads (the log follower calls it for these only)
    kinds = frozenset({"maintenance"})

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def observe(self, event: EventBase, twin: Any = None) -> None:
        if event.kind != "maintenance":  # type: ignore[attr-defined]
            return
        wo = event.work_order_id  # type: ignore[attr-defined]
        action = event.action  # type: ignore[attr-defined]
        if action == "work_order_opened" and wo:
            self.items[wo] = {"work_order_id": wo, "asset_id": event.asset_id, "status": "open",  # type: ignore
                              "opened_at": event.ts, "detail": event.detail,  # type: ignore[attr-defined]
                              "decision_id": wo[3:] if wo.startswith("WO-D") else None}
        elif wo and wo in self.items and action in ("started", "completed", "cancelled"):
            self.items[wo]["status"] = {"started": "in_progress"}.get(action, action)


class RulIndex:
    """The latest ``rul*`` alert per asset: its data (low, median, high ...), when and from whom."""

    #: the event kinds it reads (the log follower calls it for these only)
    kinds = frozenset({"alert"})

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def observe(self, event: EventBase, twin: Any = None) -> None:
        if event.kind == "alert" and event.code.startswith("rul"):  # type: ignore[attr-defined]
            self.items[event.subject] = {**event.data, "at": event.ts.isoformat(),  # type: ignore[attr-defined]
                                         "source": event.source}

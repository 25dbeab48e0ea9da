"""Projections beside the inventory and asset records, folded by the twin itself (so every snapshot
carries them): open and past work orders, and the latest remaining-useful-life estimate per asset (what
the API lists beside the assets). :class:`WorkOrderIndex` and :class:`RulIndex` are the same folds as
stand-alone follower subscribers."""

from __future__ import annotations

from typing import Any

from ..events import EventBase

__all__ = ["RulIndex", "WorkOrderIndex", "fold_rul", "fold_work_order"]


def fold_work_order(items: dict[str, dict[str, Any]], event: EventBase) -> None:
    """Work orders by id, from a ``maintenance`` event: opened (with the decision that opened it, when a
    decision did), started (``in_progress``), completed or cancelled. Entries are replaced, never changed
    in place, so a copy of ``items`` is a snapshot."""
    wo = event.work_order_id  # type: ignore[attr-defined]
    action = event.action  # type: ignore[attr-defined]
    if action == "work_order_opened" and wo:
        items[wo] = {"work_order_id": wo, "asset_id": event.asset_id, "status": "open",  # type: ignore
                     "opened_at": event.ts, "detail": event.detail,  # type: ignore[attr-defined]
                     "decision_id": wo[3:] if wo.startswith("WO-D") else None}
    elif wo and wo in items and action in ("started", "completed", "cancelled"):
        items[wo] = {**items[wo], "status": {"started": "in_progress"}.get(action, action)}


def fold_rul(items: dict[str, dict[str, Any]], event: EventBase) -> None:
    """The latest ``rul*`` alert per asset: its data (low, median, high ...), when and from whom."""
    if event.code.startswith("rul"):  # type: ignore[attr-defined]
        items[event.subject] = {**event.data, "at": event.ts.isoformat(),  # type: ignore[attr-defined]
                                "source": event.source}


class WorkOrderIndex:
    """:func:`fold_work_order` as a follower subscriber (the twin's state keeps the same in ``work_orders``)."""

    #: the event kinds it reads (the log follower calls it for these only)
    kinds = frozenset({"maintenance"})

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def observe(self, event: EventBase, twin: Any = None) -> None:
        if event.kind == "maintenance":  # type: ignore[attr-defined]
            fold_work_order(self.items, event)


class RulIndex:
    """:func:`fold_rul` as a follower subscriber (the twin's state keeps the same in ``rul``)."""

    #: the event kinds it reads (the log follower calls it for these only)
    kinds = frozenset({"alert"})

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def observe(self, event: EventBase, twin: Any = None) -> None:
        if event.kind == "alert":  # type: ignore[attr-defined]
            fold_rul(self.items, event)

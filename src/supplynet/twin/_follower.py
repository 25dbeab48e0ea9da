"""The one log follower: it tails the log, folds each event into a twin and hands it to subscribers.

Nobody else reads the log forward. The loop (``supplynet run``), the API's twin service and
:meth:`Twin.catch_up` each own a :class:`Follower` over their twin; what they keep beside the twin
(work orders, RUL estimates, the decision makers' sensors) is a subscriber:

* an :class:`Observer` has ``observe(event, twin)``, called for every event after the twin folded it
  (a projection: the work-order index, the latest RUL per asset);
* a :class:`Watcher` is an observer that also decides: ``decide(twin, now)`` returns the decisions it
  made since its last call (replenishment, maintenance, shipment delays ...).

    follower = Follower(store, twin, [work_orders, machines])
    follower.poll()                        # fold what was committed since the twin's offset
    follower.lag()                         # events committed but not folded yet

A subscriber may declare ``kinds``, the event kinds it reads (a set; None or absent: every kind); the
follower then calls it for those events only (:func:`by_kind`), so a watcher of GPS fixes costs nothing
per sale.

Snapshots bound restart time: :meth:`Follower.snapshot_due` says when ``every`` events or seconds have
passed since the last one, and :meth:`Follower.save_snapshot` writes the twin through
:meth:`Twin.save_snapshot`. The owner calls them at a point where the twin's offset is safe to resume
from (the loop: right after its checkpoint committed), so a restart folds only the tail.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..errors import ParameterError
from ..events import EventBase
from ._state import apply as fold

if TYPE_CHECKING:
    from ..store import Store
    from ._twin import Twin

__all__ = ["Follower", "Observer", "SnapshotEvery", "Watcher", "by_kind"]


@runtime_checkable
class Observer(Protocol):
    """A subscriber of the follower: sees every event once, in log order, after the twin folded it."""

    def observe(self, event: EventBase, twin: Twin) -> Any: ...


@runtime_checkable
class Watcher(Observer, Protocol):
    """An observer that decides: ``decide(twin, now)`` returns what it decided since its last call."""

    def decide(self, twin: Twin, now: datetime) -> Sequence[Any]: ...


def by_kind(subscribers: Sequence[Any]) -> Callable[[str], tuple[Callable[..., Any], ...]]:
    """``for_kind(kind)``: the ``observe`` methods of the ``subscribers`` that read events of ``kind`` (in
    their order), worked out once per kind. A subscriber reads every kind unless it has ``kinds``, a
    container of the kinds it reads."""
    table: dict[str, tuple[Callable[..., Any], ...]] = {}

    def for_kind(kind: str) -> tuple[Callable[..., Any], ...]:
        fns = table.get(kind)
        if fns is None:
            fns = table[kind] = tuple(s.observe for s in subscribers
                                      if (k := getattr(s, "kinds", None)) is None or kind in k)
        return fns

    return for_kind


@dataclass(frozen=True)
class SnapshotEvery:
    """Write a twin snapshot after ``events`` folded events or ``seconds`` of wall time, whichever first
    (``seconds`` counts only while events keep coming); keep the latest ``keep`` of the writer's name
    (older ones are pruned as each is written, except those a loop's checkpoint still needs)."""

    events: int = 25_000
    seconds: float = 300.0
    keep: int = 3

    def __post_init__(self) -> None:
        if self.events < 1:
            raise ParameterError(f'"events" must be >= 1, not {self.events}')
        if self.seconds <= 0:
            raise ParameterError(f'"seconds" must be > 0, not {self.seconds}')
        if not isinstance(self.keep, int) or self.keep < 1:
            raise ParameterError(f'"keep" must be an integer >= 1, not {self.keep!r}')


class Follower:
    """Tails ``store``'s log after ``twin.offset``; folds each event into ``twin``, then calls every
    subscriber's ``observe(event, twin)`` in the order they were given."""

    def __init__(self, store: Store, twin: Twin, subscribers: Iterable[Observer] = (), *,
                 snapshots: SnapshotEvery | None = None):
        self.store = store
        self.twin = twin
        self.subscribers: list[Observer] = []
        for s in subscribers:
            self.subscribe(s)
        self.snapshots = snapshots
        self.folded = 0  # events folded by this follower
        self._snap_offset = twin.offset
        self._snap_at = time.monotonic()

    def subscribe(self, subscriber: Observer) -> None:
        if not callable(getattr(subscriber, "observe", None)):
            raise TypeError(f"a follower's subscriber needs observe(event, twin); {type(subscriber).__name__} has none")
        self.subscribers.append(subscriber)

    def poll(self, *, limit: int | None = None, stop: Callable[[EventBase], bool] | None = None) -> int:
        """Fold what was committed after the twin's offset; returns how many events. ``limit``: at most
        this many; ``stop(event)``: True stops before that event (it is folded by the next poll)."""
        twin, state = self.twin, self.twin.state
        for_kind = by_kind(self.subscribers)
        n = 0
        for rec in self.store.log.read(after_offset=twin.offset, limit=limit, order="offset"):
            e = rec.event
            if stop is not None and stop(e):
                break
            fold(state, e)  # Twin.apply without the call: offsets come in ascending order
            twin.offset = rec.offset
            for observe in for_kind(e.kind):  # type: ignore[attr-defined]
                observe(e, twin)
            n += 1
        self.folded += n
        return n

    def head(self) -> int:
        """The log's last offset (0 when empty)."""
        return int(self.store.log.last_offset() or 0)

    def lag(self) -> int:
        """Events committed to the log but not folded yet (offsets; one per event)."""
        return max(0, self.head() - self.twin.offset)

    def snapshot_due(self) -> bool:
        if self.snapshots is None or self.twin.offset <= self._snap_offset:
            return False
        return (self.twin.offset - self._snap_offset >= self.snapshots.events
                or time.monotonic() - self._snap_at >= self.snapshots.seconds)

    def save_snapshot(self, name: str = "twin") -> None:
        """Write the twin as it is now (its offset included) through :meth:`Twin.save_snapshot` under its
        writer's ``name``, then prune the older ones of that name (:attr:`SnapshotEvery.keep`)."""
        self.twin.save_snapshot(self.store, name)
        self.store.snapshots.prune(self.snapshots.keep if self.snapshots is not None else SnapshotEvery.keep)
        self._snap_offset = self.twin.offset
        self._snap_at = time.monotonic()

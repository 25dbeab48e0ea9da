"""Per-source sequence numbers and batching of the events a fleet produces in one tick."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ..events import EventBase

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["Emitter", "Sink", "LogSink", "CallbackSink"]


class Sink(Protocol):
    """Where a fleet's events go: ``send(source, events)`` one device's batch for a tick."""

    def send(self, source: str, events: list[EventBase]) -> None: ...


class LogSink:
    """Trusted, in-process sink: append straight to the store's log (one durable commit a tick)."""

    def __init__(self, store: Store):
        self.store = store
        self._pending: list[EventBase] = []

    def send(self, source: str, events: list[EventBase]) -> None:
        self._pending.extend(events)

    def flush(self) -> None:
        if self._pending:
            self.store.log.append(self._pending)
            self._pending = []


class CallbackSink:
    """Calls ``fn(source, events)``: for tests and custom transports."""

    def __init__(self, fn: Callable[[str, list[EventBase]], None]):
        self.fn = fn

    def send(self, source: str, events: list[EventBase]) -> None:
        self.fn(source, events)


class Emitter:
    """Numbers events per source (``seq`` strictly increasing per device) and groups them."""

    def __init__(self, start_seq: dict[str, int] | None = None):
        self.seq: dict[str, int] = defaultdict(int, start_seq or {})
        self.batch: dict[str, list[EventBase]] = defaultdict(list)

    def emit(self, cls: type[EventBase], source: str, **fields: Any) -> EventBase:
        self.seq[source] += 1
        event = cls(source=source, seq=self.seq[source], **fields)
        self.batch[source].append(event)
        return event

    def drain(self) -> dict[str, list[EventBase]]:
        out, self.batch = dict(self.batch), defaultdict(list)
        return out

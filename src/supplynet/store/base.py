"""The store's narrow interface, the same for every backend.

Other modules reach the database only through these objects, never by writing SQL:

* :class:`EventLog` -- the append-only, idempotent, durable log of canonical events;
* :class:`SnapshotStore` -- the twin's snapshots (state at a log offset);
* :class:`Store` -- owns both, the connection(s) and the schema (:meth:`Store.migrate`).

Offsets are positive integers given by the log in commit order, one per stored event (events kept
in one batch row get consecutive offsets). Times are integer microseconds since the epoch
(:func:`supplynet.events.ts_to_us`) or timezone-aware datetimes; ranges are half-open
``[since, until)``.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from ..errors import ParameterError
from ..events import EventBase, ts_to_us

__all__ = [
    "AppendResult",
    "EventLog",
    "LoggedEvent",
    "Order",
    "Snapshot",
    "SnapshotStore",
    "Store",
    "TimeLike",
    "redact_url",
    "to_us",
]

Order = Literal["offset", "time"]
TimeLike = datetime | int


def to_us(value: TimeLike | None, name: str = "time") -> int | None:
    """A datetime (timezone-aware) or integer microseconds -> integer microseconds."""
    if value is None:
        return None
    if isinstance(value, datetime):
        try:
            return ts_to_us(value)
        except ValueError as exc:
            raise ParameterError(f"{name}: {exc}") from exc
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"{name} must be a timezone-aware datetime or integer microseconds, not {value!r}")


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (safe for messages and logs)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable url>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """An event as the log holds it: its offset, the event, and when the log committed it."""

    offset: int
    event: EventBase
    received_at: datetime


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What an append did: ``stored`` new events, ``duplicates`` already in the log (ignored)."""

    stored: int = 0
    duplicates: int = 0

    def __add__(self, other: AppendResult) -> AppendResult:
        return AppendResult(self.stored + other.stored, self.duplicates + other.duplicates)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A serialized twin state covering every log event with offset <= ``offset``."""

    id: int
    offset: int
    ts_us: int
    blob: bytes
    created_at: datetime
    name: str = "twin"


class EventLog(abc.ABC):
    """Append-only, idempotent, durable log of canonical events.

    * **Idempotent:** an event is identified by ``(source, seq)`` and stored once however often
      it arrives; repeats count as ``duplicates``.
    * **Durable:** ``append`` returns only after the transaction holding the events is committed
      and flushed to stable storage (SQLite ``synchronous=FULL``; PostgreSQL commit).
    * **Group commit:** concurrent callers are merged into one transaction by one committer;
      each returns after the commit that holds its events. If an append raises, none of its
      events were committed by it; resending is always safe (idempotent).
    * **High water:** ``high_water(source)`` is the highest committed ``seq`` of the source. When a
      device numbers its messages without gaps, everything at or below it is stored.
    """

    @abc.abstractmethod
    def append(self, events: Iterable[EventBase]) -> AppendResult:
        """Store events (one row each), durably and at most once each."""

    @abc.abstractmethod
    def append_batch(self, source: str, events: Sequence[EventBase]) -> AppendResult:
        """Store a run of events from one ``source`` as one row (readings kept as a list)."""

    @abc.abstractmethod
    def append_batches(self, runs: Sequence[tuple[str, Sequence[EventBase]]]) -> list[AppendResult]:
        """Several runs ``(source, events)``, each kept as :meth:`append_batch` keeps it, committed
        together in one durable transaction; one result per run, in order."""

    @abc.abstractmethod
    def read(
        self,
        since: TimeLike | None = None,
        until: TimeLike | None = None,
        sources: Iterable[str] | None = None,
        kinds: Iterable[str] | None = None,
        after_offset: int | None = None,
        limit: int | None = None,
        order: Order = "offset",
    ) -> Iterator[LoggedEvent]:
        """Events with event time in ``[since, until)``, of ``sources`` and ``kinds`` (all when
        None), with offset > ``after_offset``, in offset order or event-time order (ties by
        offset), at most ``limit`` of them."""

    @abc.abstractmethod
    def high_water(self, source: str) -> int | None:
        """Highest committed ``seq`` of ``source`` (None if nothing from it is stored)."""

    @abc.abstractmethod
    def high_waters(self) -> dict[str, int]:
        """``{source: highest committed seq}`` for every source in the log."""

    @abc.abstractmethod
    def count(self) -> int:
        """Number of events stored."""

    @abc.abstractmethod
    def last_offset(self) -> int | None:
        """Offset of the last committed event (None when the log is empty)."""


class SnapshotStore(abc.ABC):
    """Snapshots of the twin: an opaque blob with the log offset and event time it covers."""

    @abc.abstractmethod
    def save_snapshot(self, offset: int, ts_us: int, blob: bytes, *, name: str = "twin") -> int:
        """Store a snapshot durably under its writer's ``name``; returns its id."""

    @abc.abstractmethod
    def latest_snapshot(self, before_ts_us: int | None = None, *, name: str | None = None,
                        max_offset: int | None = None) -> Snapshot | None:
        """The snapshot with the greatest ``ts_us`` at or before ``before_ts_us`` (any when None);
        ties go to the greatest offset. ``name``: only that writer's; ``max_offset``: only snapshots
        covering the log up to that offset or less."""

    @abc.abstractmethod
    def prune(self, keep: int = 3) -> int:
        """Delete all but the latest ``keep`` snapshots of each name, keeping any a loop's checkpoint still
        needs (the one its saved state belongs to, the newest at or before its checkpoint); returns how
        many were deleted."""


class Store(abc.ABC):
    """A database holding supplynet's tables. Use as a context manager or call :meth:`close`."""

    url: str

    @property
    @abc.abstractmethod
    def log(self) -> EventLog: ...

    @property
    @abc.abstractmethod
    def snapshots(self) -> SnapshotStore: ...

    @abc.abstractmethod
    def migrate(self) -> int:
        """Apply pending schema migrations (idempotent); returns the schema version."""

    @abc.abstractmethod
    def schema_version(self) -> int:
        """The schema version the database is at."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections; further use raises :class:`~supplynet.errors.StoreError`."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({redact_url(self.url)!r})"

"""The store's narrow interface, the same for every backend.

Other modules reach the database only through these objects, never by writing SQL:

* :class:`EventLog` -- the append-only, idempotent, durable log of canonical events;
* :class:`SnapshotStore` -- the twin's snapshots (state at a log offset);
* :class:`Store` -- owns both, every other table of the store (one accessor each: ``ingest``,
  ``devices``, ``decisions``, ``audit``, ``tokens``, ``scenarios``, ``outbox``, ``sink_secrets``,
  ``brain``), the connection(s), the schema (:meth:`Store.migrate`) and the write transaction that
  makes writes to several tables one durable commit (:meth:`Store.transaction`, handed to the
  accessors' ``*_tx`` methods).

Offsets are positive integers given by the log in commit order, one per stored event (events kept
in one batch row get consecutive offsets). Times are integer microseconds since the epoch
(:func:`supplynet.events.ts_to_us`) or timezone-aware datetimes; ranges are half-open
``[since, until)``.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit, urlunsplit

from ..errors import ParameterError
from ..events import ColumnRun, EventBase, WireItem, ts_to_us

if TYPE_CHECKING:
    from ._sql import Tx
    from .audit import AuditLog
    from .brain import BrainTables
    from .decisions import DecisionTable
    from .devices import SqlRegistryBackend
    from .outbox import OutboxTable, SinkSecretTable
    from .quarantine import IngestTables
    from .scenarios import ScenarioTable
    from .tokens import TokenTable

__all__ = [
    "AppendResult",
    "EventLog",
    "LoggedEvent",
    "Order",
    "Snapshot",
    "SnapshotStore",
    "Store",
    "TimeLike",
    "WireRun",
    "redact_url",
    "to_us",
]

Order = Literal["offset", "time"]
TimeLike = datetime | int
#: a run of one source's events already validated and serialized, for :meth:`EventLog.append_wire_batches`:
#: ``(source, [(seq, ts_us, kind, wire_json), ...])`` sorted by ``seq`` without repeats, or
#: ``(source, ColumnRun)``
WireRun = tuple[str, list[WireItem] | ColumnRun]


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
    def append_wire_batches(self, runs: Sequence[WireRun]) -> list[AppendResult]:
        """Like :meth:`append_batches` for events a trusted caller (the ingest gate's fast path)
        already validated and serialized (:data:`WireRun`): each ``wire_json`` readable by
        ``parse_event``, a :class:`~supplynet.events.ColumnRun`'s columns read back as valid events."""

    @abc.abstractmethod
    def append_wire_batches_tx(self, tx: Tx, runs: Sequence[WireRun]) -> list[AppendResult]:
        """:meth:`append_wire_batches` inside a write transaction the caller holds (from
        :meth:`Store.transaction` of this log's store), so that the log rows commit together with the
        caller's other rows (the gate's bookkeeping, the loop's decisions): one durable transaction,
        and a crash leaves all of them or none."""

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
    """A database holding supplynet's tables. Use as a context manager or call :meth:`close`.

    Every table is reached through an accessor of the store (no module outside
    :mod:`supplynet.store` builds one or writes SQL); :mod:`supplynet.testing.store_contract` checks
    each on every backend."""

    url: str
    #: the database engine (``sqlite``, ``postgres``, or a plug-in's name)
    dialect: str = ""

    @property
    def safe_url(self) -> str:
        """The URL without its password (for messages and logs)."""
        return redact_url(self.url)

    @property
    def path(self) -> Path | None:
        """The database file when the store is one file on this machine (SQLite), else None."""
        return None

    @property
    @abc.abstractmethod
    def log(self) -> EventLog: ...

    @property
    @abc.abstractmethod
    def snapshots(self) -> SnapshotStore: ...

    @property
    @abc.abstractmethod
    def ingest(self) -> IngestTables:
        """The ingest gate's bookkeeping: quarantine, late events, per-device counters and acks."""

    @property
    @abc.abstractmethod
    def devices(self) -> SqlRegistryBackend:
        """The device registry's records (changes audited as ``supplynet``; ``.acting_as(actor)`` for another)."""

    @property
    @abc.abstractmethod
    def decisions(self) -> DecisionTable:
        """Decisions, request idempotency keys and control settings (the autonomy policy)."""

    @property
    @abc.abstractmethod
    def audit(self) -> AuditLog:
        """The hash-chained audit log and its signed checkpoints."""

    @property
    @abc.abstractmethod
    def tokens(self) -> TokenTable:
        """API tokens (their hashes) and the people who hold them."""

    @property
    @abc.abstractmethod
    def scenarios(self) -> ScenarioTable:
        """Scenario runs: parameters, status and results."""

    @property
    @abc.abstractmethod
    def outbox(self) -> OutboxTable:
        """The transactional outbox of actions for the sinks."""

    @property
    @abc.abstractmethod
    def sink_secrets(self) -> SinkSecretTable:
        """The sinks' sealed signing secrets."""

    @property
    @abc.abstractmethod
    def brain(self) -> BrainTables:
        """The loop's checkpoint, leader lease and saved state, and the network the store runs."""

    @abc.abstractmethod
    def transaction(self) -> AbstractContextManager[Tx]:
        """One exclusive write transaction, committed durably on leaving the block (rolled back when
        it raises); hand it to the accessors' ``*_tx`` methods to write several tables together. Not
        re-entrant: inside it, use the ``*_tx`` methods only."""

    @abc.abstractmethod
    def has_table(self, name: str) -> bool:
        """Whether the database holds the table ``name`` (a store made by an older version may not)."""

    @abc.abstractmethod
    def check(self) -> tuple[list[str], list[str]]:
        """``(problems, notes)``: what is wrong with the store (empty: healthy) and what was not checked."""

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

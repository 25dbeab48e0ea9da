"""The event log, snapshots and store over any SQL backend (SQLite, PostgreSQL).

A backend supplies connections and a few dialect hooks (:class:`SqlBackend`); everything else --
group commit, deduplication, offsets, batch rows, reads -- is written once here, so both
backends behave the same (checked by :mod:`supplynet.testing.store_contract`).

Group commit (Gray & Reuter, *Transaction Processing*, 1993, sec. 9.4.7; the leader/follower form
used by database engines): a caller queues its events; if no commit is running it becomes the
leader, takes every queued request, and writes them in one transaction; the others wait and return
once the commit that holds their events is durable.

Deduplication under the write lock: per source the log keeps the highest committed ``seq``. An
event above it cannot be a duplicate (the fast path, no lookup); one at or below it is looked up
among the rows whose sequence range can contain it.
"""

from __future__ import annotations

import abc
import heapq
import json
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from itertools import repeat
from typing import Any

from pydantic import ValidationError

from ..errors import EventError, ParameterError, StoreError
from ..events import (
    COLUMN_PREFIX,
    EVENT_TYPES,
    ColumnRun,
    EventBase,
    WireItem,
    parse_events,
    ts_to_us,
    us_to_ts,
)
from .base import (
    AppendResult,
    EventLog,
    LoggedEvent,
    Order,
    Snapshot,
    SnapshotStore,
    TimeLike,
    WireRun,
    redact_url,
    to_us,
)

__all__ = ["MAX_BATCH_ROW", "SqlBackend", "SqlEventLog", "SqlSnapshotStore", "Tx"]

#: a run given to ``append_batch`` is kept in rows of at most this many events
MAX_BATCH_ROW = 4096
_PAGE = 1000
_IN_CHUNK = 500
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_CLASSES = frozenset(EVENT_TYPES.values())
_COLUMNS = ("off", "n", "source", "seq", "seq_last", "ts_min", "ts_max", "kind", "body", "received_at")
_MIXED = "*"

# A unit is one future row of ``events``, a list in column order whose first item (the offset) the
# committer fills in, so the list itself is the row handed to the database:
# [off, n, source, seq, seq_last, ts_min, ts_max, kind, body]. A batch unit has its events kept
# beside it as items [(seq, ts_us, kind, json), ...] or a ColumnRun (None for a single event). A
# body is one event's JSON ("{"), a JSON array of events ("["), or a ColumnRun's columns ('{"c":1,').
Unit = list[Any]
Items = list[WireItem]
_ROW_COLUMNS = _COLUMNS[:-1]  # received_at is given once per transaction
#: (data_version, next offset, {source: [seq_max, n_events, seq_span, ts_span]}) after this log's last commit
_Memo = tuple[int, int, dict[str, list[int]]]
_MEMO_SOURCES = 200_000


class Tx(abc.ABC):
    """A write transaction: SQL with ``?`` placeholders in either dialect."""

    @abc.abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement; returns its rows (empty for statements without results)."""

    @abc.abstractmethod
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    @abc.abstractmethod
    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], constants: Mapping[str, int] | None = None
    ) -> None:
        """Bulk insert (SQLite ``executemany``, PostgreSQL ``COPY``); ``constants`` are integer columns
        with the same value in every row."""

    def data_version(self) -> int | None:
        """A number that changes when another connection commits to the database (SQLite's
        ``PRAGMA data_version``), so a writer may keep what it last wrote in memory; None: unknown."""
        return None


class SqlBackend(abc.ABC):
    """Connections and dialect of one database. The seam for the store's modules: a new table's
    class takes the backend and uses :meth:`write` and :meth:`query` (``?`` placeholders)."""

    dialect: str
    url: str

    @property
    def safe_url(self) -> str:
        return redact_url(self.url)

    @abc.abstractmethod
    def write(self) -> AbstractContextManager[Tx]:
        """An exclusive write transaction (one per database at a time), committed durably on exit.
        Not re-entrant: do not call the log's appends from inside it on the same thread (use
        :meth:`SqlEventLog.append_wire_batches_tx` to append inside a transaction you hold). Other
        modules get it as :meth:`Store.transaction <supplynet.store.base.Store.transaction>`."""

    @abc.abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read-only query on this thread's read connection (autocommit)."""

    @abc.abstractmethod
    def table_exists(self, name: str) -> bool: ...

    @abc.abstractmethod
    def close(self) -> None: ...


def _prepare_all(events: Iterable[EventBase]) -> list[Unit]:
    """Rows (units) for events, one each; this loop is the log's hot path (one comprehension, the
    serializer looked up once per class)."""
    events = events if isinstance(events, (list, tuple)) else list(events)
    sers: dict[type, Any] = {}
    for cls in {type(e) for e in events}:
        if cls not in _CLASSES:
            raise TypeError(f"the log stores canonical events from supplynet.events, not {cls.__name__}")
        sers[cls] = cls.__pydantic_serializer__.to_json
    epoch, us = _EPOCH, _US
    return [
        [0, 1, (f := e.__dict__)["source"], f["seq"], f["seq"], (t := (f["ts"] - epoch) // us), t, f["kind"],
         sers[type(e)](e, exclude_none=True, warnings=False).decode()]
        for e in events
    ]


def _batch_unit(source: str, items: Items | ColumnRun) -> Unit:
    if isinstance(items, ColumnRun):
        tus, seqs = items.tus, items.seqs
        return [0, len(tus), source, seqs[0], seqs[-1], min(tus), max(tus), items.head["kind"], items.body()]
    kinds = {it[2] for it in items}
    ts = [it[1] for it in items]
    return [
        0, len(items), source, items[0][0], items[-1][0], min(ts), max(ts),
        kinds.pop() if len(kinds) == 1 else _MIXED, "[" + ",".join(it[3] for it in items) + "]",
    ]


def _prepare_batch(source: str, events: Sequence[EventBase]) -> tuple[list[Unit], list[Items | None], int]:
    """Rows for a run of events of ``source`` (sorted by seq), their items, and in-run repeats."""
    by_seq: dict[int, tuple[int, int, str, str]] = {}
    for u in _prepare_all(events):
        if u[2] != source:
            raise EventError(f"append_batch({source!r}): event {u[2]}:{u[3]} comes from another source")
        by_seq.setdefault(u[3], (u[3], u[5], u[7], u[8]))
    ordered = [by_seq[s] for s in sorted(by_seq)]
    chunks: list[Items | None] = [ordered[i : i + MAX_BATCH_ROW] for i in range(0, len(ordered), MAX_BATCH_ROW)]
    return [_batch_unit(source, c) for c in chunks if c], chunks, len(events) - len(ordered)


class _Request:
    __slots__ = ("units", "items", "result", "error", "done")

    def __init__(self, units: list[Unit], items: list[Items | None] | None = None):
        self.units = units
        self.items = items  # None: every unit is a single event
        self.result = AppendResult()
        self.error: BaseException | None = None
        self.done = False


def _wire_requests(runs: Sequence[WireRun]) -> list[_Request]:
    """One request per run of serialized events ``(source, items)`` (or a :class:`ColumnRun`, one
    row), in rows of MAX_BATCH_ROW."""
    reqs = []
    for source, items in runs:
        if isinstance(items, ColumnRun):
            if len(items) <= MAX_BATCH_ROW:
                reqs.append(_Request([_batch_unit(source, items)], [items]))  # type: ignore[list-item]
                continue
            items = items.items()
        chunks: list[Items | None] = [items[i : i + MAX_BATCH_ROW] for i in range(0, len(items), MAX_BATCH_ROW)]
        reqs.append(_Request([_batch_unit(source, c) for c in chunks if c], chunks))
    return reqs


class SqlEventLog(EventLog):
    """:class:`~supplynet.store.base.EventLog` over a :class:`SqlBackend`."""

    def __init__(self, backend: SqlBackend):
        self._backend = backend
        self._cv = threading.Condition()
        self._pending: list[_Request] = []
        self._committing = False
        self._closed = False
        #: number of transactions committed by this process (shows group commit at work)
        self.commits = 0
        self._memo: _Memo | None = None

    # -- writing ---------------------------------------------------------------------------------

    def append(self, events: Iterable[EventBase]) -> AppendResult:
        units = _prepare_all(events)
        return self._submit(units, 0) if units else AppendResult()

    def append_batch(self, source: str, events: Sequence[EventBase]) -> AppendResult:
        if not events:
            return AppendResult()
        units, items, repeats = _prepare_batch(source, events)
        return self._submit(units, repeats, items)

    def append_batches(self, runs: Sequence[tuple[str, Sequence[EventBase]]]) -> list[AppendResult]:
        """Several runs ``(source, events)``, each kept as ``append_batch`` keeps it, committed in one
        transaction (with whatever else is queued); one result per run, in order."""
        prepared = [_prepare_batch(source, events) for source, events in runs]
        reqs = [_Request(units, items) for units, items, _ in prepared]
        self._wait(reqs)
        for req in reqs:
            if req.error is not None:
                raise req.error
        return [AppendResult(r.result.stored, r.result.duplicates + rep) for r, (_, _, rep) in zip(reqs, prepared, strict=True)]

    def append_wire_batches(self, runs: Sequence[WireRun]) -> list[AppendResult]:
        """Like :meth:`append_batches` for events a trusted caller (the ingest gate's fast path)
        already validated and serialized: per run ``(source, [(seq, ts_us, kind, wire_json), ...])``
        sorted by ``seq`` without repeats, each ``wire_json`` readable by ``parse_event``; or
        ``(source, ColumnRun)`` whose columns read back as valid events."""
        reqs = _wire_requests(runs)
        self._wait(reqs)
        for req in reqs:
            if req.error is not None:
                raise req.error
        return [req.result for req in reqs]

    def _submit(self, units: list[Unit], repeats: int, items: list[Items | None] | None = None) -> AppendResult:
        req = _Request(units, items)
        self._wait([req])
        if req.error is not None:
            raise req.error
        return AppendResult(req.result.stored, req.result.duplicates + repeats)

    def _wait(self, reqs: list[_Request]) -> None:
        with self._cv:
            if self._closed:
                raise StoreError(f"the store {self._backend.safe_url} is closed")
            self._pending.extend(reqs)
            while not all(r.done for r in reqs):
                if self._committing:
                    self._cv.wait()
                    continue
                self._committing = True
                group, self._pending = self._pending, []
                self._cv.release()
                try:
                    self._commit(group)
                finally:
                    self._cv.acquire()
                    self._committing = False
                    self._cv.notify_all()

    def _commit(self, group: list[_Request]) -> None:
        try:
            results = self._write(group)
        except BaseException as exc:  # every waiting caller learns its events are not stored
            err = exc if isinstance(exc, StoreError) else StoreError(f"append failed: {exc}")
            if err is not exc:
                err.__cause__ = exc
            for req in group:
                req.error, req.done = err, True
            if not isinstance(exc, Exception):
                raise
            return
        for req, res in zip(group, results, strict=True):
            req.result, req.done = res, True
        self.commits += 1

    def append_wire_batches_tx(self, tx: Tx, runs: Sequence[WireRun]) -> list[AppendResult]:
        """:meth:`append_wire_batches` inside a write transaction the caller holds (from this log's
        backend's ``write()``), so that the log rows commit together with the caller's other rows
        (the ingest gate's quarantine, counters and acknowledgements): one durable transaction, and
        a crash leaves either all of them or none. Works on every :class:`SqlBackend` (SQLite and
        PostgreSQL): the backend's write lock serializes it with this log's own group commits."""
        reqs = _wire_requests(runs)
        self._memo = None  # the caller's transaction may still roll back
        return self._write_tx(tx, reqs)[0] if reqs else []

    def _write(self, group: list[_Request]) -> list[AppendResult]:
        memo, self._memo = self._memo, None
        try:
            with self._backend.write() as tx:
                results, self._memo = self._write_tx(tx, group, memo)  # set under the write lock
        except BaseException:
            self._memo = None  # the commit failed: read the truth back next time
            raise
        return results

    def _write_tx(self, tx: Tx, group: list[_Request], memo: _Memo | None = None
                  ) -> tuple[list[AppendResult], _Memo | None]:
        """Write ``group`` in ``tx``. ``memo``: the next offset and per-source stats this log committed
        last, used instead of reading them back while no other connection has committed since (the
        database's ``data_version`` unchanged); returns the results and the memo after this write."""
        sources = {u[2] for req in group for u in req.units}
        results: list[AppendResult] = []
        version = tx.data_version()
        if memo is not None and version is not None and memo[0] == version:
            off, cached = memo[1], memo[2]
            known = {s: cached[s] for s in sources if s in cached}
            if len(known) < len(sources):
                known.update(_source_stats(tx, sources - known.keys()))
        else:
            cached = {}
            last = tx.execute("SELECT off + n FROM events ORDER BY off DESC LIMIT 1")
            off = last[0][0] if last else 1
            known = _source_stats(tx, sources)
        # per source [seq_max, n_events, seq_span, ts_span]; -1: nothing stored yet
        stats = {s: list(known[s]) if s in known else [-1, 0, 0, 0] for s in sources}
        now = {"received_at": time.time_ns() // 1000}
        rows: list[Unit] = []
        for req in group:
            stored = dups = 0
            if req.items is None:  # single events (append): the hot path, nothing but offsets
                i = 0
                units = req.units
                for unit in units:
                    st = stats[unit[2]]
                    if unit[3] <= st[0]:
                        break
                    unit[0] = off
                    off += 1
                    st[0] = unit[3]
                    st[1] += 1
                    i += 1
                rows += units[:i] if i < len(units) else units
                stored = i
                if i == len(units):
                    results.append(AppendResult(stored, 0))
                    continue
                todo = zip(units[i:], repeat(None), strict=False)
            else:
                todo = zip(req.units, req.items, strict=True)
            for unit, items in todo:
                st = stats[unit[2]]
                if unit[3] <= st[0]:  # at or below the source's high water: look it up
                    if rows:
                        tx.insert_rows("events", _ROW_COLUMNS, rows, now)
                        rows = []
                    unit, items, d = _dedupe(tx, unit, items, st)
                    dups += d
                    if unit is None:
                        continue
                unit[0] = off
                n = unit[1]
                off += n
                stored += n
                rows.append(unit)
                if unit[4] > st[0]:
                    st[0] = unit[4]
                st[1] += n
                if items is not None:
                    st[2] = max(st[2], unit[4] - unit[3])
                    st[3] = max(st[3], unit[6] - unit[5])
            results.append(AppendResult(stored, dups))
        if rows:
            tx.insert_rows("events", _ROW_COLUMNS, rows, now)
        changed = [(s, *st) for s, st in stats.items() if st != known.get(s) and st[0] >= 0]
        if changed:
            tx.executemany(
                "INSERT INTO log_sources (source, seq_max, n_events, seq_span, ts_span) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (source) DO UPDATE SET seq_max = excluded.seq_max, n_events = excluded.n_events, "
                "seq_span = excluded.seq_span, ts_span = excluded.ts_span",
                changed,
            )
        if version is None or len(cached) + len(stats) > _MEMO_SOURCES:
            return results, None
        cached.update((s, st) for s, st in stats.items() if st[0] >= 0)
        return results, (version, off, cached)

    # -- reading ---------------------------------------------------------------------------------

    def high_water(self, source: str) -> int | None:
        rows = self._backend.query("SELECT seq_max FROM log_sources WHERE source = ?", (source,))
        return int(rows[0][0]) if rows else None

    def high_waters(self) -> dict[str, int]:
        return {s: int(m) for s, m in self._backend.query("SELECT source, seq_max FROM log_sources ORDER BY source")}

    def count(self) -> int:
        return int(self._backend.query("SELECT coalesce(sum(n_events), 0) FROM log_sources")[0][0])

    def last_offset(self) -> int | None:
        rows = self._backend.query("SELECT off + n - 1 FROM events ORDER BY off DESC LIMIT 1")
        return int(rows[0][0]) if rows else None

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
        if order not in ("offset", "time"):
            raise ParameterError(f"order must be 'offset' or 'time', not {order!r}")
        since_us, until_us = to_us(since, "since"), to_us(until, "until")
        srcs = [sources] if isinstance(sources, str) else (None if sources is None else list(sources))
        kind_set = None
        if kinds is not None:
            kind_set = {kinds} if isinstance(kinds, str) else set(kinds)
            unknown = sorted(kind_set - set(EVENT_TYPES))
            if unknown:
                raise EventError(f"unknown event kind {unknown[0]!r}; known kinds: {', '.join(sorted(EVENT_TYPES))}")
        if limit is not None and limit < 0:
            raise ParameterError(f"limit must be >= 0, not {limit}")
        where: list[str] = []
        params: list[Any] = []
        if srcs is not None:
            where.append(f"source IN ({', '.join('?' * len(srcs))})")
            params += srcs
        if kind_set is not None:
            where.append(f"(kind IN ({', '.join('?' * len(kind_set))}) OR kind = '{_MIXED}')")
            params += sorted(kind_set)
        if since_us is not None:
            where.append("ts_min >= ? AND ts_max >= ?")
            params += [since_us - self._ts_span(srcs), since_us]
        if until_us is not None:
            where.append("ts_min < ?")
            params.append(until_us)
        if after_offset is not None:
            first = self._backend.query("SELECT max(off) FROM events WHERE off <= ?", (after_offset,))[0][0]
            where.append("off >= ?")
            params.append(first if first is not None else after_offset + 1)
        empty = (srcs is not None and not srcs) or kind_set == set() or limit == 0
        filt = _Filter(since_us, until_us, kind_set, after_offset, need_ts=order == "time")
        rows = iter(()) if empty else self._rows(where, params, order)
        events = _in_offset_order(rows, filt) if order == "offset" else _in_time_order(rows, filt)
        return _take(events, limit)

    def _ts_span(self, sources: list[str] | None) -> int:
        if sources is None:
            rows = self._backend.query("SELECT max(ts_span) FROM log_sources")
        else:
            rows = self._backend.query(
                f"SELECT max(ts_span) FROM log_sources WHERE source IN ({', '.join('?' * len(sources))})", sources
            ) if sources else [(0,)]
        return int(rows[0][0] or 0)

    def _rows(self, where: list[str], params: list[Any], order: Order) -> Iterator[tuple[Any, ...]]:
        """Matching rows page by page (keyset pagination: no long-lived cursor or snapshot)."""
        cols = "off, n, kind, body, received_at, ts_min, ts_max"
        key: tuple[int, int] | None = None
        while True:
            conds, args = list(where), list(params)
            if key is not None:
                if order == "offset":
                    conds.append("off > ?")
                    args.append(key[1])
                else:
                    conds.append("ts_min >= ? AND (ts_min > ? OR off > ?)")
                    args += [key[0], key[0], key[1]]
            sql = f"SELECT {cols} FROM events"
            if conds:
                sql += " WHERE " + " AND ".join(conds)
            sql += " ORDER BY off" if order == "offset" else " ORDER BY ts_min, off"
            page = self._backend.query(sql + f" LIMIT {_PAGE}", args)
            yield from page
            if len(page) < _PAGE:
                return
            key = (page[-1][5], page[-1][0])

    def close(self) -> None:
        with self._cv:
            self._closed = True
            while self._committing:
                self._cv.wait()


def _source_stats(tx: Tx, sources: set[str]) -> dict[str, list[int]]:
    """``{source: [seq_max, n_events, seq_span, ts_span]}`` for the sources already in the log."""
    out: dict[str, list[int]] = {}
    names = sorted(sources)
    for i in range(0, len(names), _IN_CHUNK):
        chunk = names[i : i + _IN_CHUNK]
        for s, *vals in tx.execute(
            f"SELECT source, seq_max, n_events, seq_span, ts_span FROM log_sources "
            f"WHERE source IN ({', '.join('?' * len(chunk))})",
            chunk,
        ):
            out[s] = [int(v) for v in vals]
    return out


def _dedupe(tx: Tx, unit: Unit, items: Items | None, st: list[int]) -> tuple[Unit | None, Items | None, int]:
    """Drop from ``unit`` the events already stored; returns the rest (None if nothing is new)."""
    source, lo, hi = unit[2], unit[3], unit[4]
    stored: set[int] = set()
    for seq, body in tx.execute(
        "SELECT seq, body FROM events WHERE source = ? AND seq >= ? AND seq <= ? AND seq_last >= ?",
        (source, lo - st[2], hi, lo),
    ):
        if body.startswith("["):  # a batch row (even one of a single event)
            stored.update(int(e["seq"]) for e in json.loads(body))
        elif body.startswith(COLUMN_PREFIX):  # a column row
            stored.update(ColumnRun.from_body(body).seqs)
        else:
            stored.add(int(seq))
    if items is None:
        return (None, None, 1) if lo in stored else (unit, None, 0)
    if isinstance(items, ColumnRun):
        rest = items.without(stored)
        if rest is None:
            return None, None, len(items)
        return _batch_unit(source, rest), rest, len(items) - len(rest)  # type: ignore[return-value]
    fresh = [it for it in items if it[0] not in stored]
    if not fresh:
        return None, None, len(items)
    return _batch_unit(source, fresh), fresh, len(items) - len(fresh)


class _Filter:
    __slots__ = ("since", "until", "kinds", "after", "need_ts")

    def __init__(self, since: int | None, until: int | None, kinds: set[str] | None, after: int | None,
                 need_ts: bool = True):
        self.since, self.until, self.kinds, self.after, self.need_ts = since, until, kinds, after, need_ts

    def expand(self, row: tuple[Any, ...]) -> Iterator[tuple[int, int, EventBase, datetime]]:
        """The row's events that pass the filter, as ``(ts_us, offset, event, received_at)``."""
        off, n, kind, body, received, _, _ = row
        try:
            if body.startswith("["):
                events = parse_events(body)
            elif body.startswith(COLUMN_PREFIX):
                events = ColumnRun.from_body(body).events()
            else:
                events = [EVENT_TYPES[kind].model_validate_json(body)]
        except (ValidationError, EventError, KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"the log row at offset {off} cannot be read back: {exc}") from exc
        at = us_to_ts(int(received))
        timed = self.since is not None or self.until is not None or self.need_ts
        for i, e in enumerate(events):
            o = off + i
            if self.after is not None and o <= self.after:
                continue
            ts = ts_to_us(e.ts) if timed else 0  # read in offset order without a time range: not needed
            if (self.since is not None and ts < self.since) or (self.until is not None and ts >= self.until):
                continue
            if self.kinds is not None and e.kind not in self.kinds:  # type: ignore[attr-defined]
                continue
            yield ts, o, e, at


def _in_offset_order(rows: Iterator[tuple[Any, ...]], filt: _Filter) -> Iterator[LoggedEvent]:
    for row in rows:
        for _, o, e, at in filt.expand(row):
            yield LoggedEvent(o, e, at)


def _in_time_order(rows: Iterator[tuple[Any, ...]], filt: _Filter) -> Iterator[LoggedEvent]:
    """Merge rows (sorted by their earliest time) into events sorted by (time, offset)."""
    heap: list[tuple[int, int, EventBase, datetime]] = []
    for row in rows:
        ts_min = row[5]
        while heap and heap[0][0] < ts_min:
            _, o, e, at = heapq.heappop(heap)
            yield LoggedEvent(o, e, at)
        for item in filt.expand(row):
            heapq.heappush(heap, item)
    while heap:
        _, o, e, at = heapq.heappop(heap)
        yield LoggedEvent(o, e, at)


def _take(events: Iterator[LoggedEvent], limit: int | None) -> Iterator[LoggedEvent]:
    if limit is None:
        yield from events
        return
    for i, e in enumerate(events):
        if i >= limit:
            return
        yield e


class SqlSnapshotStore(SnapshotStore):
    def __init__(self, backend: SqlBackend):
        self._backend = backend

    def save_snapshot(self, offset: int, ts_us: int, blob: bytes, *, name: str = "twin") -> int:
        if not isinstance(blob, bytes | bytearray | memoryview):
            raise TypeError(f"a snapshot blob must be bytes, not {type(blob).__name__}")
        if offset < 0:
            raise ParameterError(f"snapshot offset must be >= 0, not {offset}")
        if not isinstance(name, str) or not 0 < len(name) <= 128:
            raise ParameterError(f"a snapshot's name must be 1 to 128 characters, not {name!r}")
        with self._backend.write() as tx:
            rows = tx.execute(
                "INSERT INTO snapshots (log_offset, ts_us, blob, created_at, name) VALUES (?, ?, ?, ?, ?) RETURNING id",
                (int(offset), int(ts_us), bytes(blob), time.time_ns() // 1000, name),
            )
        return int(rows[0][0])

    def latest_snapshot(self, before_ts_us: int | None = None, *, name: str | None = None,
                        max_offset: int | None = None) -> Snapshot | None:
        sql = "SELECT id, log_offset, ts_us, blob, created_at, name FROM snapshots"
        where, params = [], []
        if before_ts_us is not None:
            where.append("ts_us <= ?")
            params.append(int(before_ts_us))
        if name is not None:
            where.append("name = ?")
            params.append(name)
        if max_offset is not None:
            where.append("log_offset <= ?")
            params.append(int(max_offset))
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._backend.query(sql + " ORDER BY ts_us DESC, log_offset DESC, id DESC LIMIT 1", params)
        if not rows:
            return None
        i, o, t, b, c, n = rows[0]
        return Snapshot(int(i), int(o), int(t), bytes(b), us_to_ts(int(c)), n)

    def prune(self, keep: int = 3) -> int:
        if not isinstance(keep, int) or keep < 1:
            raise ParameterError(f"snapshots to keep per name must be an integer >= 1, not {keep!r}")
        with self._backend.write() as tx:
            rows = tx.execute("SELECT id, name, log_offset FROM snapshots ORDER BY name, log_offset DESC, id DESC")
            loops = tx.execute("SELECT c.name, c.log_offset, s.log_offset FROM loop_checkpoints c "
                               "LEFT JOIN loop_state s ON s.name = c.name")
            loops += tx.execute("SELECT s.name, NULL, s.log_offset FROM loop_state s "
                                "WHERE s.name NOT IN (SELECT name FROM loop_checkpoints)")
            keep_ids: set[int] = set()
            seen: dict[str, int] = {}
            for i, n, _ in rows:  # the latest `keep` of each name
                seen[n] = seen.get(n, 0) + 1
                if seen[n] <= keep:
                    keep_ids.add(int(i))
            for n, cp, state in loops:  # what a loop resumes from: its state's snapshot, else one before its checkpoint
                mine = [(int(i), int(o)) for i, nm, o in rows if nm == n]
                if state is not None:
                    keep_ids.update(i for i, o in mine if o == int(state))
                if cp is not None:
                    before = [(o, i) for i, o in mine if o <= int(cp)]
                    if before:
                        keep_ids.add(max(before)[1])
            drop = [int(i) for i, _, _ in rows if int(i) not in keep_ids]
            for k in range(0, len(drop), _IN_CHUNK):
                chunk = drop[k:k + _IN_CHUNK]
                tx.execute(f"DELETE FROM snapshots WHERE id IN ({', '.join('?' * len(chunk))})", chunk)
        return len(drop)

"""Numbered schema migrations for both backends, applied idempotently when a store opens.

The database records what it has in ``schema_version(version, name, applied_at)``. To add a
table (quarantine, devices, decisions, audit ...), append a :class:`Migration` with the next
number to :data:`MIGRATIONS`, giving its statements for SQLite and for PostgreSQL; never edit a
migration that has shipped. Migrations run in one write transaction holding the database's write
lock (SQLite ``BEGIN IMMEDIATE``, a PostgreSQL advisory lock), so two processes opening the same
database at once apply each migration once.

Tables
------
``events``: one row per stored event, or per run of events of one source kept together
(``append_batch``). ``off`` is the first offset of the row, its events take ``off .. off+n-1``;
``seq .. seq_last`` and ``ts_min .. ts_max`` (integer microseconds) bound its sequence numbers and
event times; ``kind`` is the events' kind (``*`` when a batch mixes kinds); ``body`` is the wire
JSON of the event, a JSON list of them, or (an ingest envelope's readings) their columns:
``{"c":1,"h":{common fields},"seq":..,"ts":[..],"f":{field: [values]}}`` (:class:`supplynet.events.ColumnRun`),
read back into the same canonical events. Unique key ``(source, seq)``.

``log_sources``: per source, the highest committed ``seq`` (``seq_max``, the end-to-end ack), the
number of events, and the widest row seen in sequence numbers and in time (``seq_span``,
``ts_span``), which bound the range scans of deduplication and time-range reads.

``snapshots``: serialized twin states with the log offset and event time they cover, and the ``name`` of
their writer (a loop's name, ``api`` for the API's twin service, ``twin`` otherwise); the latest few per
name are kept (``SnapshotStore.prune``).

``outbox``: one row per action (``order``, ``transfer``, ``work_order``, ``reroute``, ``expedite``,
``alert``) and sink, written in the transaction that decides it and delivered later by the dispatcher
(``store.outbox``); unique ``(action_id, sink)``; ``status`` pending, delivered or dead; ``body`` its
canonical JSON. ``sink_secrets``: each webhook sink's HMAC secret, sealed under the vault key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..errors import StoreError

if TYPE_CHECKING:
    from ._sql import SqlBackend

__all__ = ["MIGRATIONS", "Migration", "apply_migrations", "current_version", "latest_version"]


@dataclass(frozen=True)
class Migration:
    """One schema step: ``version`` (1, 2, ...), a short ``name``, and its DDL per backend."""

    version: int
    name: str
    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]

    def statements(self, dialect: str) -> tuple[str, ...]:
        if dialect == "sqlite":
            return self.sqlite
        if dialect == "postgres":
            return self.postgres
        raise StoreError(f"migration {self.version} ({self.name}) has no statements for dialect {dialect!r}")


_EVENTS_INDEXES = (
    "CREATE INDEX events_source_ts ON events (source, ts_min)",
    "CREATE INDEX events_ts ON events (ts_min)",
    "CREATE INDEX events_kind_ts ON events (kind, ts_min)",
)

MIGRATIONS: list[Migration] = [
    Migration(
        1,
        "event log",
        sqlite=(
            """CREATE TABLE events (
                off INTEGER PRIMARY KEY,
                n INTEGER NOT NULL,
                source TEXT NOT NULL,
                seq INTEGER NOT NULL,
                seq_last INTEGER NOT NULL,
                ts_min INTEGER NOT NULL,
                ts_max INTEGER NOT NULL,
                kind TEXT NOT NULL,
                body TEXT NOT NULL,
                received_at INTEGER NOT NULL,
                UNIQUE (source, seq)
            )""",
            *_EVENTS_INDEXES,
            """CREATE TABLE log_sources (
                source TEXT PRIMARY KEY,
                seq_max INTEGER NOT NULL,
                n_events INTEGER NOT NULL,
                seq_span INTEGER NOT NULL,
                ts_span INTEGER NOT NULL
            ) WITHOUT ROWID""",
        ),
        postgres=(
            """CREATE TABLE events (
                off BIGINT PRIMARY KEY,
                n INTEGER NOT NULL,
                source TEXT NOT NULL,
                seq BIGINT NOT NULL,
                seq_last BIGINT NOT NULL,
                ts_min BIGINT NOT NULL,
                ts_max BIGINT NOT NULL,
                kind TEXT NOT NULL,
                body TEXT NOT NULL,
                received_at BIGINT NOT NULL,
                UNIQUE (source, seq)
            )""",
            *_EVENTS_INDEXES,
            """CREATE TABLE log_sources (
                source TEXT PRIMARY KEY,
                seq_max BIGINT NOT NULL,
                n_events BIGINT NOT NULL,
                seq_span BIGINT NOT NULL,
                ts_span BIGINT NOT NULL
            )""",
        ),
    ),
    Migration(
        2,
        "twin snapshots",
        sqlite=(
            """CREATE TABLE snapshots (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                log_offset INTEGER NOT NULL,
                ts_us INTEGER NOT NULL,
                blob BLOB NOT NULL,
                created_at INTEGER NOT NULL
            )""",
            "CREATE INDEX snapshots_ts ON snapshots (ts_us, log_offset)",
        ),
        postgres=(
            """CREATE TABLE snapshots (
                id BIGSERIAL PRIMARY KEY,
                log_offset BIGINT NOT NULL,
                ts_us BIGINT NOT NULL,
                blob BYTEA NOT NULL,
                created_at BIGINT NOT NULL
            )""",
            "CREATE INDEX snapshots_ts ON snapshots (ts_us, log_offset)",
        ),
    ),
    # devices and ingest tables: data access in store/devices.py and store/quarantine.py
    Migration(3, "device registry", sqlite=(
            "CREATE TABLE devices (device_id TEXT PRIMARY KEY, record TEXT NOT NULL, generation INTEGER NOT NULL, "
             "updated_at INTEGER NOT NULL)",
        ), postgres=(
            "CREATE TABLE devices (device_id TEXT PRIMARY KEY, record TEXT NOT NULL, generation BIGINT NOT NULL, "
             "updated_at BIGINT NOT NULL)",
        )),
    Migration(4, "ingest quarantine, late events, counters, acks", sqlite=(
            "CREATE TABLE quarantine (id INTEGER PRIMARY KEY AUTOINCREMENT, at_us INTEGER NOT NULL, device TEXT NOT NULL, "
             "reason TEXT NOT NULL, detail TEXT NOT NULL, adapter TEXT NOT NULL, size INTEGER NOT NULL, raw BLOB NOT NULL)",
            "CREATE INDEX quarantine_device ON quarantine (device, id)",
            "CREATE INDEX quarantine_reason ON quarantine (reason, id)",
            "CREATE TABLE late_events (source TEXT NOT NULL, seq INTEGER NOT NULL, ts_us INTEGER NOT NULL, kind TEXT NOT NULL, "
             "body TEXT NOT NULL, received_at INTEGER NOT NULL, PRIMARY KEY (source, seq))",
            "CREATE INDEX late_events_ts ON late_events (ts_us)",
            "CREATE TABLE ingest_counters (device TEXT NOT NULL, outcome TEXT NOT NULL, n INTEGER NOT NULL, "
             "PRIMARY KEY (device, outcome))",
            "CREATE TABLE ingest_acks (device TEXT PRIMARY KEY, acked_seq INTEGER NOT NULL)",
        ),
              postgres=(
            "CREATE TABLE quarantine (id BIGSERIAL PRIMARY KEY, at_us BIGINT NOT NULL, device TEXT NOT NULL, "
             "reason TEXT NOT NULL, detail TEXT NOT NULL, adapter TEXT NOT NULL, size BIGINT NOT NULL, raw BYTEA NOT NULL)",
            "CREATE INDEX quarantine_device ON quarantine (device, id)",
            "CREATE INDEX quarantine_reason ON quarantine (reason, id)",
            "CREATE TABLE late_events (source TEXT NOT NULL, seq BIGINT NOT NULL, ts_us BIGINT NOT NULL, kind TEXT NOT NULL, "
             "body TEXT NOT NULL, received_at BIGINT NOT NULL, PRIMARY KEY (source, seq))",
            "CREATE INDEX late_events_ts ON late_events (ts_us)",
            "CREATE TABLE ingest_counters (device TEXT NOT NULL, outcome TEXT NOT NULL, n BIGINT NOT NULL, "
             "PRIMARY KEY (device, outcome))",
            "CREATE TABLE ingest_acks (device TEXT PRIMARY KEY, acked_seq BIGINT NOT NULL)",
        )),
    # control tower tables: data access in store/tokens.py, store/decisions.py and store/audit.py
    Migration(5, "api tokens", sqlite=(
            "CREATE TABLE api_tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, hash TEXT NOT NULL, "
             "created_at INTEGER NOT NULL, expires_at INTEGER, revoked_at INTEGER, created_by TEXT NOT NULL, "
             "last_used_at INTEGER)",
        ), postgres=(
            "CREATE TABLE api_tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, hash TEXT NOT NULL, "
             "created_at BIGINT NOT NULL, expires_at BIGINT, revoked_at BIGINT, created_by TEXT NOT NULL, "
             "last_used_at BIGINT)",
        )),
    Migration(6, "decisions, idempotency keys, control settings", sqlite=(
            "CREATE TABLE decisions (no INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, "
             "status TEXT NOT NULL, cost REAL NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, "
             "day TEXT NOT NULL, idem_key TEXT UNIQUE, record TEXT NOT NULL)",
            "CREATE INDEX decisions_status ON decisions (status, no)",
            "CREATE INDEX decisions_kind_day ON decisions (kind, day)",
            "CREATE TABLE idempotency (key TEXT PRIMARY KEY, actor TEXT NOT NULL, request TEXT NOT NULL, "
             "status INTEGER NOT NULL, response TEXT NOT NULL, created_at INTEGER NOT NULL)",
            "CREATE TABLE control_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL)",
        ), postgres=(
            "CREATE TABLE decisions (no BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, "
             "status TEXT NOT NULL, cost DOUBLE PRECISION NOT NULL, created_at BIGINT NOT NULL, "
             "updated_at BIGINT NOT NULL, day TEXT NOT NULL, idem_key TEXT UNIQUE, record TEXT NOT NULL)",
            "CREATE INDEX decisions_status ON decisions (status, no)",
            "CREATE INDEX decisions_kind_day ON decisions (kind, day)",
            "CREATE TABLE idempotency (key TEXT PRIMARY KEY, actor TEXT NOT NULL, request TEXT NOT NULL, "
             "status INTEGER NOT NULL, response TEXT NOT NULL, created_at BIGINT NOT NULL)",
            "CREATE TABLE control_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at BIGINT NOT NULL)",
        )),
    Migration(7, "hash-chained audit log", sqlite=(
            "CREATE TABLE audit (seq INTEGER PRIMARY KEY, at_us INTEGER NOT NULL, actor TEXT NOT NULL, "
             "action TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, "
             "hash TEXT NOT NULL)",
            "CREATE TABLE audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL)",
        ), postgres=(
            "CREATE TABLE audit (seq BIGINT PRIMARY KEY, at_us BIGINT NOT NULL, actor TEXT NOT NULL, "
             "action TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, "
             "hash TEXT NOT NULL)",
            "CREATE TABLE audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL, hash TEXT NOT NULL)",
        )),
    Migration(8, "scenario runs", sqlite=(
            "CREATE TABLE scenario_runs (id TEXT PRIMARY KEY, status TEXT NOT NULL, params TEXT NOT NULL, "
             "requested_by TEXT NOT NULL, created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER, "
             "error TEXT, results TEXT)",
            "CREATE INDEX scenario_runs_created ON scenario_runs (created_at)",
            "CREATE INDEX scenario_runs_status ON scenario_runs (status)",
        ), postgres=(
            "CREATE TABLE scenario_runs (id TEXT PRIMARY KEY, status TEXT NOT NULL, params TEXT NOT NULL, "
             "requested_by TEXT NOT NULL, created_at BIGINT NOT NULL, started_at BIGINT, finished_at BIGINT, "
             "error TEXT, results TEXT)",
            "CREATE INDEX scenario_runs_created ON scenario_runs (created_at)",
            "CREATE INDEX scenario_runs_status ON scenario_runs (status)",
        )),
    # keyed audit chain with signed checkpoints (store/audit.py, store/checkpoints.py); people who hold
    # tokens (store/tokens.py): existing tokens belong to a person named after them
    Migration(9, "keyed audit chain, checkpoints, people", sqlite=(
            "ALTER TABLE audit_head ADD COLUMN key_id TEXT",
            "CREATE TABLE audit_checkpoints (seq INTEGER PRIMARY KEY, hash TEXT NOT NULL, at_us INTEGER NOT NULL, "
             "key_id TEXT NOT NULL, public_key TEXT NOT NULL, signature TEXT NOT NULL)",
            "CREATE TABLE people (name TEXT PRIMARY KEY, roles TEXT NOT NULL, created_at INTEGER NOT NULL, "
             "created_by TEXT NOT NULL)",
            "ALTER TABLE api_tokens ADD COLUMN person TEXT",
            "UPDATE api_tokens SET person = name",
            "INSERT INTO people (name, roles, created_at, created_by) SELECT name, "
             "'[' || group_concat(DISTINCT '\"' || role || '\"') || ']', min(created_at), 'migration' "
             "FROM api_tokens GROUP BY name",
        ), postgres=(
            "ALTER TABLE audit_head ADD COLUMN key_id TEXT",
            "CREATE TABLE audit_checkpoints (seq BIGINT PRIMARY KEY, hash TEXT NOT NULL, at_us BIGINT NOT NULL, "
             "key_id TEXT NOT NULL, public_key TEXT NOT NULL, signature TEXT NOT NULL)",
            "CREATE TABLE people (name TEXT PRIMARY KEY, roles TEXT NOT NULL, created_at BIGINT NOT NULL, "
             "created_by TEXT NOT NULL)",
            "ALTER TABLE api_tokens ADD COLUMN person TEXT",
            "UPDATE api_tokens SET person = name",
            "INSERT INTO people (name, roles, created_at, created_by) SELECT name, "
             "'[' || string_agg(DISTINCT '\"' || role || '\"', ',') || ']', min(created_at), 'migration' "
             "FROM api_tokens GROUP BY name",
        )),
    Migration(10, "outbox of actions to deliver, sealed sink secrets", sqlite=(
            "CREATE TABLE outbox (id INTEGER PRIMARY KEY, action_id TEXT NOT NULL, sink TEXT NOT NULL, "
             "action TEXT NOT NULL, decision_id TEXT, body TEXT NOT NULL, status TEXT NOT NULL, "
             "attempts INTEGER NOT NULL, next_at_us INTEGER NOT NULL, created_at_us INTEGER NOT NULL, "
             "updated_at_us INTEGER NOT NULL, last_error TEXT, resends INTEGER NOT NULL DEFAULT 0, "
             "UNIQUE (action_id, sink))",
            "CREATE INDEX outbox_due ON outbox (status, next_at_us)",
            "CREATE TABLE sink_secrets (sink TEXT PRIMARY KEY, sealed TEXT NOT NULL, vault_id TEXT NOT NULL, "
             "created_at_us INTEGER NOT NULL)",
        ), postgres=(
            "CREATE TABLE outbox (id BIGSERIAL PRIMARY KEY, action_id TEXT NOT NULL, sink TEXT NOT NULL, "
             "action TEXT NOT NULL, decision_id TEXT, body TEXT NOT NULL, status TEXT NOT NULL, "
             "attempts INTEGER NOT NULL, next_at_us BIGINT NOT NULL, created_at_us BIGINT NOT NULL, "
             "updated_at_us BIGINT NOT NULL, last_error TEXT, resends INTEGER NOT NULL DEFAULT 0, "
             "UNIQUE (action_id, sink))",
            "CREATE INDEX outbox_due ON outbox (status, next_at_us)",
            "CREATE TABLE sink_secrets (sink TEXT PRIMARY KEY, sealed TEXT NOT NULL, vault_id TEXT NOT NULL, "
             "created_at_us BIGINT NOT NULL)",
        )),
    # the brain's tables: data access in store/decisions.py (dedupe keys) and store/brain.py
    Migration(11, "decision dedupe keys, loop checkpoints, leader lease and decision makers' state, the store's network", sqlite=(
            "ALTER TABLE decisions ADD COLUMN dedupe_key TEXT",
            "CREATE UNIQUE INDEX decisions_dedupe ON decisions (dedupe_key)",
            "CREATE TABLE loop_checkpoints (name TEXT PRIMARY KEY, log_offset INTEGER NOT NULL, "
             "clock_us INTEGER NOT NULL, updated_at INTEGER NOT NULL)",
            "CREATE TABLE loop_lease (name TEXT PRIMARY KEY, holder TEXT NOT NULL, epoch INTEGER NOT NULL, "
             "expires_at INTEGER NOT NULL)",
            "CREATE TABLE store_network (id INTEGER PRIMARY KEY CHECK (id = 1), sha256 TEXT NOT NULL, "
             "content TEXT NOT NULL, name TEXT NOT NULL, recorded_at INTEGER NOT NULL)",
            "CREATE TABLE loop_state (name TEXT PRIMARY KEY, log_offset INTEGER NOT NULL, blob BLOB NOT NULL, "
             "created_at INTEGER NOT NULL)",
        ), postgres=(
            "ALTER TABLE decisions ADD COLUMN dedupe_key TEXT",
            "CREATE UNIQUE INDEX decisions_dedupe ON decisions (dedupe_key)",
            "CREATE TABLE loop_checkpoints (name TEXT PRIMARY KEY, log_offset BIGINT NOT NULL, "
             "clock_us BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
            "CREATE TABLE loop_lease (name TEXT PRIMARY KEY, holder TEXT NOT NULL, epoch BIGINT NOT NULL, "
             "expires_at BIGINT NOT NULL)",
            "CREATE TABLE store_network (id INTEGER PRIMARY KEY CHECK (id = 1), sha256 TEXT NOT NULL, "
             "content TEXT NOT NULL, name TEXT NOT NULL, recorded_at BIGINT NOT NULL)",
            "CREATE TABLE loop_state (name TEXT PRIMARY KEY, log_offset BIGINT NOT NULL, blob BYTEA NOT NULL, "
             "created_at BIGINT NOT NULL)",
        )),
    # snapshots named by their writer (a loop, the API's twin service), pruned per name: store/_sql.py
    Migration(12, "named twin snapshots", sqlite=(
            "ALTER TABLE snapshots ADD COLUMN name TEXT NOT NULL DEFAULT 'twin'",
            "CREATE INDEX snapshots_name ON snapshots (name, log_offset)",
        ), postgres=(
            "ALTER TABLE snapshots ADD COLUMN name TEXT NOT NULL DEFAULT 'twin'",
            "CREATE INDEX snapshots_name ON snapshots (name, log_offset)",
        )),
]

_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
)


def _check(migrations: list[Migration]) -> None:
    numbers = [m.version for m in migrations]
    if numbers != list(range(1, len(numbers) + 1)):
        raise StoreError(f"migrations must be numbered 1, 2, 3 ... without gaps; got {numbers}")


def latest_version(migrations: list[Migration] | None = None) -> int:
    """The version a database has after every known migration."""
    migrations = MIGRATIONS if migrations is None else migrations
    return migrations[-1].version if migrations else 0


def current_version(backend: SqlBackend) -> int:
    """The version recorded in the database (0 for a database never migrated)."""
    if not backend.table_exists("schema_version"):
        return 0
    rows = backend.query("SELECT max(version) FROM schema_version")
    return int(rows[0][0] or 0)


def apply_migrations(
    backend: SqlBackend, target: int | None = None, migrations: list[Migration] | None = None
) -> int:
    """Bring the database to ``target`` (default: the latest version); returns the version reached.

    Idempotent: migrations already recorded are skipped. A database newer than this code is refused.
    """
    migrations = MIGRATIONS if migrations is None else migrations
    _check(migrations)
    latest = latest_version(migrations)
    target = latest if target is None else target
    if not 0 <= target <= latest:
        raise StoreError(f"migration target {target} is outside 0..{latest}")
    with backend.write() as tx:
        tx.execute(_VERSION_TABLE)
        version = int(tx.execute("SELECT max(version) FROM schema_version")[0][0] or 0)
        if version > latest:
            raise StoreError(
                f"the database {backend.safe_url} is at schema version {version}, newer than this "
                f"supplynet knows ({latest}); upgrade supplynet"
            )
        for m in migrations:
            if version < m.version <= target:
                for stmt in m.statements(backend.dialect):
                    tx.execute(stmt)
                tx.execute(
                    "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                    (m.version, m.name, datetime.now(UTC).isoformat()),
                )
                version = m.version
    return version

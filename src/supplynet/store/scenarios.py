"""Scenario runs' table (``scenario_runs``): what was asked (parameters), by whom, its status, and the
results as one JSON document once it is done, so runs outlive the service that ran them.

The structure of parameters and results belongs to the scenario runner (:mod:`supplynet.api.service`);
this module only keeps the rows. Progress while a run is going is kept in memory by the runner (writing
it would cost a durable commit per tick); status changes are written. A new run's row and its audit entry
are committed in one transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import ParameterError
from ._sql import SqlBackend
from .audit import AuditLog

__all__ = ["STATUSES", "ScenarioRow", "ScenarioTable"]

STATUSES = ("queued", "running", "done", "failed")
_COLS = "id, status, params, requested_by, created_at, started_at, finished_at, error"


@dataclass(frozen=True)
class ScenarioRow:
    """One run; times are integer microseconds since the epoch (UTC)."""

    id: str
    status: str
    params: dict[str, Any]
    requested_by: str
    created_at: int
    started_at: int | None
    finished_at: int | None
    error: str | None


def _opt(v: Any) -> int | None:
    return None if v is None else int(v)


def _row(r: tuple[Any, ...]) -> ScenarioRow:
    i, s, p, rb, ca, sa, fa, e = r
    return ScenarioRow(i, s, json.loads(p), rb, int(ca), _opt(sa), _opt(fa), e)


class ScenarioTable:
    """Narrow data access for scenario runs (no SQL elsewhere)."""

    def __init__(self, backend: SqlBackend):
        self._backend = backend

    def insert(self, row: ScenarioRow, *, audit: tuple[str, str] | None = None) -> None:
        """A new run; ``audit=(actor, action)`` appends its audit entry in the same transaction."""
        if row.status not in STATUSES:
            raise ParameterError(f"scenario run status {row.status!r}: use one of {', '.join(STATUSES)}")
        with self._backend.write() as tx:
            tx.execute(f"INSERT INTO scenario_runs ({_COLS}, results) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                       (row.id, row.status, json.dumps(row.params, sort_keys=True), row.requested_by, row.created_at,
                        row.started_at, row.finished_at, row.error))
            if audit is not None:
                AuditLog.append_tx(tx, audit[0], audit[1], row.id, row.params)

    def started(self, run_id: str, at_us: int) -> None:
        with self._backend.write() as tx:
            tx.execute("UPDATE scenario_runs SET status = 'running', started_at = ? WHERE id = ?", (at_us, run_id))

    def finished(self, run_id: str, at_us: int, *, results: dict[str, Any] | None = None,
                 error: str | None = None) -> None:
        """Done with ``results`` (a JSON-ready document) or failed with ``error``."""
        if (results is None) == (error is None):
            raise ParameterError("a finished scenario run has either results or an error")
        status = "done" if error is None else "failed"
        # orjson writes NaN and infinities as null and takes numpy values
        body = None if results is None else orjson.dumps(results, option=orjson.OPT_SERIALIZE_NUMPY).decode()
        with self._backend.write() as tx:
            tx.execute("UPDATE scenario_runs SET status = ?, finished_at = ?, error = ?, results = ? WHERE id = ?",
                       (status, at_us, error, body, run_id))

    def interrupt_unfinished(self, at_us: int, reason: str) -> int:
        """Mark runs left queued or running by a service that stopped as failed; returns how many."""
        with self._backend.write() as tx:
            n = tx.execute("SELECT count(*) FROM scenario_runs WHERE status IN ('queued', 'running')")[0][0]
            if n:
                tx.execute("UPDATE scenario_runs SET status = 'failed', finished_at = ?, error = ? "
                           "WHERE status IN ('queued', 'running')", (at_us, reason))
        return int(n)

    def get(self, run_id: str) -> ScenarioRow | None:
        rows = self._backend.query(f"SELECT {_COLS} FROM scenario_runs WHERE id = ?", (run_id,))
        return _row(rows[0]) if rows else None

    def results(self, run_id: str) -> dict[str, Any] | None:
        rows = self._backend.query("SELECT results FROM scenario_runs WHERE id = ?", (run_id,))
        return json.loads(rows[0][0]) if rows and rows[0][0] is not None else None

    def list(self, limit: int = 50) -> list[ScenarioRow]:
        """Runs, newest first."""
        return [_row(r) for r in self._backend.query(
            f"SELECT {_COLS} FROM scenario_runs ORDER BY created_at DESC, id DESC LIMIT ?", (int(limit),))]

"""What the routes share: the store, the network, a live twin kept caught up with the log, the
autonomy policy, API tokens and the scenario runner. Built by ``create_app`` at startup."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from ..decide.autonomy import AutonomyPolicy, parse_policy
from ..errors import ConfigError, DataError, SimulationError, StoreError
from ..events import ts_to_us, us_to_ts
from ..loop import default_policy
from ..security.tokens import TokenService
from ..store.decisions import DecisionTable
from ..store.scenarios import ScenarioRow, ScenarioTable
from ..twin import Follower, SnapshotEvery, Twin, TwinState

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["ControlState", "ScenarioJob", "ScenarioRunner", "TwinService", "default_policy", "dump", "row_dict"]

log = logging.getLogger(__name__)

_FIELDS: dict[type, tuple[str, ...]] = {}


def row_dict(rec: Any) -> dict[str, Any]:
    """A twin record as a JSON-ready dict (with its derived ``position`` / ``open_quantity``)."""
    names = _FIELDS.get(type(rec))
    if names is None:
        names = _FIELDS[type(rec)] = tuple(f.name for f in fields(rec))
    d = {n: getattr(rec, n) for n in names}
    for extra in ("position", "open_quantity"):
        if hasattr(rec, extra):
            d[extra] = getattr(rec, extra)
    if "lines" in d:
        d["units"] = sum(q for _, q, _ in d["lines"])
        d["lines"] = [{"sku": s, "quantity": q, "order_id": o} for s, q, o in d["lines"]]
    return d


def dump(payload: Any) -> bytes:
    """JSON bytes (orjson: datetimes as ISO 8601, numpy values, non-string keys)."""
    return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)

POLICY_KEY = "autonomy_policy"


class TwinService:
    """One live twin kept caught up with the log by the log follower, with the twin's projections the
    routes read (work orders, the latest RUL estimate per asset), serialized state pages cached per twin
    offset, and a small cache of past states for ``as_of`` reads.

    Reads are cheap under load: the twin catches up at most every ``refresh_s`` seconds (one indexed query
    when nothing is new; :meth:`invalidate` makes the next read catch up, so the service's own writes are
    seen at once); a page is serialized once per twin offset and query, from rows serialized once per
    record (records are immutable, so an unchanged record keeps its bytes); and a reader whose page is
    current takes no lock and does no I/O (:meth:`cached`), so readers do not queue behind a catch-up:
    meanwhile they get the page of the last published offset.
    """

    #: the name of this service's twin snapshots in the store (a loop's are named after the loop)
    SNAPSHOT_NAME = "api"

    def __init__(self, store: Store, network: Any, *, refresh_s: float = 0.1,
                 snapshots: SnapshotEvery | None = None):
        if refresh_s < 0:
            raise ConfigError(f"refresh_s must be >= 0, not {refresh_s}")
        self.store = store
        self.network = network
        self.refresh_s = refresh_s
        #: resumed from this service's latest snapshot (the work-order and RUL projections are in it), so a
        #: start folds only the log's tail; written again every ``snapshots`` events or seconds
        self.twin, self.resumed_from = self._resume(store, network)
        #: the one log follower of this service (the projections are the twin's own)
        self.follower = Follower(store, self.twin, snapshots=snapshots or SnapshotEvery())
        #: offset of the twin as last published (a catch-up finished); pages carry the one they were built at
        self.published = 0
        self._pages: dict[tuple[Any, ...], tuple[int, bytes]] = {}
        self._rows: dict[str, dict[Any, tuple[Any, bytes]]] = {}
        self._next_refresh = 0.0
        self._lock = threading.Lock()
        self._past: OrderedDict[tuple[datetime, int], Twin] = OrderedDict()
        with self._lock:
            self._refresh(force=True)

    @classmethod
    def _resume(cls, store: Store, network: Any) -> tuple[Twin, int | None]:
        snap = store.snapshots.latest_snapshot(name=cls.SNAPSHOT_NAME)
        if snap is not None:
            try:
                return Twin.from_snapshot(snap.blob, network), snap.offset
            except DataError as exc:  # an earlier format or a damaged row: the log is the truth, fold it all
                log.warning("%s; folding the log from its start instead", exc)
        return Twin(network), None

    @property
    def work_orders(self) -> dict[str, dict[str, Any]]:
        """Work orders by id (a twin projection: :func:`supplynet.twin.fold_work_order`)."""
        return self.twin.state.work_orders

    @property
    def rul(self) -> dict[str, dict[str, Any]]:
        """The latest RUL estimate per asset (a twin projection: :func:`supplynet.twin.fold_rul`)."""
        return self.twin.state.rul

    @property
    def folded(self) -> int:
        """Events this service folded since it started (the tail after its snapshot, then what came)."""
        return self.follower.folded

    def _catch_up(self) -> int:
        n = self.follower.poll()
        if self.follower.snapshot_due():
            try:
                self.follower.save_snapshot(self.SNAPSHOT_NAME)
            except StoreError as exc:  # a read-only or busy store: the next start folds a longer tail
                log.warning("twin snapshot not written: %s", exc)
        return n

    def _refresh(self, force: bool = False) -> None:
        """Catch up if due (under the lock). The next deadline is set first, so readers arriving during
        the catch-up take the fast path on the published pages instead of queueing."""
        now = time.monotonic()
        if not force and now < self._next_refresh:
            return
        self._next_refresh = now + self.refresh_s
        try:
            self._catch_up()
        finally:
            self.published = self.twin.offset

    def invalidate(self) -> None:
        """The next read catches up (call after this process wrote to the log)."""
        self._next_refresh = 0.0

    @contextmanager
    def read(self, as_of: datetime | None = None) -> Any:
        """``with svc.read(as_of) as twin:`` the live twin (caught up at most ``refresh_s`` ago) or the
        state as of a past time."""
        if as_of is None:
            with self._lock:
                self._refresh()
                yield self.twin
            return
        yield self.past(as_of)

    def past(self, as_of: datetime) -> Twin:
        """The twin as of a past time (rebuilt from the log; a few kept per log offset)."""
        key = (as_of, self.store.log.last_offset() or 0)
        with self._lock:
            twin = self._past.get(key)
        if twin is None:
            twin = Twin.rebuild(self.store, self.network, as_of=as_of)
            with self._lock:
                self._past[key] = twin
                while len(self._past) > 4:
                    self._past.popitem(last=False)
        return twin

    def cached(self, key: tuple[Any, ...]) -> bytes | None:
        """The page for ``key`` when it is current, without a lock or I/O; None when a catch-up is due or
        the page was built at another offset (then call :meth:`page`)."""
        if time.monotonic() >= self._next_refresh:
            return None
        hit = self._pages.get(key)
        return hit[1] if hit is not None and hit[0] == self.published else None

    def page(self, key: tuple[Any, ...], build: Callable[[Twin, Callable[[str, Any, Any], bytes]], bytes]) -> bytes:
        """The live page for ``key``: cached per published offset, else ``build(twin, row)`` under the lock,
        where ``row(table, key, record)`` gives a record's serialized row, kept while the record is unchanged."""
        with self._lock:
            self._refresh()
            hit = self._pages.get(key)
            if hit is not None and hit[0] == self.published:
                return hit[1]
            body = build(self.twin, self._row_bytes)
            if len(self._pages) >= 256:
                self._pages.clear()
            self._pages[key] = (self.published, body)
            return body

    def _row_bytes(self, table: str, key: Any, rec: Any) -> bytes:
        cache = self._rows.get(table)
        if cache is None:
            cache = self._rows[table] = {}
        hit = cache.get(key)
        if hit is not None and hit[0] is rec:
            return hit[1]
        body = dump(row_dict(rec))
        cache[key] = (rec, body)
        return body

    def state_copy(self) -> TwinState:
        with self.read() as twin:
            return twin.state.copy()


@dataclass
class ScenarioJob:
    id: str
    params: dict[str, Any]
    requested_by: str
    created_at: datetime
    status: str = "queued"
    started_at: datetime | None = None
    finished_at: datetime | None = None
    progress: float = 0.0
    error: str | None = None
    results: dict[str, Any] | None = None

    def public(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("id", "status", "params", "requested_by", "created_at", "started_at",
                                              "finished_at", "progress", "error")}

    @classmethod
    def from_row(cls, row: ScenarioRow) -> ScenarioJob:
        return cls(id=row.id, params=row.params, requested_by=row.requested_by, created_at=_dt(row.created_at),
                   status=row.status, started_at=_dt(row.started_at), finished_at=_dt(row.finished_at),
                   progress=1.0 if row.status == "done" else 0.0, error=row.error)


def _dt(us: int | None) -> datetime | None:
    return None if us is None else us_to_ts(us)


def _band(arr: np.ndarray) -> dict[str, list[float | None]]:
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            q = np.nanquantile(arr, [0.05, 0.5, 0.95], axis=0)
    return {k: [None if not np.isfinite(v) else round(float(v), 4) for v in row] for k, row in zip(("p5", "p50", "p95"), q,
                                                                                                   strict=True)}


def run_scenario(network: Any, params: dict[str, Any], progress: Callable[[float], None] | None = None) -> dict[str, Any]:
    """Monte Carlo run of one scenario (and a baseline) on ``network`` through :mod:`supplynet.sim`;
    the tables and daily bands the dashboard charts."""
    from ..sim import kpi, run_scenarios

    if network is None:
        raise SimulationError("no network is loaded in the service (start it with --network)")
    baseline = bool(params.get("baseline", True))
    total = params["replications"] * (2 if baseline else 1)
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        if progress:
            progress(done[0] / total)

    report = run_scenarios(network, [params["scenario"]], replications=params["replications"],
                           horizon=params["horizon"], seed=params["seed"], baseline=baseline, progress=tick)
    out: dict[str, Any] = {"network": [], "daily": {}, "resilience": [], "currency": report.currency}
    for name, res in report.results.items():
        out["network"] += kpi.network_kpis(res).replace({np.nan: None}).to_dict(orient="records")
        out["daily"][f"{name}:fill_rate"] = _band(report.daily_fill_rate(name))
        out["daily"][f"{name}:backlog"] = _band(report.daily_backlog(name))
        if name != "baseline":
            out["resilience"] = report.resilience(name).replace({np.nan: None}).to_dict(orient="records")
    return out


class ScenarioRunner:
    """Runs scenarios one at a time in a background thread. Every run is a row of the store's
    ``scenario_runs`` (parameters, who asked, status, results JSON), so runs and their results outlive the
    service; progress of the runs going on in this process is kept in memory (``jobs``). Runs a stopped
    service left queued or running are marked failed when the next one starts (one service per store)."""

    def __init__(self, network: Any, table: ScenarioTable, *, max_queued: int = 4):
        self.network = network
        self.table = table
        self.max_queued = max_queued
        #: runs queued or running in this process
        self.jobs: dict[str, ScenarioJob] = {}
        #: runs this process finished (the live stream tells the dashboard when it grows)
        self.finished = 0
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scenario")
        self.on_done: Callable[[ScenarioJob, float], None] | None = None
        table.interrupt_unfinished(ts_to_us(datetime.now(UTC)), "interrupted: the service stopped before the run finished")

    def pending(self) -> int:
        with self._lock:
            return len(self.jobs)

    def submit(self, params: dict[str, Any], requested_by: str) -> ScenarioJob:
        """Queue a run; its row and its audit entry (``scenario.run`` by ``requested_by``) are committed first."""
        from ..sim.scenario import load_scenario

        if self.network is None:
            raise SimulationError("no network is loaded in the service (start it with --network)")
        load_scenario(params["scenario"])  # unknown names are refused now, not in the background
        if self.pending() >= self.max_queued:
            raise SimulationError(f"{self.max_queued} scenario runs are already queued; wait for one to finish")
        job = ScenarioJob(id=uuid.uuid4().hex[:12], params=params, requested_by=requested_by,
                          created_at=datetime.now(UTC))
        self.table.insert(ScenarioRow(id=job.id, status="queued", params=params, requested_by=requested_by,
                                      created_at=ts_to_us(job.created_at), started_at=None, finished_at=None, error=None),
                          audit=(requested_by, "scenario.run"))
        with self._lock:
            self.jobs[job.id] = job
        self._pool.submit(self._run, job)
        return job

    def _run(self, job: ScenarioJob) -> None:
        job.started_at = datetime.now(UTC)
        try:
            self.table.started(job.id, ts_to_us(job.started_at))
            job.status = "running"
            job.results = run_scenario(self.network, job.params, progress=lambda p: setattr(job, "progress", p))
            job.finished_at = datetime.now(UTC)
            self.table.finished(job.id, ts_to_us(job.finished_at), results=job.results)
            job.status, job.progress = "done", 1.0
        except Exception as exc:  # a failed run is reported in its status, never lost
            job.finished_at = datetime.now(UTC)
            job.status, job.error, job.results = "failed", f"{type(exc).__name__}: {exc}", None
            try:
                self.table.finished(job.id, ts_to_us(job.finished_at), error=job.error)
            except Exception:  # the store is gone (shutting down): the next start marks it interrupted
                pass
        with self._lock:  # written to the store first, so a reader finds it in one place or the other
            self.jobs.pop(job.id, None)
            self.finished += 1
        if self.on_done:
            self.on_done(job, (job.finished_at - job.started_at).total_seconds())

    def get(self, job_id: str) -> ScenarioJob | None:
        with self._lock:
            job = self.jobs.get(job_id)
        if job is not None:
            return job
        row = self.table.get(job_id)
        return None if row is None else ScenarioJob.from_row(row)

    def results(self, job_id: str) -> dict[str, Any] | None:
        """The results of a finished run (None while it is not done)."""
        with self._lock:
            job = self.jobs.get(job_id)
        if job is not None:
            return job.results if job.status == "done" else None
        return self.table.results(job_id)

    def list(self, limit: int = 50) -> list[ScenarioJob]:
        """Runs, newest first, with live progress for the ones going on here."""
        with self._lock:
            live = dict(self.jobs)
        return [live.get(r.id) or ScenarioJob.from_row(r) for r in self.table.list(limit)]

    def live(self) -> list[Any]:
        """What the live stream watches: the runs going on (id, status, progress) and how many finished."""
        with self._lock:
            return [[j.id, j.status, round(j.progress, 3)] for j in self.jobs.values()] + [self.finished]

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


@dataclass
class ControlState:
    store: Store
    network: Any
    twins: TwinService
    tokens: TokenService
    decisions: DecisionTable
    scenarios: ScenarioRunner
    _policy: AutonomyPolicy | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    metrics: Any = None
    home: Path | None = None  # the service's home folder (its vault key for symmetric devices)
    _demand: Any = None
    _lead: Any = None

    def demand_model(self) -> dict[tuple[str, str], tuple[float, float]]:
        """Mean and std of daily demand per (site, sku) from the network (cached)."""
        if self._demand is None:
            from ..decide.replenish import downstream_demand

            self._demand = downstream_demand(self.network) if self.network is not None else {}
        return self._demand

    def lead_days(self, site: str, sku: str) -> float:
        """Mean lead time (days) of the quickest lane bringing ``sku`` to ``site`` (1 when none is known)."""
        if self._lead is None:
            lead: dict[tuple[str, str], float] = {}
            for ln in getattr(self.network, "lanes", ()) or ():
                skus = ln.skus or [p.sku for p in self.network.products]
                for k in skus:
                    key = (ln.destination, k)
                    lead[key] = min(lead.get(key, float("inf")), float(ln.lead_time.mean))
            self._lead = lead
        return self._lead.get((site, sku), 1.0)

    @property
    def policy(self) -> AutonomyPolicy:
        if self._policy is not None:
            return self._policy
        raw = self.decisions.setting(POLICY_KEY)
        if raw:
            import json

            return parse_policy(json.loads(raw), "stored autonomy policy")
        return default_policy()

    def set_policy(self, policy: AutonomyPolicy, actor: str) -> None:
        import json

        self.decisions.put_setting(POLICY_KEY, json.dumps(policy.to_yaml_dict()),
                                   audit=(actor, "policy.update", {"policy": policy.to_yaml_dict()}))
        self._policy = None

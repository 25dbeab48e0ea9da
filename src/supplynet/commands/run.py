"""``supplynet run``: the brain as a long-running, restart-safe process (``supplynet serve --loop`` hosts
the same :class:`Brain` in the API process).

    supplynet run --store URL [--network FILE] [--policy FILE] [--sinks FILE] [--until-caught-up]

It follows the log (the one follower, :mod:`supplynet.twin`), keeps the twin, runs every decision maker
of the demo (replenishment, rebalancing, MachineWatch, ShipmentWatch delays and reroutes, shrinkage),
applies the autonomy policy and records each tick's decisions, their outbox rows and its checkpoint in
one transaction (:mod:`supplynet.decide.record`). It decides as each ``--tick`` of event time closes,
so a restart, which resumes from the latest twin snapshot at or before the checkpoint, re-makes the
same decisions, found by their dedupe keys. SIGTERM/SIGINT: the batch in hand finishes, the checkpoint
commits, exit 0.

One leader per store: on PostgreSQL a session advisory lock elects it (standbys wait on it and take
over within a second or two of the leader's death) and a lease row with an epoch fences it (every
acting transaction checks it, so a deposed leader commits nothing); on SQLite an exclusive lock file
beside the database refuses a second ``run`` at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import signal
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from ..errors import ConfigError, DataError, StoreError
from ..events import iso_utc
from .options import check_store

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["Brain", "BrainStats", "run"]

_LEASE_TTL_S = 30.0


@dataclass
class BrainStats:
    events: int = 0
    decisions: int = 0
    new_decisions: int = 0
    actions: int = 0
    ticks: int = 0
    lag_events: int = 0
    lag_seconds: float = 0.0
    role: str = "starting"


class _FileLock:
    """An exclusive lock file beside a SQLite database (released by the kernel when the process dies)."""

    def __init__(self, db_path: str):
        self.path = Path(f"{db_path}.run.lock")
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def holder(self) -> str:
        try:
            return self.path.read_text().strip() or "?"
        except OSError:
            return "?"

    def alive(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class _PgLock:
    """A PostgreSQL session advisory lock on a dedicated connection: held while the session lives."""

    def __init__(self, url: str, name: str):
        import psycopg

        self._psycopg = psycopg
        self.key = int.from_bytes(hashlib.sha256(f"supplynet.run:{name}".encode()).digest()[:8], "big", signed=True)
        try:
            self._conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise StoreError(f"cannot open the leader-election connection: {str(exc).splitlines()[0]}") from exc

    def try_acquire(self) -> bool:
        return bool(self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()[0])

    def alive(self) -> bool:
        try:
            self._conn.execute("SELECT 1")
            return True
        except self._psycopg.Error:
            return False

    def release(self) -> None:
        try:
            self._conn.close()
        except self._psycopg.Error:
            pass


class Brain:
    """The loop as a service on ``store``: election, the loop's ticks, checkpoints, snapshots, a status line.

    ``tick_s``: decisions are made as each tick of event time closes; ``sinks``: a loaded sinks config
    (``names_for(action)``) whose subscriptions get outbox rows; ``out``: where the status line goes;
    ``model``: the machines' RUL model (default: trained, or read from ``home``, as :meth:`prepare` says);
    ``inline_refit``: the demand forecaster refits on the loop's thread instead of a worker (a seed is
    then one run: ``supplynet demo``).

    A caller that drives the brain itself (the demo) uses :meth:`start`, :meth:`catch_up` and
    :meth:`finish`; :meth:`run` is the long-running service built from the same pieces.
    """

    def __init__(self, store: Store, network: Any, policy: Any, *, sinks: Any = None, tick_s: float = 900.0,
                 name: str = "main", home: Path | None = None, data_dir: Path | None = None,
                 snapshot_events: int = 25_000, snapshot_seconds: float = 300.0, snapshot_keep: int = 3,
                 status_s: float = 2.0,
                 poll_s: float = 0.2, batch: int = 20_000, out: TextIO | None = sys.stderr, seed: int = 7,
                 model: Any = None, inline_refit: bool = False):
        if not (1 <= tick_s <= 31 * 86_400):  # NaN fails both
            raise ConfigError(f"--tick must be between 1 second and 31 days (2678400), not {tick_s:g}")
        if not (0.05 <= status_s <= 86_400):
            raise ConfigError(f"--status-every must be between 0.05 and 86400 seconds, not {status_s:g}")
        self.store, self.network, self.policy, self.sinks = store, network, policy, sinks
        self.tick_s, self.name, self.home, self.data_dir, self.seed = tick_s, name, home, data_dir, seed
        self.snapshot_events, self.snapshot_seconds = snapshot_events, snapshot_seconds
        self.snapshot_keep = snapshot_keep
        self.status_s, self.poll_s, self.batch, self.out = status_s, poll_s, batch, out
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.stats = BrainStats()
        self.loop: Any = None
        self._model: Any = model
        self.inline_refit = inline_refit
        self._outbox_writer: Any = None
        self._lock: Any = None
        self._epoch = 0
        self._key: bytes | None = None

    # -- election ---------------------------------------------------------------------------------
    def elect(self, stop: threading.Event) -> bool:
        """Become the leader (True), or return False when ``stop`` is set first. SQLite: refused at once
        (:class:`ConfigError`) when another ``run`` holds the store; PostgreSQL: wait as a standby."""
        store = self.store
        if store.path is not None:  # a SQLite file
            lock = _FileLock(str(store.path))
            if not lock.try_acquire():
                raise ConfigError(f"another 'supplynet run' (pid {lock.holder()}) is running on {store.safe_url}; "
                                  f"one brain per SQLite store (PostgreSQL takes standbys)")
        else:
            lock = _PgLock(store.url, self.name)
            said = False
            while not lock.try_acquire():
                if not said:
                    self._say(f"standby: another process leads the loop {self.name!r}; waiting to take over")
                    said = True
                self.stats.role = "standby"
                if stop.wait(0.5):
                    lock.release()
                    return False
        self._lock = lock
        self._epoch = store.brain.take_over(self.name, self.holder, _LEASE_TTL_S)
        self.stats.role = "leader"
        return True

    def _guard(self, tx: Any) -> None:
        self.store.brain.check_lease_tx(tx, self.name, self.holder, self._epoch, _LEASE_TTL_S)

    # -- the loop ---------------------------------------------------------------------------------
    def prepare(self) -> None:
        """What does not depend on the log (done while a standby waits): the machines' RUL model."""
        if self._model is None and any(a.kind == "machine" and a.failure_cost and a.preventive_cost
                                       for a in self.network.assets):
            from ..fleet import machine_histories
            from ..loop import rul_model

            train, _, source = machine_histories(self.data_dir, self.seed)
            self._model = rul_model(self.home or Path(".supplynet"), train, source)

    def build_loop(self) -> Any:
        """The loop from the latest twin snapshot at or before the checkpoint (else from the log's start)."""
        from ..decide.coldchain_watch import ColdChainWatch
        from ..decide.forecast_refit import DemandRefit
        from ..decide.geo_watch import GeoWatch
        from ..decide.machines import MachineWatch
        from ..decide.watch import ShipmentWatch
        from ..loop import Loop, sim_whatif
        from ..twin import SnapshotEvery, Twin

        self.prepare()
        tables = self.store.brain
        cp = tables.checkpoint(self.name)
        twin = Twin(self.network)
        saved = tables.state(self.name)
        # this loop's own snapshot, used with the decision makers' state saved at the same offset (else they
        # would start cold on the tail and decide differently): the loop resumes exactly where it was
        snap = (self.store.snapshots.latest_snapshot(name=self.name, max_offset=saved[0])
                if saved is not None else None)
        resume = (snap is not None and cp is not None and saved is not None and snap.offset <= cp.offset
                  and saved[0] == snap.offset and self._authentic(saved[1]))  # type: ignore[index]
        if resume:
            try:
                twin = Twin.from_snapshot(snap.blob, self.network)  # type: ignore[union-attr]
            except DataError as exc:  # a snapshot of an earlier format: the log is the truth, fold it all
                self._say(f"warning: {exc}; folding the log from its start instead")
                resume = False
        watchers: list[Any] = []
        if self._model is not None:
            watchers.append(MachineWatch(self.network, self._model, self.policy, self.store))
        watchers.append(ShipmentWatch(self.network, simulate=sim_whatif, store=self.store, policy=self.policy))
        watchers.append(ColdChainWatch(self.network, store=self.store, policy=self.policy))
        watchers.append(GeoWatch(self.network, store=self.store))
        loop = Loop(self.store, self.network, self.policy, watchers=watchers, twin=twin,
                    snapshots=SnapshotEvery(self.snapshot_events, self.snapshot_seconds, self.snapshot_keep))
        if loop.replenisher.sensor is not None:  # the stores' demand forecast, refitted daily on a worker thread
            loop.watchers.append(DemandRefit(loop.replenisher.sensor, every=timedelta(days=1),
                                             background=not self.inline_refit,
                                             sites=[s.id for s in self.network.sites_of_kind("store")]))
        loop.collect_actions = True
        if resume and twin.offset == snap.offset:  # type: ignore[union-attr]
            loop.restore_state(saved[1], self._shared(), self._state_key())  # type: ignore[index]
        return loop

    def _state_key(self) -> bytes:
        from ..loop import state_key

        if self._key is None:
            self._key = state_key(self.home)
        return self._key

    def _authentic(self, blob: bytes) -> bool:
        """Whether the saved decision makers' state was sealed by this deployment (else: refused, never
        unpickled; the loop folds the log from its start instead, and says so)."""
        from ..errors import DataError
        from ..loop import open_state

        try:
            open_state(blob, self._state_key())
        except DataError as exc:
            self._say(f"warning: {exc}; folding the log from its start instead")
            return False
        return True

    def _shared(self) -> dict[str, Any]:
        return {"store": self.store, "network": self.network, "policy": self.policy, "model": self._model}

    def _snapshot(self) -> None:
        """Twin snapshot and the decision makers' state at the same offset (right after a checkpoint)."""

        loop = self.loop
        loop.follower.save_snapshot(self.name)
        self.store.brain.save_state(self.name, loop.twin.offset,
                                    loop.state_blob(self._shared(), self._state_key()))

    def _outbox(self) -> Any:
        if self.sinks is None:
            return None
        sinks = self.sinks
        box = self.store.outbox

        def write(tx: Any, *, action_id: str, action: str, body: dict[str, Any], decision_id: str | None,
                  at_us: int) -> None:
            names = sinks.names_for(action)
            if names:
                box.enqueue_tx(tx, action_id=action_id, action=action, body=body, sinks=names,
                               decision_id=decision_id, at_us=at_us)

        return write

    def start(self, stop: threading.Event) -> bool:
        """Elect (see :meth:`elect`), then build the loop; False when ``stop`` was set first."""
        if self.store.path is None:  # a server store (PostgreSQL)
            self.prepare()  # a standby is ready to take over but for the log's tail
        if not self.elect(stop):
            return False
        try:
            self.loop = loop = self.build_loop()
            self._outbox_writer = self._outbox()
        except BaseException:
            self.finish()
            raise
        self._say(f"leader of the loop {self.name!r} on {self.store.safe_url} (epoch {self._epoch}); "
                  f"resuming at offset {loop.twin.offset}, log head {loop.follower.head()}")
        return True

    def finish(self) -> None:
        """Step down: the election's lock is released (a standby may take over)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _decide(self, end: Any) -> None:
        """Every decision maker's turn at ``end`` (a tick closed): one transaction, then a snapshot when due."""
        loop = self.loop
        self._count(loop.step(end, outbox=self._outbox_writer, name=self.name, guard=self._guard))
        if loop.follower.snapshot_due():
            self._snapshot()
        self.stats.ticks += 1

    def _commit(self) -> None:
        """At the log head between ticks: the checkpoint and the outbox rows of the actions folded."""
        self._count(self.loop.commit(outbox=self._outbox_writer, name=self.name, guard=self._guard))

    def catch_up(self, *, close_at: Any = None, wall: Any = None) -> int:
        """Fold to the log head, deciding as each tick closes, and commit there; returns the events folded.

        ``close_at``: the caller knows the log holds every event before this time (the demo's world has
        sent its hour), so the tick ending there closes now instead of when the next tick's first event
        comes. ``wall``: the wall clock for :meth:`Loop.advance` (the world's clock in accelerated time)."""
        from ..events import ts_to_us, us_to_ts

        loop = self.loop
        folded = 0
        dirty = False
        while True:
            n, end = loop.advance(self.tick_s, limit=self.batch, wall=wall)
            folded += n
            self.stats.events += n
            dirty = dirty or n > 0
            if end is not None:
                self._decide(end)
                dirty = False
            elif n < self.batch:
                break
        if close_at is not None and loop.tick is not None:
            tick_us = int(self.tick_s * 1e6)
            k = ts_to_us(close_at) // tick_us
            if k > loop.tick:
                self._decide(us_to_ts((loop.tick + 1) * tick_us))
                loop.tick = k
                dirty = False
        if dirty or loop.folded_actions:
            self._commit()
        return folded

    def run(self, stop: threading.Event, *, until_caught_up: bool = False) -> BrainStats:
        """Elect, then follow and decide until ``stop`` (or the log head with ``until_caught_up``)."""
        if not self.start(stop):
            return self.stats
        try:
            loop = self.loop
            t_status = t0 = time.monotonic()
            folded_at_status = 0
            dirty = False
            while not stop.is_set():
                n, end = loop.advance(self.tick_s, limit=self.batch)
                self.stats.events += n
                dirty = dirty or n > 0
                if end is not None:
                    self._decide(end)
                    dirty = False
                elif n < self.batch:  # at the log head
                    if dirty or loop.folded_actions:
                        self._commit()
                        dirty = False
                    if until_caught_up:
                        break
                    if not self._lock.alive():
                        raise StoreError("the leader-election connection was lost; stopping so a standby takes over")
                    stop.wait(self.poll_s)
                now = time.monotonic()
                if now - t_status >= self.status_s:
                    self._status((self.stats.events - folded_at_status) / (now - t_status))
                    t_status, folded_at_status = now, self.stats.events
            if dirty or loop.folded_actions:
                self._commit()
            elapsed = max(time.monotonic() - t0, 1e-9)
            self._status(self.stats.events / elapsed, final=True)
        finally:
            self.finish()
        return self.stats

    def _count(self, rec: Any) -> None:
        self.stats.decisions += len(rec.submitted)
        self.stats.new_decisions += len(rec.new)
        self.stats.actions += rec.actions

    def lag(self) -> tuple[int, float]:
        """Events committed but not folded, and how long the oldest of them has waited (seconds)."""
        twin = self.loop.twin
        head = self.loop.follower.head()
        lag = max(0, head - twin.offset)
        secs = 0.0
        if lag:
            first = next(iter(self.store.log.read(after_offset=twin.offset, limit=1)), None)
            if first is not None:
                secs = max(0.0, time.time() - first.received_at.timestamp())
        self.stats.lag_events, self.stats.lag_seconds = lag, secs
        return lag, secs

    def _status(self, rate: float, final: bool = False) -> None:
        lag, secs = self.lag()
        at = self.loop.twin.state.last_event_at
        self._say(f"{'done' if final else 'running'}: {self.stats.events} events folded ({rate:,.0f} events/s), "
                  f"lag {lag} events / {secs:.1f} s, {self.stats.new_decisions} decisions, {self.stats.actions} "
                  f"outbox actions, clock {iso_utc(at) if at else '-'}")

    def _say(self, line: str) -> None:
        if self.out is not None:
            print(f"supplynet run: {line}", file=self.out, flush=True)


def load_sinks_file(path: Path | None) -> Any:
    """The sinks file (:func:`supplynet.decide.sinks.load_sinks`) or None."""
    if path is None:
        return None
    from ..decide.sinks import load_sinks

    return load_sinks(path)


def start_dispatcher(store: Store, sinks: Any, stop: threading.Event, home: Path | None = None
                     ) -> tuple[threading.Thread, Any] | None:
    """The outbox dispatcher (:class:`supplynet.decide.outbox.Dispatcher`) in a thread beside the loop, when
    there are sinks: (the thread, the dispatcher); a dispatcher that dies takes the process with it."""
    if sinks is None:
        return None
    from ..decide.outbox import Dispatcher

    dispatcher = Dispatcher(store, sinks, home=home)
    t = threading.Thread(target=_crash_on_error(dispatcher.run_forever, "dispatcher"),
                         args=(stop,), name="supplynet-dispatcher", daemon=True)
    t.start()
    return t, dispatcher


def _crash_on_error(fn: Any, what: str) -> Any:
    """A dying thread is a dying process: one clear line, exit 3, and the supervisor restarts it."""
    def target(*args: Any) -> None:
        try:
            fn(*args)
        except BaseException as exc:  # noqa: BLE001
            print(f"error: the {what} thread stopped: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            os._exit(3)
    return target


def run(store: Annotated[str | None, typer.Option(callback=check_store,
                                                 help="sqlite:///path or postgresql://... (SUPPLYNET_STORE_URL)")] = None,
        network: Annotated[Path | None, typer.Option(help="network YAML (default: the one the store recorded)")] = None,
        policy: Annotated[Path | None, typer.Option(help="autonomy policy YAML (default: the stored one, else the "
                                                         "packaged example)")] = None,
        sinks: Annotated[Path | None, typer.Option(help="sinks YAML: where executed actions and alerts go")] = None,
        until_caught_up: Annotated[bool, typer.Option("--until-caught-up", help="exit once the log head is reached")] = False,
        network_update: Annotated[bool, typer.Option("--network-update", help="replace the store's network "
                                                                               "(recorded in the log)")] = False,
        tick: Annotated[float, typer.Option(help="decide as each tick of event time closes (seconds)")] = 900.0,
        name: Annotated[str, typer.Option(help="the loop's name (its checkpoint and lease)")] = "main",
        data_dir: Annotated[Path | None, typer.Option(help="datasets folder (C-MAPSS for the machines' RUL model)")] = None,
        snapshot_events: Annotated[int, typer.Option(min=1, help="write a twin snapshot every N events folded")] = 25_000,
        snapshot_keep: Annotated[int, typer.Option(min=1, help="twin snapshots of this loop kept (older ones are "
                                                               "pruned, but for the one a restart needs)")] = 3,
        status_every: Annotated[float, typer.Option(help="seconds between status lines on stderr")] = 2.0) -> None:
    """The brain: follow the log, keep the twin, decide, record decisions and outbox rows (Ctrl-C stops)."""
    from ..config import Settings
    from ..store import open_store
    from ._netstore import store_network

    overrides: dict[str, Any] = {"store_url": store} if store else {}
    settings = Settings(**overrides)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with open_store(settings.resolved_store_url()) as st:
        net = store_network(st, network or settings.network, update=network_update)
        pol = _policy(st, policy)
        sink_cfg = load_sinks_file(sinks)
        brain = Brain(st, net, pol, sinks=sink_cfg, tick_s=tick, name=name, home=settings.home, data_dir=data_dir,
                      snapshot_events=snapshot_events, snapshot_keep=snapshot_keep, status_s=status_every)
        dispatcher_stop = threading.Event()
        dispatcher = start_dispatcher(st, sink_cfg, dispatcher_stop, settings.home)
        try:
            brain.run(stop, until_caught_up=until_caught_up)
        finally:
            dispatcher_stop.set()
            if dispatcher is not None:
                dispatcher[0].join(timeout=30)
        if dispatcher is not None and until_caught_up and not stop.is_set():
            # what this run decided leaves with it: the rows due now are delivered before it exits
            # (a sink that is down keeps its rows pending, with their backoff, for the next dispatcher)
            done = dispatcher[1].drain(within_s=30.0)
            left = dispatcher[1].table.counts().get("pending", 0)
            print(f"supplynet run: outbox drained: {done['delivered']} delivered, {done['retried']} to retry, "
                  f"{done['dead']} dead, {left} pending", file=sys.stderr, flush=True)
        if dispatcher is not None:
            dispatcher[1].close()


def _policy(store: Store, path: Path | None) -> Any:
    """The autonomy policy: the file given, else the one stored by the control tower, else the example."""
    import json

    from ..decide.autonomy import load_policy, parse_policy

    if path is not None:
        return load_policy(path)
    raw = store.decisions.setting("autonomy_policy")
    if raw:
        return parse_policy(json.loads(raw), "stored autonomy policy")
    from ..loop import default_policy

    return default_policy()

"""The live loop, wired: log -> twin -> decide -> record, on one store (the brain of ``supplynet run``
and of ``supplynet demo``, :class:`supplynet.commands.run.Brain`).

The one log follower (:class:`supplynet.twin.Follower`) folds each committed event into the twin and
hands it to the loop (:meth:`Loop.observe`), which remembers which SKU-sites the events touched (and
which events, from which sources) and passes the event to its decision makers. As each tick of event
time closes (:meth:`Loop.advance`), :meth:`Loop.step` re-evaluates exactly the touched SKU-sites
(event-driven, not a nightly batch) and gives every watcher its turn; each order, transfer, work order
or reroute is a :class:`~supplynet.decide.decision.Decision` run through the autonomy policy (executed
at once when it allows, otherwise proposed to a person), and the decisions, their action events, the
alerts raised, the outbox rows and the follower's checkpoint commit in one transaction
(:func:`supplynet.decide.record.record`). The loop hands nothing to the world in process: executed
actions, whether the platform or a person approved them, reach it through the outbox and its sinks.

Alerts are numbered where they are raised, from what they are about
(:func:`supplynet.events.alert_seq`); the loop records them with those numbers, so an alert derived
again after a restart is the same log event.

Other decision makers join as *watchers* (the :class:`supplynet.twin.Watcher` protocol):
``observe(event, twin)`` for every event folded and ``propose(twin, now)`` for the decisions and alerts
of a tick, such as :class:`~supplynet.decide.machines.MachineWatch` (work orders from RUL) and
:class:`~supplynet.decide.watch.ShipmentWatch` (delays and rerouting).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import math
import pickle
import types
from collections import Counter, defaultdict, deque
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .decide import decision as decisions
from .decide.autonomy import AutonomyPolicy
from .decide.rebalance import Rebalancer
from .decide.replenish import Replenisher, touched_keys
from .decide.whatif import WhatIfNetwork, WhatIfOutcome, WhatIfStart
from .errors import DataError
from .events import Alert, EventBase, iso_utc, ts_to_us, us_to_ts
from .sense.shrinkage import ShrinkageMonitor
from .twin import Follower, SnapshotEvery, Twin, by_kind

if TYPE_CHECKING:
    from .store import Store

__all__ = ["Loop", "default_policy", "live_replenisher", "release_hour_of", "rul_model", "sim_whatif", "touched_keys"]

#: alert codes that are not sent to sinks as alerts: the per-asset RUL estimate (every reading), and the
#: reroute and quality-hold alerts, which carry out a decision (sent as its action, also when a person
#: approved it)
_NOT_ACTIONS = frozenset({"rul", "reroute", "quality_hold"})
#: alert codes whose alert is a decision's action (a reroute answer, a quality hold on a lot)
_ACTION_ALERTS = frozenset({"reroute", "quality_hold"})


class Loop:
    """Twin plus decisions over ``store``.

    ``policy``: the autonomy policy (levels and guardrails per decision kind); ``watchers``: further
    decision makers (see the module doc). ``release_hour``: orders are released per lane at this hour (UTC)
    on the lane's review cycle (at most ``max_review_days``), one shipment per lane and release, with
    out-of-cycle orders only where the expected stock-out costs more than an extra shipment
    (:class:`~supplynet.decide.replenish.Replenisher`; DCs and plants then order at most that many days of
    demand at a time); ``"auto"``: the hour replenishment's quiet hours end (the first hour an order may go
    out without a person; 06:00 without quiet hours); None: each touched SKU-site is decided as its tick
    closes. ``plan_production``: plants' finished goods
    get a base-stock level from the network's downstream demand and the loop issues production orders (the
    ``production_order`` action); False: plants are left to make what they make. ``store_fill_rate``: the
    stores' fill-rate target their levels are sized for (None: the policies' cycle service levels). On a release
    schedule a DC is sized from its stores' demand, not from their lumpy orders. ``max_review_days`` is 2 by
    default (3 before): on the realistic 21-day demo (seeds 0-2) a 3-day cap left the DCs at 1.8-2.0x their
    opening stock, a 2-day cap at 1.1-1.3x for 2-4 points less cost reduction (still >= 12%) at about the same fill.
    """

    def __init__(self, store: Store, network: Any, policy: AutonomyPolicy, *, watchers: Sequence[Any] = (),
                 twin: Twin | None = None, snapshots: SnapshotEvery | None = None, release_hour: int | None | str = "auto",
                 plan_production: bool = True, max_review_days: int = 2, store_fill_rate: float | None = None):
        self.store = store
        self.network = network
        self.policy = policy
        # given a twin (restored from a snapshot), the decision makers see the log from its offset on;
        # otherwise the whole log is folded before they subscribe (they see what comes next)
        self.twin = twin if twin is not None else Twin.rebuild(store, network, use_snapshot=False)
        self.replenisher = live_replenisher(network, policy, release_hour=release_hour,
                                            plan_production=plan_production, max_review_days=max_review_days,
                                            store_fill_rate=store_fill_rate)
        self.rebalancer = Rebalancer(network, self.replenisher)
        self.shrinkage = ShrinkageMonitor(network)
        self.shrinkage_alerts = 0
        self.dirty: dict[tuple[str, str], deque[str]] = defaultdict(lambda: deque(maxlen=5))
        self.pending: dict[tuple[str, str], str] = {}  # SKU-site -> its proposed decision
        self.outcomes: Counter[str] = Counter()
        self.orders_decided = 0
        self.watchers = list(watchers)
        self.watched: Counter[str] = Counter()
        #: actions and alerts seen in the log, kept (when ``collect_actions``) for the next transaction's outbox
        self.collect_actions = False
        self.folded_actions: list[EventBase] = []
        #: the one log follower: the twin, then this loop (which hands each event to its decision makers)
        self.follower = Follower(store, self.twin, [self], snapshots=snapshots)
        #: the tick of event time being folded (:meth:`advance`); None until the first event
        self.tick: int | None = None
        self._route: Any = None
        #: event ids of this loop's own actions, applied and observed when recorded, whose log copies are
        #: still to come: those copies are skipped when folded, so the decision makers see an own action at
        #: the tick it was made, whether the log is followed live or caught up on long after
        self.early: set[str] = set()

    def sync(self) -> int:
        """Fold newly committed events into the twin; returns how many."""
        self._route = None
        return self.follower.poll()

    def observe(self, e: EventBase, twin: Twin) -> None:
        """The loop as the follower's subscriber: one event, already folded into ``twin``."""
        if self.early and e.event_id in self.early:  # an own action, observed when it was recorded
            self.early.discard(e.event_id)
            return
        for key in touched_keys(e):
            self.dirty[key].append(e.event_id)
        kind = e.kind  # type: ignore[attr-defined]
        action = False
        if kind == "order" and e.status == "created" and e.decision_id:  # type: ignore[attr-defined]
            self.pending.pop((e.site, e.sku), None)  # type: ignore[attr-defined]
            action = True
        elif kind == "maintenance" and e.action == "work_order_opened":  # type: ignore[attr-defined]
            action = True
        elif kind == "alert" and e.code in _ACTION_ALERTS and e.source == decisions.DECIDE_SOURCE:  # type: ignore[attr-defined]
            action = True
        if self.collect_actions and (action or (kind == "alert" and e.code not in _NOT_ACTIONS)):  # type: ignore
            self.folded_actions.append(e)
        route = self._route
        if route is None:  # the decision makers by the event kinds they read (see Follower), once per poll
            route = self._route = by_kind([self.replenisher, self.rebalancer, self.shrinkage, *self.watchers])
        for observe in route(kind):
            observe(e, twin)

    def _still_pending(self, key: tuple[str, str]) -> bool:
        did = self.pending.get(key)
        if did is None:
            return False
        if decisions.get(self.store, did).status == "proposed":
            return True
        del self.pending[key]  # rejected or noted: the next event may propose again
        return False

    def _plans(self, now: datetime) -> tuple[list[Any], list[decisions.Decision]]:
        """Transfers where they beat a new order, then orders, for the SKU-sites touched since the last call
        (a SKU-site whose proposal waits for a person gets no second one); the plans and their decisions.
        In the quiet hours of an ``auto`` kind nothing is planned: the SKU-sites stay touched and are decided
        when the quiet hours end, from the state then, instead of each becoming a proposal for a person."""
        if self.policy.quiet("replenish", now) or self.policy.quiet("rebalance", now):
            return [], []
        touched = {k: list(v) for k, v in self.dirty.items()}
        self.dirty.clear()
        moves = [p for p in self.rebalancer.decide(self.twin, now) if not self._still_pending((p.site, p.sku))]
        moved = {(p.site, p.sku) for p in moves}
        orders = [p for p in self.replenisher.decide(self.twin, now)
                  if (p.site, p.sku) not in moved and not self._still_pending((p.site, p.sku))]
        plans = moves + orders
        return plans, [p.to_decision(now, trigger_event_ids=touched.get((p.site, p.sku)) or list(p.trigger_event_ids))
                       for p in plans]

    def pending_decisions(self) -> list[str]:
        return list(self.pending.values())

    # -- the loop as a service: decide as each tick of event time closes, one transaction each ---------
    def advance(self, tick_s: float, *, limit: int = 20_000, wall: datetime | None = None) -> tuple[int, datetime | None]:
        """Fold up to ``limit`` events, stopping before the first whose time closes the current tick of
        ``tick_s`` seconds; returns the events folded and the end of the tick that closed (None: none did).

        The loop's clock is the time of the newest event folded; an event stamped later than the wall
        clock (``wall``, default now) plus a minute does not move it. A loop started afresh (or from a
        snapshot) takes the tick of the first event it folds, so decisions fall at the same points of the
        log whether or not the loop was restarted."""
        limit_us = ts_to_us(wall or datetime.now(UTC)) + 60_000_000
        tick_us = int(tick_s * 1e6)
        closed: list[int] = []

        def stop(e: EventBase) -> bool:
            t = ts_to_us(e.ts)
            if t > limit_us:
                return False
            k = t // tick_us
            if self.tick is None:
                self.tick = k
            elif k > self.tick:
                closed.append(k)
                return True
            return False

        self._route = None  # the watchers may have changed since the last poll
        n = self.follower.poll(limit=limit, stop=stop)
        if not closed:
            return n, None
        end = us_to_ts((self.tick + 1) * tick_us)  # type: ignore[operator]
        self.tick = closed[0]
        return n, end

    def step(self, now: datetime, *, outbox: Any = None, name: str = "main", guard: Any = None) -> Any:
        """Every decision maker's turn at ``now`` (the end of a tick), recorded with the alerts raised, the
        outbox rows of the actions folded since the last step and the checkpoint, in one transaction
        (:func:`supplynet.decide.record.record`); each decision's ``dedupe_key`` is its kind, subject and
        ``now``. Returns what was recorded."""
        from .decide.record import dedupe_key, record, subject_of

        trigger = iso_utc(now)
        alerts: list[Alert] = list(self.shrinkage.decide(self.twin, now))
        self.shrinkage_alerts += len(alerts)
        _, batch = self._plans(now)
        owner: list[Any] = [None] * len(batch)
        for w in self.watchers:
            made = w.propose(self.twin, now)
            found, raised = made if isinstance(made, tuple) else (made, [])
            batch += found
            owner += [w] * len(found)
            alerts += raised
        batch = [d.model_copy(update={"dedupe_key": dedupe_key(d.kind, subject_of(d), trigger)}) for d in batch]
        folded = self._folded(outbox)
        rec = record(self.store, batch, self.policy, alerts=alerts, outbox=outbox,
                     checkpoint=(name, self.twin.offset, ts_to_us(now)), guard=guard, folded=folded)
        for w, sub in zip(owner, rec.submitted, strict=True):
            d = sub.decision
            if w is None:
                self.outcomes[d.status] += 1
                self.orders_decided += 1
                if d.status == "proposed":
                    self.pending[(d.action.site, d.action.sku)] = d.id  # type: ignore[union-attr]
            else:
                self.watched[f"{d.kind} {d.status}"] += 1
                if hasattr(w, "recorded"):
                    w.recorded(d, now)
            for e in sub.events:  # own actions count at once (the log's copy folds again without effect,
                self.twin.apply(e)  # and its decision makers skip it: they see the action now)
                self.observe(e, self.twin)
                self.early.add(e.event_id)
        return rec

    # -- the decision makers' state, saved beside the twin's snapshot ------------------------------------
    _STATE = ("replenisher", "rebalancer", "shrinkage", "watchers", "pending", "outcomes", "watched",
              "orders_decided", "shrinkage_alerts", "early")

    def state_blob(self, shared: dict[str, Any], key: bytes) -> bytes:
        """The decision makers' state (sensors, trackers, proposals waiting) as bytes, sealed with an
        HMAC-SHA256 tag under ``key`` (:func:`state_key`: derived from the vault key); the objects in
        ``shared`` (the store, the network, the models) are referred to by name, not copied."""
        ids = {id(v): k for k, v in {**shared, "twin": self.twin}.items()}
        buf = io.BytesIO()
        _Pickler(buf, ids).dump({k: getattr(self, k) for k in self._STATE})
        raw = buf.getvalue()
        return _STATE_MAGIC + hmac.new(key, raw, hashlib.sha256).digest() + raw

    def restore_state(self, blob: bytes, shared: dict[str, Any], key: bytes) -> None:
        """Put back what :meth:`state_blob` saved (with the same ``shared`` objects, and this loop's twin).

        The bytes are a pickle, so they are read only when their tag proves this deployment's vault key
        sealed them: a store copied from elsewhere, or a row planted by someone who holds the database
        but not the vault key, is refused (:class:`DataError`) without being unpickled."""
        raw = open_state(blob, key)
        refs = {**shared, "twin": self.twin}

        class _Unpickler(pickle.Unpickler):
            def persistent_load(self, pid: Any) -> Any:
                return refs[pid]

        for k, v in _Unpickler(io.BytesIO(raw)).load().items():  # noqa: S301 - authenticated above
            setattr(self, k, v)

    def commit(self, *, outbox: Any = None, name: str = "main", guard: Any = None) -> Any:
        """Record the checkpoint (and the outbox rows of the actions folded since the last commit) without
        deciding: at the log head, between ticks."""
        from .decide.record import record

        at = self.twin.state.last_event_at
        return record(self.store, [], self.policy, outbox=outbox, folded=self._folded(outbox), guard=guard,
                      checkpoint=(name, self.twin.offset, ts_to_us(at) if at else 0))

    def _folded(self, outbox: Any) -> list[tuple[str, str, dict[str, Any], str | None]]:
        """Outbox rows for the actions and alerts folded since the last commit (a person's approval, an
        alert another component raised); the ones this loop recorded itself are already there."""
        from .decide.record import action_name, alert_body, decision_body

        out: list[tuple[str, str, dict[str, Any], str | None]] = []
        if outbox is not None:
            for e in self.folded_actions:
                if e.kind == "alert" and e.code not in _ACTION_ALERTS:  # type: ignore[attr-defined]
                    out.append((f"alert-{e.event_id}", "alert", alert_body(e), None))  # type: ignore[arg-type]
                    continue
                did = _decision_of(e)
                if not did:
                    continue
                try:
                    d = decisions.get(self.store, did)
                except decisions.DecisionNotFound:  # an action event naming no stored decision: nothing to send
                    continue
                at = datetime.fromisoformat(d.executed["at"]) if d.executed else e.ts
                out.append((f"act-{did}", action_name(d), decision_body(d, decisions.action_events(d, at)), did))
        self.folded_actions.clear()
        return out


def release_hour_of(policy: AutonomyPolicy, release_hour: int | None | str = "auto") -> int | None:
    """The hour (UTC) the loop releases orders at: ``"auto"`` is the hour replenishment's quiet hours end in
    ``policy`` (06:00 without quiet hours); an int or None as given (None: no release schedule)."""
    if release_hour == "auto":
        quiet = policy.for_kind("replenish").guardrails.quiet_hours
        return quiet.end.hour if quiet is not None else 6
    return release_hour  # type: ignore[return-value]


def live_replenisher(network: Any, policy: AutonomyPolicy, *, release_hour: int | None | str = "auto",
                     plan_production: bool = True, max_review_days: int = 2,
                     store_fill_rate: float | None = None) -> Replenisher:
    """The live loop's replenisher (see :class:`Loop` for the arguments), with its demand sensor and lead-time
    learner: the release schedule from ``policy``'s quiet hours, the policy file's budget capping what orders
    commit a day, production planning, and on a release schedule upstream cycles of ``max_review_days`` and
    echelon sizing. :class:`Loop` builds its replenisher here, and so does ``supplynet simulate --from-live``
    (:mod:`supplynet.commands._predict_live`): the prediction runs the rules the loop runs."""
    hour = release_hour_of(policy, release_hour)
    scheduled = hour is not None
    return Replenisher(network, budget_per_day=policy.budget_per_day, release_hour=hour,
                       plan_production=plan_production, max_review_days=max_review_days,
                       upstream_cycle_days=float(max_review_days) if scheduled else None,
                       store_fill_rate=store_fill_rate, echelon_demand=scheduled)


def _decision_of(e: Any) -> str | None:
    """The decision an action event carries out (None: not a decision's action)."""
    if e.kind == "order":
        return e.decision_id
    if e.kind == "maintenance":
        wo = e.work_order_id or ""
        return wo[3:] if wo.startswith("WO-D") else None
    return (e.data or {}).get("decision_id")


class _Pickler(pickle.Pickler):
    """Pickles the decision makers; the shared objects become names, read-only mappings plain dicts again."""

    def __init__(self, buf: Any, ids: dict[int, str]):
        super().__init__(buf, protocol=pickle.HIGHEST_PROTOCOL)
        self._ids = ids

    def persistent_id(self, obj: Any) -> str | None:
        return self._ids.get(id(obj))

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is types.MappingProxyType:
            return _proxy, (dict(obj),)
        return NotImplemented


_STATE_MAGIC = b"supplynet-loop-state/1\n"


def state_key(home: Any = None) -> bytes:
    """The key that seals the decision makers' saved state: derived from the vault key (the one secret
    every process of a deployment shares; none other can make a state this deployment will read)."""
    from .security.vault import default_vault

    return default_vault(create=True, home=home).derive("loop-state")


def open_state(blob: bytes, key: bytes) -> bytes:
    """The pickle inside a sealed state, once its tag checks out; :class:`DataError` otherwise."""
    n = len(_STATE_MAGIC)
    if not blob.startswith(_STATE_MAGIC) or len(blob) < n + 32:
        raise DataError("the saved loop state is not in this version's sealed format; refused (not unpickled)")
    tag, raw = blob[n:n + 32], blob[n + 32:]
    if not hmac.compare_digest(tag, hmac.new(key, raw, hashlib.sha256).digest()):
        raise DataError("the saved loop state was not sealed with this deployment's vault key; refused "
                        "(not unpickled)")
    return raw


def _proxy(d: dict[Any, Any]) -> types.MappingProxyType[Any, Any]:
    return types.MappingProxyType(d)


def rul_model(home: Path, train: Any, source: str) -> Any:
    """The machines' RUL model (:class:`~supplynet.decide.machines.MachineWatch`'s), learned from the
    run-to-failure histories ``train`` once and kept in ``home`` (keyed by the data)."""
    from .sense.health.rul import RulModel

    key = hashlib.sha256(f"{source}:{len(train)}:{float(train.iloc[:, 2:].to_numpy().sum()):.6f}".encode())
    path = home / f"rul-{key.hexdigest()[:12]}.json"  # JSON + LightGBM text, no pickle
    if path.exists():
        try:
            return RulModel.load(path)
        except Exception:  # noqa: BLE001 - a stale or foreign file: train again
            path.unlink(missing_ok=True)
    model = RulModel(n_estimators=250, n_folds=3).fit(train)
    model.save(path)
    return model


def default_policy() -> AutonomyPolicy:
    """The packaged example autonomy policy (``supplynet/examples/autonomy.yaml``): the loop's when none
    is given."""
    from importlib import resources

    from .decide.autonomy import load_policy

    return load_policy(str(resources.files("supplynet") / "examples" / "autonomy.yaml"))


def sim_whatif(network: WhatIfNetwork, starts: Sequence[WhatIfStart], *, horizon: float, replications: int,
               seed: int) -> list[WhatIfOutcome]:
    """The what-if simulation decide is handed (:class:`supplynet.decide.whatif.Simulate`): the Monte Carlo
    engine of :mod:`supplynet.sim` on ``network`` from each start, every start on the same seed (common
    random numbers), one thread per run (a decision costs a few small runs). The engine steps a period at a
    time: with ``network.periods_per_day`` = k a period is a k-th of a day (lead times and arrivals x k,
    demand's mean / k and standard deviation / sqrt(k), holding cost / k), over ``ceil(horizon x k)`` periods."""
    from .sim.engine import Simulation
    from .sim.kpi import network_per_replication
    from .sim.network import SimNetwork

    k = max(int(network.periods_per_day), 1)
    base = SimNetwork.build(
        items=list(network.items), arcs=list(network.arcs), site_kind=dict(network.site_kind),
        lead_time=network.lead_time * k, lead_std=network.lead_std * k, lead_kind=list(network.lead_kind),
        demand_mean=network.demand_mean / k, demand_std=network.demand_std / math.sqrt(k),
        demand=list(network.demand_kind), backorders=list(network.backorders), hold=network.hold / k,
        short_cost=network.short_cost, backlog_cost=0.0, price=network.price, lanes=list(network.lanes) or None,
        item_lane=network.item_lane, name=network.name)
    pol = base.pol_kind.copy()
    pol[list(network.frozen)] = -1
    base = base.replace(pol_kind=pol)
    periods = max(int(math.ceil(float(horizon) * k - 1e-9)), 1)
    out = []
    for start in starts:
        net = base.with_initial_state(on_hand=dict(start.on_hand),
                                      in_transit=[(it, q, d * k) for it, q, d in start.in_transit])
        res = Simulation(net, horizon=periods, replications=replications, seed=seed, parallel=False).run().result()
        per = network_per_replication(res)
        out.append(WhatIfOutcome(*(per[c].to_numpy(dtype=float) for c in
                                   ("holding_cost", "shortage_cost", "revenue_at_risk", "fill_rate"))))
    return out

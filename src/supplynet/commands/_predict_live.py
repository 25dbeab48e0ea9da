"""``supplynet simulate --from-live --horizon D``: the next days' KPIs predicted from a store's live state.

The store remembers its network (:mod:`supplynet.commands._netstore`). The prediction runs under the rules
the live loop (``supplynet run``) runs on that store, rebuilt from what the store holds:

- **the autonomy policy** as ``run`` resolves it: ``--policy FILE``, else the one the control tower stored,
  else the packaged example (:func:`supplynet.commands.run._policy`);
- **the replenisher** built as the loop builds it (:func:`supplynet.loop.live_replenisher`: the release
  schedule from the policy's quiet hours, joint lane releases every ``R`` days, production planning, echelon
  sizing of DCs and plants, the policy's daily budget). The log is read once, as the brain reads it: every
  event is folded into the twin and fed to that replenisher (its demand sensor and lead-time learner see the
  same events), its sensor's days are closed up to the prediction's time as the loop's next decision closes
  them, and every policy is re-sized, as the loop re-sizes a SKU-site's policy when it next decides it (its
  next release, before it orders). Measured on the realistic demo at the end of day 7 (seed 0): the release
  plan (56 lanes) equal to the loop's; 735 of 871 policies equal to the loop's as they stood, the other 136
  (four stores, levels within 0.2%) equal to the loop's once re-sized (all 871 equal to the loop's policies
  re-sized at that time);
- **the release calendar**: each lane's next release is the one after its latest release the loop recorded
  (the ``release`` note of its orders: its due time and cycle), stepped on by the lane's cycle to after the
  prediction's time; a lane with no recorded release keeps the calendar of the prediction's first release;
- **the loop's ticks and the forecast refit**: the loop decides as each tick of event time closes; the replay
  takes the same turns (the tick read from the recorded decisions' times, else ``run``'s default of 900 s):
  at each tick's end replenishment closes the sensor's days (outside the quiet hours, as the loop's decisions
  do), then the loop's :class:`~supplynet.decide.forecast_refit.DemandRefit` (daily from the loop's first
  step, the stores' series) has its turn, so the forecast installed is the one the loop fitted, from the days
  it had closed (on the tiny demo at day 16, one refit in: the same estimates and levels). The refit watcher is
  handed to the projection, which refits day by day as the loop will. Installed at once, as in the demo; a
  ``run`` refits on a worker and installs at its next tick;
- **machine failures**: the live loop's maintenance watcher keeps each machine's RUL as its model's predictive
  samples, in memory; the log holds its ``rul`` alerts, the latest of each machine since its last repair, with
  that distribution as 20 equally likely quantiles (``quantiles``, cycles). The CLI draws failures from them,
  in days at an hour a cycle, with the maintenance rule's horizon (:class:`~supplynet.decide.maintain.
  MaintenancePolicy` as the watcher builds it): measured on the realistic demo at the end of day 7 (seed 0,
  six machines), the loop's own samples and the alert's quantiles gave each machine's chance of a failure the
  rule cannot prevent within 0.025 (0.816 against 0.80, 0.978 against 1.00, the rest 0) and medians within 1%.
  ``--at T`` reads the alerts stamped at or before ``T``: the loop's alerts of the tick that ends after ``T``
  are not in (a loop asked mid-tick has not made them either). An alert without quantiles
  (an earlier version's) gives a split normal through its median and interval (cut at zero), and the notes say
  so; a store whose log holds no ``rul`` alert draws no failure, and the output says so.

The output's ``meta.rules`` says which rules ran (policy source, release hour, lanes and their cycles,
production planning, echelon sizing, budget, refit, failures drawn or not, and why), ``meta.notes`` where the
CLI's rules may differ from the running loop's. :func:`supplynet.sim.forecast_live.predict_from_live` runs the
network forward from the twin under those rules, as the demo's fidelity check does with the loop in hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from supplynet.errors import SimulationError, SupplynetError

__all__ = ["LiveRules", "live_rules", "predict_store", "resolve_policy", "rul_risks", "rules_lines", "summary_rows"]

#: the KPIs of the summary table, with their unit
_ROWS = (("store_fill_rate", "store fill rate", "%"), ("lost_sales_units", "lost sales (units)", "n"),
         ("lost_sales_value", "lost sales (value)", "$"), ("inventory_plant", "inventory at plants (units)", "n"),
         ("inventory_dc", "inventory at DCs (units)", "n"), ("inventory_store", "inventory at stores (units)", "n"),
         ("total_cost", "total cost", "$"))
#: RUL samples rebuilt from an alert's quantiles
_RUL_SAMPLES = 200
#: ``supplynet run``'s default ``--tick`` (seconds)
_RUN_TICK_S = 900.0
#: decisions read back at a time for the release calendar (the newest first)
_DECISIONS_PAGE = 2000


@dataclass
class LiveRules:
    """The live loop's rules rebuilt from a store: the twin, the replenisher, the refit watcher, the
    machines' failure risk, and what was rebuilt how (``rules``, ``notes``)."""

    twin: Any
    replenisher: Any
    refit: Any
    machines: dict[str, Any]
    rules: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def resolve_policy(store: Any, path: Path | None) -> tuple[Any, str]:
    """The autonomy policy ``supplynet run`` would run on ``store`` with ``--policy path``, and where it came
    from (``file PATH``, ``stored``, ``packaged example``); a bad file is one :class:`SimulationError` line."""
    from .run import _policy

    try:
        pol = _policy(store, path)
    except (SupplynetError, OSError, ValueError) as exc:  # one line: a YAML parser's message spans several
        why = " ".join(str(exc).split())
        raise SimulationError(f"--policy: {why}" if path is not None else f"the stored autonomy policy: {why}") from exc
    if path is not None:
        return pol, f"file {path}"
    return pol, "stored" if store.decisions.setting("autonomy_policy") else "packaged example"


def live_rules(store: Any, network: Any, policy: Any, *, at: datetime | None = None) -> LiveRules:
    """Read ``store``'s log (up to ``at``) into a twin and the loop's replenisher (see the module doc)."""
    from supplynet.decide.forecast_refit import DemandRefit
    from supplynet.events import ts_to_us, us_to_ts
    from supplynet.loop import live_replenisher
    from supplynet.twin import Twin

    twin = Twin(network)
    rep = live_replenisher(network, policy)
    stores = [s.id for s in network.sites if s.kind == "store"]
    sensor = rep.sensor
    refit = DemandRefit(sensor, every=timedelta(days=1), background=False, sites=stores) if sensor is not None else None
    tick_s, tick_how = _tick_of(store)
    tick_us, tick = int(tick_s * 1e6), None
    failed: list[str] = []

    def turn(end: datetime) -> None:
        """The loop's step at the end of a tick, as far as the sensor goes: replenishment closes the sensor's days
        (outside the quiet hours), then the refit watcher's turn (daily, from the loop's first step)."""
        if sensor is None or refit is None:
            return
        if hasattr(sensor, "advance") and not (policy.quiet("replenish", end) or policy.quiet("rebalance", end)):
            sensor.advance(end)
        try:
            refit.decide(twin, end)
        except Exception as exc:  # noqa: BLE001 - as in the loop: the online estimates go on serving
            failed.append(type(exc).__name__)

    until = at + timedelta(microseconds=1) if at is not None else None
    rul: dict[str, dict[str, Any]] = {}
    for rec in store.log.read(until=until, order="offset"):
        e = rec.event
        k = ts_to_us(e.ts) // tick_us
        if tick is None:
            tick = k
        elif k > tick:  # a tick closed: the loop stepped at its end, before folding this event
            turn(us_to_ts((tick + 1) * tick_us))
            tick = k
        twin.apply(e, rec.offset)
        rep.observe(e, twin)
        kind = e.kind
        if kind == "alert" and e.code == "rul" and isinstance(e.data, dict):
            rul[e.subject] = e.data
        elif kind == "maintenance" and e.action in ("completed", "failure"):  # the watcher renews the asset
            rul.pop(e.asset_id, None)
    if twin.state.events_applied == 0:
        raise SimulationError(f"--from-live: the store has no events{' up to ' + at.isoformat() if at else ''}; "
                              "nothing to predict from")
    now = at or twin.state.last_event_at
    assert now is not None  # events were applied
    out = LiveRules(twin=twin, replenisher=rep, refit=None, machines={})
    notes = out.notes
    known = {s.id for s in network.sites}
    held = {site for site, _ in twin.state.inventory}
    foreign = sorted(held - known)
    if held and not held & known:
        raise SimulationError(f"--from-live: the store's log is another network's: it holds stock at "
                              f"{', '.join(foreign[:3])}{', ...' if len(foreign) > 3 else ''}, none of them a site of "
                              f"{network.name!r}, the network the store records; nothing to predict from")
    if foreign:
        notes.append(f"the log holds stock at {len(foreign)} site(s) the network does not list "
                     f"({', '.join(foreign[:3])}{', ...' if len(foreign) > 3 else ''}): left out of the prediction")
    last = twin.state.last_event_at
    if at is not None and last is not None and at - last > timedelta(days=1):
        notes.append(f"the log's last event up to --at is {(at - last).days} day(s) before it: the prediction starts "
                     f"from the state then")
    out.refit = refit
    if sensor is not None and hasattr(sensor, "advance"):  # the loop's next decision closes the days before today's
        sensor.advance(now)
    if failed:
        notes.append(f"the forecast refit failed {len(failed)} time(s) ({failed[-1]}); sized from the online "
                     "estimates then, as the loop")
    for key in rep.policies:  # the loop re-sizes a policy when its SKU-site is touched: all of them were
        rep.resize(key)
    released = _release_calendar(store, rep, now)
    out.machines, failures = rul_risks(network, rul)
    plan = rep.release_plan()
    out.rules = {
        "release_schedule": None if rep.release_hour is None else {
            "release_hour_utc": rep.release_hour, "max_review_days": rep.max_review_days,
            "lanes": len(plan), "lanes_by_cycle_days": _count(r for r, _ in plan.values()),
            "calendar": "the loop's recorded releases" if released else "the prediction's first release",
            "lanes_with_recorded_release": released},
        "plan_production": bool(rep.plan_production), "production_lines": len(rep.lines),
        "echelon_demand": bool(rep.echelon_demand), "budget_per_day": rep.budget_per_day,
        "forecast_refit": None if refit is None else {
            "every_days": 1, "model": refit.model, "min_history": refit.min_history, "refits": refit.refits,
            "last": refit.last_started.isoformat() if refit.last_started is not None and refit.refits else None},
        "tick_seconds": tick_s, "tick_from": tick_how,
        "failures": failures}
    if plan and not released:
        notes.append("the store's decisions record no release of the loop: every lane's releases start from "
                     "the prediction's first release")
    if not failures["drawn"]:
        notes.append(f"machine failures not drawn: {failures['why']}")
    elif failures["from_quantiles"] < failures["machines"]:
        notes.append(f"{failures['machines'] - failures['from_quantiles']} machine(s)' failures drawn from a split "
                     "normal through the rul alert's median and interval (an alert without the RUL's quantiles), "
                     "not the loop's own RUL samples")
    return out


def _tick_of(store: Any) -> tuple[float, str]:
    """The loop's tick (seconds) on ``store``: the largest divisor of a day (a minute at least) that every recorded
    decision time is a whole multiple of (the loop decides at tick ends), else ``supplynet run``'s default."""
    import math as _m

    rows = store.decisions.list(limit=_DECISIONS_PAGE)
    secs = []
    for row in rows:
        try:
            t = _aware(datetime.fromisoformat(str(row.record.get("created_at"))))
        except (AttributeError, TypeError, ValueError):
            continue
        secs.append(int(t.timestamp() * 1e6) % 86_400_000_000)
    g = 0
    for v in secs:
        g = _m.gcd(g, v)
    if len(secs) >= 2 and g:
        for cand in sorted((d for d in range(60, 86_401, 60) if 86_400 % d == 0), reverse=True):
            if g % (cand * 1_000_000) == 0:
                return float(cand), f"the recorded decisions' times ({len(secs)})"
    return _RUN_TICK_S, "supplynet run's default (no decisions recorded to read it from)"


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[str(v)] = out.get(str(v), 0) + 1
    return dict(sorted(out.items()))


def _release_calendar(store: Any, rep: Any, now: datetime) -> int:
    """Set each scheduled lane's next release from the loop's latest recorded release of it (see the module
    doc); a lane without one follows the loop's first release (every lane is first due at the loop's first
    decision; a recorded release ``lane#n`` due on day ``t`` dates it ``t - (n - 1) R``). Returns how many
    lanes got their calendar from the store."""
    if rep.release_hour is None or not rep.lane_keys:
        return 0
    cutoff = _aware(now)
    latest: dict[str, tuple[datetime, int]] = {}
    before: int | None = None
    while len(latest) < len(rep.lane_keys):  # newest first, a page at a time, until every lane has its latest
        rows = store.decisions.list(kind="replenish", before_no=before, limit=_DECISIONS_PAGE)
        if not rows:
            break
        before = rows[-1].no
        for row in rows:
            rec = row.record if isinstance(row.record, dict) else {}
            rel = (rec.get("model_output") or {}).get("release") if isinstance(rec.get("model_output"), dict) else None
            if not isinstance(rel, dict) or rel.get("out_of_cycle") or not rel.get("lane_id") or not rel.get("due"):
                continue
            try:
                due = _aware(datetime.fromisoformat(str(rel["due"])))
                made = _aware(datetime.fromisoformat(str(rec.get("created_at"))))
                n = int(str(rel.get("release", "")).rpartition("#")[2])
            except (TypeError, ValueError):  # a record this version cannot read: no calendar from it
                continue
            ln = str(rel["lane_id"])
            if due > cutoff or made > cutoff or n < 1 or ln not in rep.lane_keys:
                continue
            if ln not in latest or due > latest[ln][0]:
                latest[ln] = (due, n)
    if not latest:
        return 0
    hour = {"hour": rep.release_hour, "minute": 0, "second": 0, "microsecond": 0}
    ref, (due, n) = max(latest.items(), key=lambda kv: kv[1][0])
    first = due.replace(**hour) - timedelta(days=(n - 1) * max(int(rep.review_days.get(ref, 1)), 1))
    for ln in rep.lane_keys:
        review = max(int(rep.review_days.get(ln, 1)), 1)
        nxt = latest[ln][0].replace(**hour) + timedelta(days=review) if ln in latest else first
        while nxt <= cutoff:  # releases with nothing to order leave no decision: the calendar went on
            nxt += timedelta(days=review)
        rep.next_release(ln, nxt)
    return len(latest)


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def rul_risks(network: Any, latest: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each machine's failure risk (:class:`~supplynet.sim.forecast_live.MachineRisk`, days) from its latest
    ``rul`` alert's data (``low``, ``median``, ``high`` at ``level``, in cycles), and what was drawn and why."""
    import numpy as np
    from scipy import stats

    from supplynet.decide.machines import HOURS_PER_CYCLE, OPPORTUNITY_CYCLES
    from supplynet.decide.maintain import MaintenancePolicy
    from supplynet.sim.forecast_live import MachineRisk

    tracked = [a for a in network.assets if a.kind == "machine" and a.failure_cost and a.preventive_cost]
    if not tracked:
        return {}, {"drawn": False, "machines": 0, "why": "the network has no machine with maintenance costs"}
    scale = HOURS_PER_CYCLE / 24.0
    out: dict[str, Any] = {}
    from_grid = 0
    p = (np.arange(_RUL_SAMPLES) + 0.5) / _RUL_SAMPLES
    z = stats.norm.ppf(p)
    for a in tracked:
        data = latest.get(a.id)
        if not data or data.get("unit", "cycles") != "cycles":
            continue
        try:
            lo, med, hi, level = (float(data["low"]), float(data["median"]), float(data["high"]),
                                  float(data.get("level", 0.8)))
        except (KeyError, TypeError, ValueError):
            continue
        if not all(math.isfinite(v) for v in (lo, med, hi)) or not 0 < level < 1 or not lo <= med <= hi:
            continue
        grid = _quantiles(data.get("quantiles"))
        if grid is not None:  # the predictive distribution the loop's watcher held, as equally likely quantiles
            cycles = grid
            from_grid += 1
        else:  # an alert of an earlier version: a split normal through its median and interval
            zq = float(stats.norm.ppf(0.5 + level / 2.0))
            below, above = (med - lo) / zq, (hi - med) / zq
            cycles = np.maximum(med + np.where(z < 0, below, above) * z, 0.0)
        pol = MaintenancePolicy.from_asset(a, opportunity_interval=OPPORTUNITY_CYCLES, days_per_unit=scale)
        out[a.id] = MachineRisk(cycles * scale, float(pol.horizon) * scale)
    if not out:
        return {}, {"drawn": False, "machines": 0, "why": "the store's log holds no RUL forecast (rul alert) of a "
                    "machine with maintenance costs since its last repair"}
    how = ("its RUL quantiles" if from_grid == len(out) else "a split normal through its median and interval"
           if not from_grid else f"its RUL quantiles ({from_grid} machines), else a split normal through its median "
           "and interval")
    return out, {"drawn": True, "machines": len(out), "source": f"the latest rul alert per machine: {how}",
                 "from_quantiles": from_grid, "untracked": len(tracked) - len(out)}


def _quantiles(value: Any) -> Any:
    """An alert's ``quantiles`` (equally likely RUL values, cycles) as a sorted array; None when absent or bad."""
    import numpy as np

    try:
        q = np.sort(np.asarray(value, dtype=float).ravel()) if isinstance(value, list) else None
    except (TypeError, ValueError):
        return None
    if q is None or not len(q) or not np.all(np.isfinite(q)) or q[0] < 0:
        return None
    return q


def predict_store(store_url: str | None, network_path: Path | None, *, horizon: int, replications: int, seed: int,
                  at: datetime | None = None, policy_path: Path | None = None) -> dict[str, Any]:
    """The prediction (see :func:`~supplynet.sim.forecast_live.predict_from_live`) for the store at
    ``store_url`` under the live loop's rules (see the module doc); ``network_path``: a network file that must
    match the store's (None: the store's); ``policy_path``: the autonomy policy (None: as ``run`` finds it)."""
    from supplynet.sim.forecast_live import predict_from_live
    from supplynet.store import open_store

    from ._netstore import store_network

    if policy_path is not None and not Path(policy_path).is_file():
        raise SimulationError(f"--policy {policy_path}: " + ("a folder, not a policy file" if Path(policy_path).is_dir()
                                                             else "no such file"))
    if at is not None:
        try:  # the engine counts days from --at: they must fit the calendar
            (at + timedelta(days=horizon + 2)).date()
        except OverflowError:
            raise SimulationError(f"--at {at.isoformat()}: {horizon} days after it are past the calendar's end "
                                  "(year 9999)") from None
    with open_store(store_url, readonly=True) as st:
        try:
            net = store_network(st, network_path, record=False)
        except SupplynetError as exc:
            raise SimulationError(f"--from-live: {exc}") from exc
        assert net is not None
        policy, source = resolve_policy(st, policy_path)
        live = live_rules(st, net, policy, at=at)
    doc = predict_from_live(net, live.twin, horizon_days=horizon, replications=replications, seed=seed,
                            policies=live.replenisher, refit=live.refit, machines=live.machines or None, at=at)
    doc["meta"]["rules"] = {"autonomy_policy": source, **live.rules}
    doc["meta"]["notes"] = list(live.notes)
    return doc


def rules_lines(doc: dict[str, Any]) -> list[str]:
    """The rules a prediction ran under, one short line each (for the table's caption)."""
    r = doc.get("meta", {}).get("rules") or {}
    if not r:
        return []
    rs = r.get("release_schedule")
    out = [f"autonomy policy: {r.get('autonomy_policy', '?')}"]
    if rs:
        cycles = ", ".join(f"{n} every {d} d" for d, n in rs["lanes_by_cycle_days"].items())
        out.append(f"release schedule: {rs['release_hour_utc']:02d}:00 UTC, lanes {cycles or 'none'}; calendar: "
                   f"{rs['calendar']}")
    else:
        out.append("release schedule: none (each SKU-site decided as it is touched)")
    out.append(f"production planning: {'on' if r.get('plan_production') else 'off'} ({r.get('production_lines', 0)} "
               f"lines); echelon sizing: {'on' if r.get('echelon_demand') else 'off'}; budget per day: "
               f"{r.get('budget_per_day') if r.get('budget_per_day') is not None else 'none'}")
    fr = r.get("forecast_refit")
    out.append("forecast refit: " + (f"daily ({fr['model']}, {fr['min_history']} days of history at least; "
                                      f"{fr['refits']} in the log's time" + (f", the last at {fr['last']})" if fr['last']
                                                                              else ")") if fr else "none")
               + f"; the loop's tick: {r.get('tick_seconds', 0):g} s")
    f = r.get("failures") or {}
    out.append(f"machine failures: drawn for {f.get('machines')} machine(s) from their RUL" if f.get("drawn")
               else "machine failures: not drawn (see the note)")
    return out


def _fmt(value: float, unit: str, currency: str | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    if unit == "%":
        return f"{value:.1%}"
    if unit == "$":
        return f"{value:,.0f}" + (f" {currency}" if currency else "")
    return f"{value:,.0f}"


def summary_rows(doc: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(KPI, P10, P50, P90) rows of a prediction, formatted for a table."""
    cur = doc.get("meta", {}).get("currency")
    return [(label, _fmt(doc[key]["p10"], unit, cur), _fmt(doc[key]["p50"], unit, cur), _fmt(doc[key]["p90"], unit, cur))
            for key, label, unit in _ROWS if key in doc]

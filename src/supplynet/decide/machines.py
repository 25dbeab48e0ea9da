"""Machines in the live loop: RUL tracked per asset from its readings, work orders only when the
failure risk is significant (the interval, not the point estimate, decides).

:class:`MachineWatch` is what the loop calls: ``observe(event, twin)`` feeds each machine reading to
its asset's :class:`~supplynet.sense.health.rul.RulTracker` and to its health model (a baseline learned
from the asset's own first readings, with CUSUM onset detection: an ``anomaly_onset`` alert goes to
the log), and follows maintenance events (a completed
work order or a failure renews the asset: its history and baseline start again);
``decide(twin, now)`` runs :func:`supplynet.decide.maintain.decide` for the assets that reported
and submits each work order as a ``maintain`` decision through the autonomy policy. It also
returns ``rul`` alerts (low, median, high) the dashboard shows beside each asset, with the predictive
distribution as 20 equally likely quantiles (``quantiles``, in cycles).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from ..events import Alert, EventBase, MachineReading
from ..sense.health.features import waveform_features
from ..sense.health.health import HealthMonitor
from ..sense.health.rul import RulDistribution, RulModel, RulTracker
from . import decision as decisions
from ._alerts import alert_seq
from .autonomy import AutonomyPolicy
from .maintain import MaintenancePolicy, MaintenanceState, close
from .maintain import decide as decide_maintenance

if TYPE_CHECKING:
    from ..model import Network
    from ..store import Store

__all__ = ["MachineWatch", "SENSE_SOURCE"]

#: the source of the alerts the platform's models write
SENSE_SOURCE = "supplynet.sense"
#: the watcher's defaults (``supplynet run`` builds it with them): wall time of one reading, how often maintenance can start
HOURS_PER_CYCLE, OPPORTUNITY_CYCLES = 1.0, 8.0
#: the probabilities of the RUL quantiles a ``rul`` alert carries (``data.quantiles``): 20 equally likely values
_RUL_GRID = (np.arange(20) + 0.5) / 20


@dataclass
class _Asset:
    tracker: RulTracker
    policy: MaintenancePolicy
    latest: RulDistribution | None = None
    cycle: int = 0
    fresh: bool = False
    trigger: list[str] = field(default_factory=list)
    source: str = ""


class MachineWatch:
    """RUL trackers and the maintenance rule for every machine of ``network`` the model can read.

    ``hours_per_cycle``: wall time of one reading (cycle), converting the asset's maintenance lead
    time (days) into cycles; ``opportunity_cycles``: how often maintenance can start (e.g. a shift).
    """

    #: the event kinds it reads (the log follower calls it for these only)
    kinds = frozenset({"machine_reading", "maintenance"})

    def __init__(self, network: Network, model: RulModel, policy: AutonomyPolicy, store: Store, *,
                 hours_per_cycle: float = HOURS_PER_CYCLE, opportunity_cycles: float = OPPORTUNITY_CYCLES, vibration_baseline: int = 50):
        self.model = model
        self.policy = policy
        self.store = store
        self.state = MaintenanceState()
        self.assets: dict[str, _Asset] = {}
        for a in network.assets:
            if a.kind != "machine" or not a.failure_cost or not a.preventive_cost:
                continue
            self.assets[a.id] = _Asset(RulTracker(model), MaintenancePolicy.from_asset(
                a, opportunity_interval=opportunity_cycles, days_per_unit=hours_per_cycle / 24.0))
        self.work_orders = 0
        self.alerts: list[Alert] = []
        self.health = HealthMonitor(feature_names=model.normalizer_.kept, n_baseline=30)
        self.vibration: dict[str, HealthMonitor] = {}  # asset -> its waveform health model
        self.vibration_baseline = vibration_baseline
        self._onsets: list[Any] = []

    def observe(self, event: EventBase, twin: Any = None) -> None:
        kind = event.kind  # type: ignore[attr-defined]
        if kind == "machine_reading" and event.waveform is not None:  # type: ignore[attr-defined]
            self._vibration(event)  # type: ignore[arg-type]
        elif kind == "maintenance" and event.action in ("completed", "failure"):  # type: ignore[attr-defined]
            if event.asset_id in self.vibration:  # type: ignore[attr-defined]
                self.vibration[event.asset_id].reset(event.asset_id)  # type: ignore[attr-defined]
        a = self.assets.get(getattr(event, "asset_id", ""))
        if a is None:
            return
        if kind == "machine_reading":
            settings = [event.settings.get(c, 0.0) for c in self.model.setting_cols]  # type: ignore[attr-defined]
            sensors = [event.sensors.get(c) for c in self.model.sensor_cols]  # type: ignore[attr-defined]
            if any(v is None for v in sensors):
                return  # not a reading this model understands (other sensors)
            z = self.model.normalizer_.transform(np.asarray([settings], float), np.asarray([sensors], float))[0]
            a.tracker.observe_normalized(z)  # the RUL is predicted when the asset is decided on
            onset = self.health.update(event.asset_id, event.ts, z)  # type: ignore[attr-defined]
            if onset is not None:
                self._onsets.append(onset)
            a.cycle += 1
            a.fresh = True
            a.trigger = [event.event_id]
            a.source = event.source
        elif kind == "maintenance" and event.action in ("completed", "failure"):  # type: ignore[attr-defined]
            a.tracker.reset()
            self.health.reset(event.asset_id)  # type: ignore[attr-defined]
            a.latest, a.cycle, a.fresh = None, 0, False
            if event.asset_id in self.state.open:  # type: ignore[attr-defined]
                self.state = close(self.state, event.asset_id)  # type: ignore[attr-defined]

    def _vibration(self, event: MachineReading) -> None:
        """A vibration snapshot: log RMS and log peak per channel (the features that track a bearing's
        wear on FEMTO, see :func:`supplynet.sense.health.features.snapshot_features`) into the asset's own
        one-sided health model; an onset becomes an ``anomaly_onset`` alert."""
        w = event.waveform
        assert w is not None
        names, x = [], []
        for ch in sorted(w.channels):
            samples = np.asarray(w.channels[ch], dtype=float)
            if samples.size < 8 or not np.all(np.isfinite(samples)):
                return  # too short to say anything (the gate bounds the rest)
            f = waveform_features(samples, w.sample_rate_hz, n_bands=4)
            for k in ("rms", "peak"):
                names.append(f"{ch}_{k}")
                x.append(float(np.log(max(float(f[k][0]), 1e-12))))
        mon = self.vibration.get(event.asset_id)
        if mon is None or mon.feature_names != names:  # a new asset, or its channels changed: start again
            mon = self.vibration[event.asset_id] = HealthMonitor(
                feature_names=names, n_baseline=self.vibration_baseline, one_sided=True)
        onset = mon.update(event.asset_id, event.ts, x)
        if onset is not None:
            self._onsets.append(onset)

    def decide(self, twin: Any, now: datetime) -> list[decisions.Submitted]:
        """Work orders for the assets that reported since the last call (submitted as decisions); the
        alerts (RUL, anomaly onset) are appended to the log."""
        batch, alerts = self.propose(twin, now)
        if alerts:
            self.store.log.append(alerts)
        return decisions.submit_many(self.store, batch, self.policy, now=now)

    def propose(self, twin: Any, now: datetime) -> tuple[list[decisions.Decision], list[Alert]]:
        """The work orders (unsubmitted decisions) and alerts for the assets that reported since the last
        call; the caller records them (the loop's service: in its one transaction)."""
        batch = []
        alerts = []
        for onset in self._onsets:  # a stable number: the same onset found again after a restart is one alert
            alerts.append(onset.to_alert(SENSE_SOURCE, alert_seq("anomaly_onset", onset.asset, onset.ts), now))
        self._onsets.clear()
        for asset_id, a in self.assets.items():
            if not a.fresh or a.cycle < self.model.min_history:
                continue
            a.fresh = False
            a.latest = a.tracker.current()
            lo, hi = a.latest.interval(a.policy.level)
            # the predictive distribution itself, for what reads the log rather than this watcher
            # (``supplynet simulate --from-live`` draws the machines' failures from it)
            grid = [round(float(q), 2) for q in np.quantile(a.latest.samples, _RUL_GRID)]
            alerts.append(Alert(source=SENSE_SOURCE, seq=alert_seq("rul", asset_id, *a.trigger[:1], a.cycle), ts=now,
                                code="rul", subject=asset_id,
                                severity="info", message=f"RUL {a.latest.point:.0f} cycles ({lo:.0f}-{hi:.0f})",
                                data={"low": lo, "median": float(a.latest.point), "high": hi,
                                      "level": a.policy.level, "unit": "cycles", "quantiles": grid}))
            before = self.state
            self.state, wo = decide_maintenance(before, asset_id, a.latest, now=float(a.cycle), policy=a.policy)
            if wo is None:
                continue
            # the sensors behind it (SHAP values: the costly part) only for a work order that is opened;
            # the rule is pure, so deciding again with them gives the same order, now explained
            sensors = [name for name, _ in a.tracker.driving_sensors(3)]
            self.state, wo = decide_maintenance(before, asset_id, a.latest, now=float(a.cycle),
                                                policy=a.policy, driving_sensors=sensors)
            assert wo is not None
            why = (f"P(failure within {a.policy.horizon:.0f} cycles) = {wo.failure_probability:.2f} exceeds "
                   f"p* = {wo.threshold:.2f} (Cp/Cf) with significance; RUL {wo.rul_point:.0f} cycles, "
                   f"80% interval {wo.rul_interval[0]:.0f}-{wo.rul_interval[1]:.0f}; driven by {', '.join(sensors)}")
            options = [
                decisions.Option(label="maintain now", cost=a.policy.preventive_cost,
                                 detail={"window_cycles": list(wo.window)}),
                decisions.Option(label="defer to next opportunity",
                                 cost=round(wo.failure_probability * a.policy.failure_cost, 2),
                                 detail={"expected_failure_cost": wo.failure_probability * a.policy.failure_cost}),
            ]
            batch.append(decisions.Decision(
                kind="maintain", created_at=now, trigger_event_ids=a.trigger, sources=[a.source],
                model_output={"rul_point": wo.rul_point, "rul_interval": list(wo.rul_interval),
                              "failure_probability": wo.failure_probability, "threshold": wo.threshold,
                              "driving_sensors": list(wo.driving_sensors), "window_cycles": list(wo.window),
                              "expected_cost_avoided": wo.expected_cost_avoided},
                options=options, chosen="maintain now", why=why, cost=a.policy.preventive_cost,
                action=decisions.WorkOrderAction(asset_id=asset_id, detail=why)))
        self.alerts.extend(alerts)
        self.work_orders += len(batch)
        return batch, alerts

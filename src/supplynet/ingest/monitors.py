"""Data-quality monitors: watch accepted events and produce :class:`~supplynet.events.Alert` events.

* ``stale_device`` -- silent for more than ``stale_intervals`` expected report intervals;
* ``stuck_sensor`` -- the same value ``stuck_n`` times in a row (a flat line);
* ``gap`` -- two consecutive readings further apart in event time than ``gap_factor`` intervals;
* ``drift_out_of_range`` -- the exponentially weighted mean of a value left its band
  (EWMA control chart, Roberts 1959).

Streaming verbs as in river: :meth:`DataQualityMonitor.observe` one event, :meth:`check` the clock.
Each condition raises one alert when it starts and re-arms when it clears.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from ..errors import ParameterError
from ..events import Alert, EventBase, ts_to_us

__all__ = ["DataQualityMonitor", "MonitorConfig"]

_VALUE_FIELDS = ("temperature_k", "humidity", "shock_m_s2", "speed_m_s", "quantity")


@dataclass(frozen=True)
class MonitorConfig:
    stale_intervals: float = 3.0
    stuck_n: int = 20
    gap_factor: float = 3.0
    ewma_alpha: float = 0.1
    #: bands for the EWMA per field (SI); fields without a band are not checked for drift
    bands: dict[str, tuple[float, float]] = field(default_factory=lambda: {"temperature_k": (233.15, 333.15)})

    def __post_init__(self) -> None:
        if self.stale_intervals <= 0 or self.gap_factor <= 0 or self.stuck_n < 2 or not 0 < self.ewma_alpha <= 1:
            raise ParameterError("MonitorConfig: stale_intervals, gap_factor > 0, stuck_n >= 2, 0 < ewma_alpha <= 1")


@dataclass
class _Series:
    last: float | None = None
    repeats: int = 0
    ewma: float | None = None
    stuck: bool = False
    drifting: bool = False


@dataclass
class _Device:
    last_arrival: float
    last_event_us: int | None = None
    stale: bool = False
    series: dict[str, _Series] = field(default_factory=dict)


class DataQualityMonitor:
    """``interval_of(device) -> seconds | None`` gives each device's expected report interval."""

    def __init__(self, interval_of: Callable[[str], float | None], *, source: str = "dq-monitor", start_seq: int = 0,
                 config: MonitorConfig | None = None):
        self.interval_of = interval_of
        self.source = source
        self.seq = start_seq
        self.config = config or MonitorConfig()
        self._devices: dict[str, _Device] = {}
        self.pending: list[Alert] = []

    def _alert(self, code: str, subject: str, now: float, message: str, severity: str = "warning",
               **data: Any) -> None:
        self.pending.append(Alert(source=self.source, seq=self.seq, ts=datetime.fromtimestamp(now, UTC), code=code,
                                  subject=subject, severity=severity, message=message, data=data))
        self.seq += 1

    def observe(self, event: EventBase, now: float) -> None:
        """One accepted event (``now``: when it arrived, gateway clock)."""
        self._observe(event.source, ts_to_us(event.ts), event.model_dump(), now)

    def observe_row(self, source: str, row: tuple[int, int, str, str], now: float) -> None:
        """One accepted log row ``(seq, ts_us, kind, wire_json)``."""
        self._observe(source, row[1], orjson.loads(row[3]), now)

    def observe_columns(self, source: str, tus: list[int], columns: dict[str, list[float]], now: float) -> None:
        """Readings of one envelope given as columns (event times ``tus`` and SI values per field):
        the same state and alerts, in the same order, as :meth:`observe_row` on each reading in turn,
        without parsing each reading's JSON again."""
        fields = [(name, col) for name in _VALUE_FIELDS if (col := columns.get(name)) is not None]
        if len(fields) != 1:  # several value fields (or none): the general path, reading by reading
            for i, t in enumerate(tus):
                self._observe(source, t, {name: col[i] for name, col in fields}, now)
            return
        dev = self._devices.get(source)
        if dev is None:
            dev = self._devices[source] = _Device(now)
        dev.last_arrival = max(dev.last_arrival, now)
        dev.stale = False
        interval = self.interval_of(source)
        cfg = self.config
        lim = cfg.gap_factor * interval if interval else None
        name, col = fields[0]
        s = dev.series.setdefault(name, _Series())
        band = cfg.bands.get(name)
        alpha, stuck_n = cfg.ewma_alpha, cfg.stuck_n
        last_t = dev.last_event_us
        last, repeats, ewma, stuck, drifting = s.last, s.repeats, s.ewma, s.stuck, s.drifting
        for t, v in zip(tus, col, strict=True):
            if last_t is not None and lim and t > last_t:
                gap_s = (t - last_t) / 1e6
                if gap_s > lim:
                    self._alert("gap", source, now, f"no readings for {gap_s:.0f} s (expected every {interval:g} s)",
                                "info", gap_s=gap_s, from_ts_us=last_t, to_ts_us=t)
            last_t = t if last_t is None or t > last_t else last_t
            repeats = repeats + 1 if last == v else 1
            last = v
            if repeats >= stuck_n and not stuck:
                stuck = True
                self._alert("stuck_sensor", source, now, f"{name} stuck at {v:g} for {repeats} readings",
                            field=name, value=v)
            elif repeats == 1:
                stuck = False
            ewma = v if ewma is None else ewma + alpha * (v - ewma)
            if band is not None:
                out = not band[0] <= ewma <= band[1]
                if out and not drifting:
                    self._alert("drift_out_of_range", source, now,
                                f"{name} mean {ewma:.4g} left [{band[0]:g}, {band[1]:g}]", field=name, mean=ewma)
                drifting = out
        dev.last_event_us = last_t
        s.last, s.repeats, s.ewma, s.stuck, s.drifting = last, repeats, ewma, stuck, drifting

    def _observe(self, source: str, t_us: int, values: dict[str, Any], now: float) -> None:
        dev = self._devices.get(source)
        if dev is None:
            dev = self._devices[source] = _Device(now)
        dev.last_arrival = max(dev.last_arrival, now)
        if dev.stale:
            dev.stale = False
        interval = self.interval_of(source)
        if dev.last_event_us is not None and interval and t_us > dev.last_event_us:
            gap_s = (t_us - dev.last_event_us) / 1e6
            if gap_s > self.config.gap_factor * interval:
                self._alert("gap", source, now, f"no readings for {gap_s:.0f} s (expected every {interval:g} s)",
                            "info", gap_s=gap_s, from_ts_us=dev.last_event_us, to_ts_us=t_us)
        dev.last_event_us = t_us if dev.last_event_us is None else max(dev.last_event_us, t_us)
        cfg = self.config
        for name in _VALUE_FIELDS:
            v = values.get(name)
            if v is None:
                continue
            s = dev.series.setdefault(name, _Series())
            s.repeats = s.repeats + 1 if s.last == v else 1
            s.last = v
            if s.repeats >= cfg.stuck_n and not s.stuck:
                s.stuck = True
                self._alert("stuck_sensor", source, now, f"{name} stuck at {v:g} for {s.repeats} readings",
                            field=name, value=v)
            elif s.repeats == 1:
                s.stuck = False
            s.ewma = v if s.ewma is None else s.ewma + cfg.ewma_alpha * (v - s.ewma)
            band = cfg.bands.get(name)
            if band is not None:
                out = not band[0] <= s.ewma <= band[1]
                if out and not s.drifting:
                    self._alert("drift_out_of_range", source, now,
                                f"{name} mean {s.ewma:.4g} left [{band[0]:g}, {band[1]:g}]", field=name, mean=s.ewma)
                s.drifting = out

    def check(self, now: float) -> list[Alert]:
        """Raise stale-device alerts and hand over every alert produced since the last call."""
        for dev_id, dev in self._devices.items():
            interval = self.interval_of(dev_id)
            if interval and not dev.stale and now - dev.last_arrival > self.config.stale_intervals * interval:
                dev.stale = True
                self._alert("stale_device", dev_id, now, f"silent for {now - dev.last_arrival:.0f} s "
                                                         f"(expected every {interval:g} s)", silent_s=now - dev.last_arrival)
        out, self.pending = self.pending, []
        return out

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from supplynet.ingest.envelope import seal
from supplynet.ingest.gate import Gate, GateConfig
from supplynet.security.devices import Credential
from supplynet.store import open_store

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Clock:
    """A settable gateway clock (seconds since the epoch)."""

    def __init__(self, t: datetime = T0):
        self.t = t.timestamp()

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds

    @property
    def now(self) -> datetime:
        return datetime.fromtimestamp(self.t, UTC)


@dataclass
class Dev:
    """A test device: its credential and next sequence number."""

    cred: Credential
    clock: Clock
    seq: int = 0
    units: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.cred.device_id

    def msg(self, *readings: dict[str, Any], skew_s: float = 0.0, seq: int | None = None,
            cred: Credential | None = None, device: str | None = None) -> bytes:
        c = cred or self.cred
        s = self.seq if seq is None else seq
        readings = readings or ({"kind": "condition", "temperature": 4.0},)
        out = seal(device or self.id, c.kid, c.private_key, s, self.clock.now + timedelta(seconds=skew_s),
                   list(readings), self.units or None)
        if seq is None:
            self.seq += len(readings)
        return out


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path / "s.db") as st:
        yield st


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gate(store, clock) -> Gate:
    return Gate(store, clock=clock, config=GateConfig(rate_per_s=1e6, burst=1e6))


def make_dev(gate: Gate, device_id: str, *, measures=("temperature",), asset: str | None = "R1",
             site: str | None = None, interval: float | None = 60.0, units=None) -> Dev:
    cred = gate.registry.provision(device_id, measures=measures, asset=asset, site=site, report_interval_s=interval,
                                  now_us=int(gate.clock() * 1e6))
    return Dev(cred, gate.clock, units=dict(units or {"temperature": "degC"}))


@pytest.fixture
def reefer(gate) -> Dev:
    return make_dev(gate, "rf-1")

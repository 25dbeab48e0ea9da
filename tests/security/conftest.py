"""Fixtures of the attack tests: a store, a gate on a settable clock, a sealing test device."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from supplynet.ingest.envelope import seal
from supplynet.ingest.gate import Gate, GateConfig
from supplynet.security.devices import Credential
from supplynet.store import open_store

T0 = datetime(2026, 1, 1, tzinfo=UTC)
#: times an attacker likes: before year 1 in UTC, after 9999 in UTC, far ahead, the epoch's edge
POISON_TIMES = ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2999-01-01T00:00:00Z",
                "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z")


class Clock:
    """A settable gateway clock (seconds since the epoch)."""

    def __init__(self, t: datetime = T0):
        self.t = t.timestamp()

    def __call__(self) -> float:
        return self.t

    @property
    def now(self) -> datetime:
        return datetime.fromtimestamp(self.t, UTC)


@dataclass
class Dev:
    """A test device: its credential, the gateway clock it seals with, its next sequence number."""

    cred: Credential
    clock: Any
    seq: int = 0

    @property
    def id(self) -> str:
        return self.cred.device_id

    def msg(self, *readings: dict[str, Any], ts: str | datetime | None = None) -> bytes:
        readings = readings or ({"kind": "condition", "temperature": 4.0},)
        when = ts if ts is not None else datetime.fromtimestamp(self.clock(), UTC)
        out = seal(self.id, self.cred.kid, self.cred.private_key, self.seq, when, list(readings),
                   {"temperature": "degC"})
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


def make_dev(gate: Gate, device_id: str = "rf-1") -> Dev:
    cred = gate.registry.provision(device_id, measures=("temperature",), asset="R1", now_us=int(gate.clock() * 1e6))
    return Dev(cred, gate.clock)


def ahead(clock: Any, seconds: float) -> str:
    return (datetime.fromtimestamp(clock(), UTC) + timedelta(seconds=seconds)).isoformat()

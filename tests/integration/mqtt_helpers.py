"""Helpers for the MQTT integration tests (real Mosquitto)."""

from __future__ import annotations

import secrets
import time

import pytest

from supplynet.testing.services import ServiceMissing, ensure_mosquitto


def broker() -> tuple[str, int]:
    try:
        ensure_mosquitto()
    except ServiceMissing as exc:
        pytest.skip(str(exc))
    return "127.0.0.1", 1883


def uid() -> str:
    return secrets.token_hex(4)


def wait_until(pred, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()

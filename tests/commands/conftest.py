"""Fixtures of the command tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def brain_home(tmp_path_factory):
    """One home for every ``supplynet run`` of the session: the machines' RUL model is trained once there."""
    return tmp_path_factory.mktemp("brain-home")

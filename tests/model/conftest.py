"""Fixtures for the network-model tests."""

from __future__ import annotations

import pytest
import yaml

from supplynet.testing.require import require_or_skip


def require_libyaml() -> None:
    """PyYAML (a dependency) may be built without libyaml: skip here, fail in CI."""
    if not yaml.__with_libyaml__:
        require_or_skip("PyYAML is built without libyaml (pip install --force-reinstall pyyaml)", "dependency")


@pytest.fixture
def libyaml() -> None:
    """For a test that compares with, or times, the libyaml parser."""
    require_libyaml()


@pytest.fixture(params=["ruamel", "libyaml"])
def parser(request: pytest.FixtureRequest) -> str:
    """Both YAML parsers must give the same data and the same messages."""
    if request.param == "libyaml":
        require_libyaml()
    return request.param

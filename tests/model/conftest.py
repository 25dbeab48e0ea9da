"""Fixtures for the network-model tests."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["ruamel", "libyaml"])
def parser(request: pytest.FixtureRequest) -> str:
    """Both YAML parsers must give the same data and the same messages."""
    if request.param == "libyaml":
        yaml = pytest.importorskip("yaml", reason="PyYAML is not installed")
        if not yaml.__with_libyaml__:
            pytest.skip("PyYAML is built without libyaml")
    return request.param

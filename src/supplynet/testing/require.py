"""Skip here, fail in CI: what a test needs from the machine rather than from the code.

A test that needs a service (PostgreSQL, Mosquitto and its tools, NATS), a browser (Chromium), an
optional build of an installed package (PyYAML's libyaml) or a public data set (``../shared/data``)
calls :func:`require_or_skip` when that thing is missing. On a developer's machine the test is
skipped with the reason. In CI (``.ci/run``) the variables below are set and the same call fails
the test with that one-line reason, so a clone missing an install step cannot go green by skipping::

    kind         missing thing                                   fails when set
    service      PostgreSQL, Mosquitto (and mosquitto_passwd), NATS  SUPPLYNET_REQUIRE_SERVICES
    browser      Chromium for the dashboard test                 SUPPLYNET_REQUIRE_SERVICES
    dependency   an optional build of an installed package       SUPPLYNET_REQUIRE_SERVICES
    data         a public data set                               SUPPLYNET_REQUIRE_DATA

A variable counts as set unless it is empty or ``0``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from ..errors import ParameterError
from .services import ServiceMissing

__all__ = ["KINDS", "data_dir", "require_data", "require_or_skip", "require_service", "required"]

#: each kind of missing thing and the variable that turns its skip into a failure
KINDS = {
    "service": "SUPPLYNET_REQUIRE_SERVICES",
    "browser": "SUPPLYNET_REQUIRE_SERVICES",
    "dependency": "SUPPLYNET_REQUIRE_SERVICES",
    "data": "SUPPLYNET_REQUIRE_DATA",
}


def required(kind: str) -> bool:
    """True when the environment says a missing ``kind`` is a failure, not a skip."""
    try:
        var = KINDS[kind]
    except KeyError:
        raise ParameterError(f"kind must be one of {sorted(KINDS)}, got {kind!r}") from None
    return os.environ.get(var, "").strip() not in ("", "0")


def require_or_skip(reason: str, kind: str) -> NoReturn:
    """Skip the calling test with ``reason``, or fail it when :func:`required` says so."""
    import pytest

    if required(kind):
        pytest.fail(f"{kind} missing and {KINDS[kind]} is set: {reason}", pytrace=False)
    pytest.skip(reason)


def require_service(ensure: Callable[..., None], *args: object, **kwargs: object) -> None:
    """Run one of :mod:`supplynet.testing.services`' ``ensure_*``; a service not installed here
    (:class:`ServiceMissing`) skips or fails the test, one that will not start fails it always."""
    try:
        ensure(*args, **kwargs)
    except ServiceMissing as exc:
        require_or_skip(str(exc), "service")


def data_dir() -> Path:
    """The public data folder: ``$SUPPLYNET_DATA_DIR``, else ``../shared/data`` beside the source
    checkout this package was imported from, else ``../shared/data`` from the working directory."""
    env = os.environ.get("SUPPLYNET_DATA_DIR")
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parents[3]  # src/supplynet/testing/require.py -> the repository
    if (checkout / "pyproject.toml").is_file():
        return checkout.parent / "shared" / "data"
    return Path("../shared/data")


def require_data(*parts: str) -> Path:
    """``data_dir() / parts`` when it exists; otherwise skip (or fail in CI) naming the path."""
    path = data_dir().joinpath(*parts)
    if not path.exists():
        require_or_skip(f"{path} not found (set SUPPLYNET_DATA_DIR to the public data folder)", "data")
    return path

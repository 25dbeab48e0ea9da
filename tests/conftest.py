"""Shared fixtures: a real PostgreSQL for the tests that need one.

``pg_database`` (session): checks 127.0.0.1:5432 is up, starting the local cluster if it is not
(:func:`supplynet.testing.services.ensure_postgres`), creates a fresh database for this test session
(trust auth, user ``postgres``) and drops it at the end. ``pg_url`` (per test): that database
with an empty ``public`` schema. Override the server with ``SUPPLYNET_TEST_PG`` (a URL without
the database name, e.g. ``postgresql://me@db:5432``). When PostgreSQL is not installed at all the
tests that need it are skipped with that reason (they fail under ``SUPPLYNET_REQUIRE_SERVICES``, as in
CI: :mod:`supplynet.testing.require`); when it is installed but will not start they fail.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest

from supplynet.testing.require import require_service
from supplynet.testing.services import ensure_postgres


@pytest.fixture(scope="session")
def pg_server() -> str:
    """Base URL (no database) of a running PostgreSQL server."""
    url = os.environ.get("SUPPLYNET_TEST_PG")
    if url:
        return url.rstrip("/")
    require_service(ensure_postgres)
    return "postgresql://postgres@127.0.0.1:5432"


@pytest.fixture(scope="session")
def pg_database(pg_server: str) -> Iterator[str]:
    """URL of a database created for this test session (dropped afterwards)."""
    import psycopg

    name = f"supplynet_test_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{pg_server}/{name}"
    with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """The session database with an empty ``public`` schema, for one test."""
    import psycopg

    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    return pg_database


@pytest.fixture(scope="session", autouse=True)
def _session_vault_key() -> Iterator[None]:
    """One vault key for the session (in the environment, so gateway subprocesses share it): device
    provisioning derives the platform's acknowledgement key from it, and without it every test would
    make ``vault.key`` in the working folder's ``.supplynet``. Tests of the vault itself unset it."""
    from supplynet.security.vault import Vault

    had = os.environ.get("SUPPLYNET_VAULT_KEY")
    if had is None:
        os.environ["SUPPLYNET_VAULT_KEY"] = Vault.generate_key()
    yield
    if had is None:
        os.environ.pop("SUPPLYNET_VAULT_KEY", None)

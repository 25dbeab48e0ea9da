"""schemathesis against the live OpenAPI schema of a running service (bounded examples): no 5xx,
every status code, content type and body documented, for an admin token (every route reachable).

``POST /v1/ingest`` is included (it documents its 200, 400, 413, 429 and 503 answers; generated bodies are
not signed envelopes, so they come back refused, quarantined or 400, never 5xx). Left out: ``/v1/stream``
(an endless event stream) and ``POST /v1/scenarios`` (it queues Monte Carlo runs; tested in tests/api).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from supplynet.config import Settings
from supplynet.model import example_path, load_network
from supplynet.security.tokens import TokenService
from supplynet.store import open_store

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from supplynet.commands.serve import serve_in_background

    home = tmp_path_factory.mktemp("st")
    store = open_store(home / "s.db")
    admin = TokenService(store).create(role="admin", name="fuzzer")[0]
    _, stop = serve_in_background(Settings(environment="test", home=home), load_network(example_path("tiny")),
                                  store=store, port=0)
    yield stop.base_url.replace("/ui/", ""), admin
    stop()
    store.close()


@pytest.fixture(scope="module")
def api_schema(live):
    base, _ = live
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    return schema.exclude(path="/v1/stream").exclude(path="/v1/scenarios", method="POST")


def test_api_conforms_to_its_schema(api_schema, live):
    """Each operation gets its own bounded hypothesis run (the pytest plugin of schemathesis 4 does not
    load under this pytest, so the operations are walked here)."""
    from hypothesis import given

    base, admin = live
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    failures: dict[str, str] = {}
    ran = 0
    labels = []
    for result in api_schema.get_all_operations():
        op = result.ok()
        labels.append(op.label)

        @given(case=op.as_strategy())
        @settings(max_examples=12, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):  # noqa: ANN001
            case.call_and_validate(base_url=base, headers={"Authorization": f"Bearer {admin}"}, checks=checks)

        try:
            run()
        except Exception as exc:  # collected so one report names every failing operation
            failures[op.label] = str(exc)[:1500]
        ran += 1
    print(f"schemathesis: {ran} operations")
    assert ran >= 30 and "POST /v1/ingest" in labels
    assert failures == {}

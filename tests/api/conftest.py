"""An app on a fresh store with the tiny network, and a token per role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from supplynet.api import create_app
from supplynet.api.middleware import Limits
from supplynet.config import Settings
from supplynet.decide.autonomy import parse_policy
from supplynet.model import example_path, load_network
from supplynet.security.tokens import TokenService
from supplynet.store import open_store

POLICY = {
    "high_impact_cost": 50_000, "costly_action_cost": 1_000, "timezone": "UTC",
    "kinds": {"replenish": {"level": "auto", "guardrails": {"max_spend_per_decision": 20_000, "max_quantity": 1_000}},
              "maintain": {"level": "propose"}, "reroute": {"level": "manual"}},
}


@dataclass
class Api:
    client: TestClient
    store: object
    network: object
    tokens: dict[str, str]

    def h(self, role: str | None, **extra: str) -> dict[str, str]:
        out = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        out.update(extra)
        return out


@pytest.fixture(scope="module")
def tiny():
    return load_network(example_path("tiny"))


@pytest.fixture
def api(tmp_path, tiny) -> Iterator[Api]:
    store = open_store(tmp_path / "api.db")
    svc = TokenService(store)
    tokens = {role: svc.create(role=role, name=f"{role}-1")[0] for role in ("viewer", "planner", "admin")}
    tokens["planner2"] = svc.create(role="planner", name="planner-2")[0]
    app = create_app(Settings(environment="test", home=tmp_path), store=store, network=tiny,
                     policy=parse_policy(POLICY), limits=Limits(max_body_bytes=64 * 1024, rate_per_s=1e6, burst=1e6),
                     twin_refresh_s=0.0)  # tests write to the log directly and read at once
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, store, tiny, tokens)
    store.close()

"""The dashboard in headless Chromium (Debian's ``chromium``, driven by Playwright's Python API):
a planner signs in, approves a proposed decision in the UI and sees it executed and in the audit log;
a viewer sees no approve button and the API refuses the call. Screenshots go to test-artifacts/."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from supplynet.config import Settings
from supplynet.decide.autonomy import parse_policy
from supplynet.decide.decision import Decision, OrderAction, submit
from supplynet.model import example_path, load_network
from supplynet.security.tokens import TokenService
from supplynet.store import open_store
from supplynet.testing.require import require_or_skip

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def _chromium() -> Path:
    if not CHROMIUM.exists() and shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "chromium"], capture_output=True, timeout=900, check=False)
    if not CHROMIUM.exists():
        require_or_skip("/usr/bin/chromium is absent and `apt-get install -y chromium` could not install it "
                        "(.ci/run installs it before make test)", "browser")
    return CHROMIUM


def _proposal(store, qty: float) -> str:
    pol = parse_policy({"kinds": {"replenish": {"level": "auto", "guardrails": {"max_quantity": 100}}}})
    d = Decision(kind="replenish", created_at=datetime(2026, 1, 5, 12, tzinfo=UTC),
                 trigger_event_ids=["till-1:1", "rfid-1:1"], cost=420.0, why="position below the reorder point",
                 action=OrderAction(site="STORE-1", sku="MILK-2L", quantity=qty, origin="DC-1", lane_id="L-DC-STORE-1",
                                    order_type="transfer"))
    return submit(store, d, pol).decision.id


@pytest.fixture
def served(tmp_path):
    from supplynet.commands.serve import serve_in_background

    store = open_store(tmp_path / "ui.db")
    url, stop = serve_in_background(Settings(environment="test", home=tmp_path), load_network(example_path("tiny")),
                                    store=store, port=0)
    try:
        yield store, stop.base_url, stop.token, url
    finally:
        stop()
        store.close()


def test_planner_approves_in_the_ui_and_viewer_cannot(served):
    from playwright.sync_api import expect, sync_playwright

    store, base, planner_token, url_with_token = served
    exe = _chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    did = _proposal(store, 400)
    viewer_token = TokenService(store).create(role="viewer", name="vera")[0]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(exe), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(base)
            page.fill("#token", planner_token)
            page.click("#login-button")
            expect(page.locator("#who")).to_contain_text("planner")
            button = page.locator(f'button.approve[data-id="{did}"]')
            expect(button).to_be_visible(timeout=15_000)
            expect(page.locator("#map .site [data-site]")).to_have_count(5)  # Leaflet markers, one per site
            page.screenshot(path=str(ARTIFACTS / "planner-before-approve.png"), full_page=True)
            button.click()
            expect(page.locator("#decisions-recent")).to_contain_text("executed", timeout=15_000)
            expect(page.locator(f'button.approve[data-id="{did}"]')).to_have_count(0)
            audit = page.locator("#audit")
            expect(audit).to_contain_text("decision.approve", timeout=15_000)
            expect(audit).to_contain_text("decision.execute")
            expect(audit).to_contain_text(did)
            page.screenshot(path=str(ARTIFACTS / "planner-after-approve.png"), full_page=True)
            assert errors == []

            # the service stored the approval, the order event and the audit entries
            assert any(r.event.kind == "order" and r.event.decision_id == did for r in store.log.read())
            entries = store.audit.entries(subject=did)
            assert [e.action for e in entries][-2:] == ["decision.approve", "decision.execute"]
            assert entries[-2].actor == "planner:demo-planner"

            # a viewer: no approve button, and the API refuses the call
            other = _proposal(store, 300)
            vctx = browser.new_context(viewport={"width": 1400, "height": 1100})
            vpage = vctx.new_page()
            vpage.goto(base)
            vpage.fill("#token", viewer_token)
            vpage.click("#login-button")
            expect(vpage.locator("section.queue")).to_contain_text(other, timeout=15_000)  # grouped or flat
            expect(vpage.locator("button.approve")).to_have_count(0)
            expect(vpage.locator("#scenario-run")).to_be_disabled()
            vpage.screenshot(path=str(ARTIFACTS / "viewer-no-approve.png"), full_page=True)
            status = vpage.evaluate(
                """async ([id, tok]) => (await fetch(`/v1/decisions/${id}/approve`, {method: "POST",
                     headers: {Authorization: "Bearer " + tok, "Content-Type": "application/json"}, body: "{}"})).status""",
                [other, viewer_token])
            assert status == 403
            vctx.close()

            # the demo's URL carries the planner token in its fragment and signs in by itself
            auto = browser.new_page()
            auto.goto(url_with_token)
            expect(auto.locator("#who")).to_contain_text("planner", timeout=15_000)
            assert "token" not in auto.url
        finally:
            browser.close()
    r = httpx.post(f"{base.replace('/ui/', '')}/v1/decisions/{other}/approve", json={},
                   headers={"Authorization": f"Bearer {viewer_token}"})
    assert r.status_code == 403 and r.json()["code"] == "forbidden"

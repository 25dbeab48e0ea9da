"""The dashboard's outbox panel in headless Chromium: an admin re-sends a dead letter with a click; a
viewer sees the dead letter but no re-send button."""

from __future__ import annotations

import pytest

from supplynet.config import Settings
from supplynet.model import example_path, load_network
from supplynet.security.tokens import TokenService
from supplynet.store import open_store

from .test_browser import ARGS, ARTIFACTS, _chromium

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_admin_resends_a_dead_letter_in_the_ui(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    from supplynet.commands.serve import serve_in_background

    exe = _chromium()
    store = open_store(tmp_path / "ui.db")
    box = store.outbox
    box.enqueue(action_id="D3:order", action="order", body={"site": "STORE-1"}, sinks=["erp"], decision_id="D3",
                at_us=1_000_000)
    box.enqueue(action_id="D4:order", action="order", body={"site": "STORE-1"}, sinks=["erp"], decision_id="D4",
                at_us=2_000_000)
    [dead] = box.list(action_id="D3:order")
    box.mark_dead(dead.id, now_us=3_000_000, error="POST http://erp/hook: HTTP 410")
    url, stop = serve_in_background(Settings(environment="test", home=tmp_path), load_network(example_path("tiny")),
                                    store=store, port=0)
    tokens = TokenService(store)
    admin, viewer = tokens.create(role="admin", name="ada")[0], tokens.create(role="viewer", name="vera")[0]
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(exe), args=ARGS, headless=True)
            try:
                vpage = browser.new_page(viewport={"width": 1400, "height": 1100})
                vpage.goto(stop.base_url)
                vpage.fill("#token", viewer)
                vpage.click("#login-button")
                panel = vpage.locator("#outbox")
                expect(panel).to_contain_text("HTTP 410", timeout=15_000)
                expect(panel).to_contain_text("D4:order")  # pending ones are shown too
                expect(vpage.locator("button.resend")).to_have_count(0)

                page = browser.new_context(viewport={"width": 1400, "height": 1100}).new_page()
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto(stop.base_url)
                page.fill("#token", admin)
                page.click("#login-button")
                button = page.locator('button.resend[data-action="D3:order"]')
                expect(button).to_be_visible(timeout=15_000)
                page.screenshot(path=str(ARTIFACTS / "outbox-dead-letter.png"), full_page=True)
                button.click()
                expect(page.locator("button.resend")).to_have_count(0, timeout=15_000)
                expect(page.locator("#outbox")).to_contain_text("dead: 0")
                expect(page.locator("#audit")).to_contain_text("outbox.resend", timeout=15_000)
                assert errors == []
            finally:
                browser.close()
    finally:
        stop()
    row = box.get(dead.id)
    assert row is not None and (row.status, row.attempts, row.resends) == ("pending", 0, 1)
    store.close()

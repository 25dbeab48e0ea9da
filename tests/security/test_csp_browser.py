"""The dashboard under its Content-Security-Policy in headless Chromium: it signs in and draws with no
policy violation, and markup injected into the page cannot run script."""

from __future__ import annotations

from pathlib import Path

import pytest

from supplynet.config import Settings
from supplynet.model import example_path, load_network
from supplynet.store import open_store
from supplynet.testing.require import require_or_skip

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def test_dashboard_works_under_the_csp_and_injected_script_does_not_run(tmp_path):
    if not CHROMIUM.exists():
        require_or_skip("/usr/bin/chromium is absent (tests/integration/test_browser.py installs it when it can)", "browser")
    from playwright.sync_api import expect, sync_playwright

    from supplynet.commands.serve import serve_in_background

    store = open_store(tmp_path / "ui.db")
    url, stop = serve_in_background(Settings(environment="test", home=tmp_path), load_network(example_path("tiny")),
                                    store=store, port=0)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
            try:
                page = browser.new_page()
                console: list[str] = []
                errors: list[str] = []
                page.on("console", lambda m: console.append(m.text))
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.add_init_script("window.__violations = []; document.addEventListener("
                                     "'securitypolicyviolation', e => window.__violations.push("
                                     "e.violatedDirective + ' ' + e.blockedURI));")
                resp = page.goto(url)
                assert "frame-ancestors 'none'" in resp.headers["content-security-policy"]
                expect(page.locator("#who")).to_contain_text("planner", timeout=15_000)
                expect(page.locator("#map .site [data-site]")).to_have_count(5, timeout=15_000)
                expect(page.locator("#map-legend .sw").first).to_be_visible()
                assert page.evaluate("window.__violations") == []
                assert not [m for m in console if "Content Security Policy" in m], console
                assert errors == []
                # an attacker's markup in the page: its inline handler and inline script are refused
                page.evaluate("""() => { document.body.insertAdjacentHTML('beforeend',
                    '<img src="data:," onerror="window.pwned = 1"><img src="/nope.png" onerror="window.pwned = 2">');
                    const s = document.createElement('script'); s.textContent = 'window.pwned = 3';
                    document.body.appendChild(s); }""")
                page.wait_for_timeout(500)
                assert page.evaluate("window.pwned") is None
                assert page.evaluate("window.__violations.length") >= 1
            finally:
                browser.close()
    finally:
        stop()
        store.close()

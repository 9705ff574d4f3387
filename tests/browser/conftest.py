"""Browser tests: the real app on PostgreSQL served on a loopback port in a thread, driven by
Debian's Chromium through Playwright (one browser for the session). ``make test`` installs
Chromium and axe-core; screenshots of each journey's last page go to test-artifacts/."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import PASSWORD

CHROMIUM = os.environ.get("BATON_CHROMIUM", "/usr/bin/chromium")
# Without these the sandboxed machine's Chromium stalls on network and first-run work.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
AXE = Path(os.environ.get("BATON_AXE", ROOT / "build/axe/node_modules/axe-core/axe.min.js"))
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def live_server(app):
    """The app, served by werkzeug on a free loopback port (threaded, like a real server)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser, live_server):
    """new_page() -> a page in a fresh browser context (its own cookies), closed afterwards."""
    contexts = []

    def _new():
        context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15000)
        contexts.append(context)
        return context.new_page()

    yield _new
    for context in contexts:
        context.close()


def sign_in(page, email: str) -> None:
    """Sign in with the keyboard alone: type, Tab, type, Enter."""
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/login" not in page.url, page.content()[-500:]


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_violations(page) -> list[dict]:
    """Serious and critical axe-core violations on the current page."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make test` installs axe-core from the npm registry")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => JSON.stringify(await axe.run(document))")
    found = json.loads(result)["violations"]
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in found
        if v["impact"] in ("serious", "critical")
    ]

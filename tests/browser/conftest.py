"""Browser-test fixtures: one Streamlit server and one headless Chromium per test session.

Page helpers (``open_app``, ``wait_idle``, ``assert_no_exception``) live in ``tests/browser/helpers.py``.
"""
from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect, sync_playwright

from tests import server
from tests.server import free_port

from .helpers import RESULTS

CHROMIUMS = ("/usr/bin/chromium", "/usr/bin/chromium-headless-shell")
# Without the network flags Chromium keeps trying hosts this closed network refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
SERVER_START_TIMEOUT_S = 60
# CI runs the whole suite on a loaded 2-core machine: an assertion without its own timeout waits up to 20 s (not
# Playwright's 5 s) for what a rerun draws. A passing assertion returns as soon as it holds, so this costs nothing.
expect.set_options(timeout=20_000)


@pytest.fixture(scope="session")
def app_server():
    """Base URL of a `streamlit run app.py` started for this test session."""
    port = free_port()
    try:
        proc = server.start(port, RESULTS / "streamlit.log", timeout=SERVER_START_TIMEOUT_S)
    except RuntimeError as err:
        pytest.fail(str(err))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop(proc)


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Playwright (Playwright cannot download its own here)."""
    executable = next((path for path in CHROMIUMS if os.path.exists(path)), None)
    if executable is None:
        message = f"no Chromium at {' or '.join(CHROMIUMS)}; `make test` installs Debian's chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh browser context and page per test."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    yield page
    context.close()

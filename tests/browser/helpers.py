"""Helpers for browser tests: open a page of the app and wait for Streamlit to be idle."""
from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "test-results"  # screenshots and the server log; ignored by git

# Streamlit 1.67's app root: data-test-connection-state goes CONNECTING -> CONNECTED, and
# data-test-script-state goes initial -> running -> notRunning; elements left from the previous run
# carry data-stale="true" until the new run redraws them.
CONNECTED = "[data-testid=stApp][data-test-connection-state=CONNECTED]"
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
STALE = "[data-stale=true]"


def wait_idle(page: Page, timeout_ms: int = 60_000, settle_ms: int = 100) -> None:
    """Wait until the app is connected, its script has finished and nothing on the page is stale.

    After a click, the rerun may not have started yet when this is called (as in Streamlit's own
    e2e helper, ``settle_ms`` covers that gap); then wait for the element the click should produce.
    """
    page.wait_for_selector(CONNECTED, timeout=timeout_ms)
    page.wait_for_selector(IDLE, timeout=timeout_ms)
    page.wait_for_selector(STALE, state="detached", timeout=timeout_ms)
    page.wait_for_timeout(settle_ms)
    page.wait_for_selector(IDLE, timeout=timeout_ms)


def open_app(page: Page, url: str, timeout_ms: int = 60_000) -> Page:
    """Navigate to ``url`` (the base URL or a page under it) and wait until the script is idle."""
    page.goto(url)
    wait_idle(page, timeout_ms)
    return page


def assert_no_exception(page: Page) -> None:
    """No Streamlit exception box anywhere on the page."""
    expect(page.locator("[data-testid=stException]")).to_have_count(0)


def screenshot(page: Page, name: str) -> Path:
    """Save a full-window screenshot as test-results/<name>.png and return its path."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.png"
    page.screenshot(path=path)
    return path

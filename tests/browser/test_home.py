"""The home page loads in a real browser, names the compute device, and is captured in test-results/.

The README's picture is refreshed only on purpose: ``PLAYGROUND_REFRESH_SCREENSHOT=1`` copies the capture to
``assets/screenshot.png`` (a plain test run never changes a tracked file).
"""
import os
import shutil

from playwright.sync_api import expect

import engine
from tests.browser.helpers import ROOT, assert_no_exception, open_app, screenshot


def test_home_page(app_server, page):
    open_app(page, app_server)
    assert_no_exception(page)
    expect(page.get_by_role("heading", name="Neural-network playground")).to_be_visible()
    device = page.locator(".st-key-device")  # st.container(key="device") in app.py
    expect(device).to_contain_text("Compute device")
    expect(device).to_contain_text(engine.device.describe())

    shot = screenshot(page, "home")
    assert shot.stat().st_size > 10_000  # a real picture of the page, not an empty frame
    if os.environ.get("PLAYGROUND_REFRESH_SCREENSHOT") == "1":
        shutil.copyfile(shot, ROOT / "assets" / "screenshot.png")  # shown in the README

"""Presenter mode in the browser: ?present=1 on Train at 1400 px collapses the sidebar and enlarges the text, page
links and the sidebar's navigation keep it in the address, and leaving it restores the normal view."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import assert_no_exception, open_app, wait_idle
from tests.browser.test_projector import FITTED, OVERFLOW_JS, ZOOM_VIEWPORT

WIDTH = 1400
FULL = {"width": WIDTH, "height": 900}
PAGES = ["", "Build", "Convolution", "Train", "Inspect", "Gradients", "Class"]
# Whether the sidebar shows: collapsed, it slides out of the window.
SIDEBAR_JS = """() => {
  const sb = document.querySelector('[data-testid=stSidebar]');
  if (!sb) return false;
  const box = sb.getBoundingClientRect();
  return box.right > 1 && box.width > 1 && getComputedStyle(sb).visibility !== 'hidden';
}"""
TITLE_PX = "() => parseFloat(getComputedStyle(document.querySelector('h1')).fontSize)"


def _sidebar_shown(page: Page, want: bool, tries: int = 20) -> bool:
    """Whether the sidebar shows, once its slide (an animation after the script's end) has settled on ``want``."""
    for _ in range(tries):
        shown = page.evaluate(SIDEBAR_JS)
        if shown == want:
            return shown
        page.wait_for_timeout(250)
    return shown


def _overflow(page: Page, width: int = WIDTH) -> list[str]:
    """What reaches past the window's right edge once charts and formulas have settled (after the script)."""
    problems = []
    for _ in range(10):
        page.wait_for_timeout(500)
        if not (problems := page.evaluate(OVERFLOW_JS, [FITTED, width])):
            break
    return problems


def test_presenter_mode_on_train_then_inspect_then_off(app_server, page):
    open_app(page, f"{app_server}/Train")
    normal_px = page.evaluate(TITLE_PX)
    assert _sidebar_shown(page, True)

    open_app(page, f"{app_server}/Train?present=1")
    assert_no_exception(page)
    assert not _sidebar_shown(page, False), "the sidebar still shows in presenter mode"
    assert page.evaluate(TITLE_PX) > normal_px * 1.2
    leave = page.get_by_role("button", name="Leave presenter mode")
    expect(leave).to_be_visible()
    assert not _overflow(page)

    # A page link (st.page_link) carries the parameter along.
    link = page.get_by_role("link", name="Change the network on the Build page")
    assert "present=1" in link.get_attribute("href")
    link.click()
    page.wait_for_url(re.compile(r"/Build\?.*present=1"), timeout=60_000)
    wait_idle(page)
    assert page.evaluate(TITLE_PX) > normal_px * 1.2

    # The sidebar's navigation drops every parameter: the session puts it back.
    page.get_by_test_id("stExpandSidebarButton").click()
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Inspect").click()
    page.wait_for_url(re.compile(r"/Inspect\?.*present=1"), timeout=60_000)
    wait_idle(page)
    assert_no_exception(page)
    assert page.evaluate(TITLE_PX) > normal_px * 1.2

    page.get_by_role("button", name="Leave presenter mode").click()
    wait_idle(page)
    expect(page.get_by_role("button", name="Leave presenter mode")).to_have_count(0)
    assert "present" not in page.url
    assert page.evaluate(TITLE_PX) == normal_px
    assert _sidebar_shown(page, True), "leaving presenter mode keeps the sidebar hidden"
    assert not _overflow(page)

    # Turned on again from the sidebar's toggle: the sidebar goes, also after it was opened by hand above (Streamlit
    # then keeps the hand's choice over the page's initial state).
    page.get_by_test_id("stSidebar").get_by_text("Presenter mode").click()
    wait_idle(page)
    assert "present=1" in page.url
    assert not _sidebar_shown(page, False), "the sidebar opened by hand stays open in presenter mode"


@pytest.mark.parametrize("path,viewport", [(p, FULL) for p in PAGES] + [("Convolution", ZOOM_VIEWPORT)],
                         ids=[p or "Home" for p in PAGES] + ["Convolution-200%"])
def test_every_page_fits_in_presenter_mode(app_server, browser, path, viewport):
    """The larger text still needs no sideways scrolling: at 1400 px, and the formula at 200% zoom."""
    context = browser.new_context(viewport=viewport, device_scale_factor=2 if viewport is ZOOM_VIEWPORT else 1)
    try:
        page = open_app(context.new_page(), f"{app_server}/{path}?present=1")
        assert_no_exception(page)
        assert not (problems := _overflow(page, viewport["width"])), "\n".join(problems)
    finally:
        context.close()

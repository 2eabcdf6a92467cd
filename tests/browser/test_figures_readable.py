"""Figures as drawn in Chromium, at 1400 px and at 200 % zoom (700 CSS px): each first-layer filter of mnist-cnn
at least 48 px wide (issue 18)."""
import pytest
from playwright.sync_api import expect

from tests.browser.helpers import assert_no_exception, open_app, wait_idle

MIN_FILTER_PX = 48


@pytest.mark.parametrize("width,scale", [(1400, 1), (700, 2)], ids=["1400px", "zoom200"])
def test_mnist_cnn_filters_are_drawn_large(app_server, browser, width, scale):
    context = browser.new_context(viewport={"width": width, "height": 900}, device_scale_factor=scale)
    page = context.new_page()
    try:
        open_app(page, f"{app_server}/Build?net=p.mnist-cnn")
        # the same session's Inspect page; at 700 px the sidebar is collapsed, so the link is clicked by script
        page.locator("[data-testid=stSidebarNavLink][href$='/Inspect']").first.evaluate("a => a.click()")
        wait_idle(page)
        page.get_by_role("tab", name="Filters").click()
        wait_idle(page)
        chart = page.locator(".st-key-inspect_filters")
        grid = chart.locator(".heatmaplayer image").first
        grid.scroll_into_view_if_needed()
        box = grid.bounding_box()
        # 32 filters of 5×5 in 6 columns with one-cell gaps: 6·5 + 5 = 35 cells across
        assert box["width"] / 35 * 5 >= MIN_FILTER_PX
        assert box["height"] / 35 * 5 >= MIN_FILTER_PX  # 6 rows: a near-square grid, not one column
        expect(chart).to_contain_text("32 filters")
        assert_no_exception(page)
    finally:
        context.close()


def test_a_wide_filter_grid_fits_a_zoomed_window(app_server, browser):
    """resnet-mini's ``5.shortcut`` (32 filters of 1×1, 16 input channels) at 200 % zoom: no sideways scrolling, filters still large."""
    context = browser.new_context(viewport={"width": 700, "height": 900}, device_scale_factor=2)
    page = context.new_page()
    try:
        open_app(page, f"{app_server}/Build?net=p.resnet-mini")
        page.locator("[data-testid=stSidebarNavLink][href$='/Inspect']").first.evaluate("a => a.click()")
        wait_idle(page)
        page.get_by_role("tab", name="Filters").click()
        wait_idle(page)
        page.locator(".st-key-inspect_filter_layer").click()
        page.get_by_role("option", name="5.shortcut Conv").click()
        wait_idle(page)
        chart = page.locator(".st-key-inspect_filters")
        expect(chart).to_contain_text("32 filters")
        svg = chart.locator(".main-svg").first.bounding_box()
        assert svg["x"] + svg["width"] <= 700  # inside the window: no sideways scroll
        # drawn at the width the engine asked for (814 px before, squeezed into 668), so each filter keeps its size
        assert float(chart.get_attribute("width").removesuffix("px")) <= svg["width"] + 1
        grid = chart.locator(".heatmaplayer image").first.bounding_box()
        assert grid["width"] / 6 >= MIN_FILTER_PX  # 6 columns (a thin gap each): about 48 px or more a filter
        assert_no_exception(page)
    finally:
        context.close()

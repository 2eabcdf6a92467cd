"""The Inspect page in a real browser: pick a sample and see its saliency; draw a digit and see the prediction change."""
import re

from playwright.sync_api import expect

from tests.browser.helpers import assert_no_exception, open_app, screenshot, wait_idle

SETTLE_MS = 700  # Plotly waits out a possible double click before it reports a click


def test_pick_a_sample_see_saliency(app_server, page):
    open_app(page, f"{app_server}/Inspect")
    assert_no_exception(page)
    sidebar = page.locator("[data-testid=stSidebar]")
    sidebar.locator(".st-key-inspect_index button[data-testid=stNumberInputStepUp]").click()
    wait_idle(page)
    expect(page.get_by_text("True label:")).to_be_visible()
    expect(sidebar).to_contain_text("mnist test #")  # which dataset, split and index the sample is
    expect(page.locator(".st-key-inspect_input")).to_contain_text("Input: mnist test #")
    page.get_by_role("tab", name="Attribution").click()
    overlay = page.locator(".st-key-inspect_overlay")
    expect(overlay).to_contain_text("Saliency for class")
    expect(overlay).to_contain_text("(predicted)")
    expect(overlay.locator(".heatmaplayer, .imagelayer").first).to_be_attached()
    assert_no_exception(page)
    screenshot(page, "inspect_saliency")

    page.get_by_role("tab", name="Activations").click()  # only the open tab is built: this one now
    wait_idle(page)
    mosaic = page.locator(".st-key-inspect_act_0")
    area = mosaic.locator(".nsewdrag").first
    area.scroll_into_view_if_needed()
    box = area.bounding_box()
    page.mouse.move(box["x"] + 0.1 * box["width"], box["y"] + 0.1 * box["height"], steps=5)  # in the first map
    expect(mosaic.locator(".hoverlayer")).to_contain_text(re.compile(r"map 0: -?\d"))  # the hover's index and value
    page.get_by_role("tab", name="Attribution").click()
    wait_idle(page)
    expect(page.locator(".st-key-inspect_overlay")).to_contain_text("Saliency for class")
    assert_no_exception(page)


def _inked(grid) -> int:
    """How many cells of the drawing grid are drawn in full ink (black)."""
    return grid.locator(".scatterlayer .point").evaluate_all(
        "points => points.filter(p => p.style.fill === 'rgb(0, 0, 0)').length")


def _bars(page) -> str:
    return page.locator(".st-key-inspect_topk").inner_text()


def test_draw_a_digit_updates_the_prediction(app_server, page):
    page.set_viewport_size({"width": 1400, "height": 1400})
    open_app(page, f"{app_server}/Inspect")
    page.locator("[data-testid=stSidebar]").get_by_text("Draw a digit").click()
    wait_idle(page)
    grid = page.locator(".st-key-inspect_draw")
    expect(grid.locator(".scatterlayer .point")).to_have_count(14 * 14)  # mnist-cnn: 28×28 drawn on 14×14
    before = _bars(page)

    box = grid.bounding_box()
    x0, y0, cell = box["x"], box["y"], box["width"] / 14
    page.mouse.move(x0 + 4 * cell, y0 + 2 * cell)  # a lasso around a vertical stroke: a "1"
    page.mouse.down()
    for col, row in [(7, 2), (7, 12), (6, 12), (6, 2)]:
        page.mouse.move(x0 + col * cell, y0 + row * cell, steps=6)
    page.mouse.up()
    page.wait_for_timeout(SETTLE_MS)
    wait_idle(page)
    expect(page.get_by_text("The model says")).to_be_visible()
    strokes = _inked(grid)
    assert strokes >= 5 and _bars(page) != before

    page.locator(".st-key-inspect_brush button").filter(has_text="Click").click()
    wait_idle(page)
    drawn = _bars(page)
    page.mouse.click(x0 + 10.5 * cell, y0 + 10.5 * cell)
    page.wait_for_timeout(SETTLE_MS)
    wait_idle(page)
    assert _inked(grid) == strokes + 1 and _bars(page) != drawn
    assert_no_exception(page)
    screenshot(page, "inspect_draw")

    page.get_by_role("button", name="Clear").click()
    wait_idle(page)
    assert _inked(grid) == 0
    assert_no_exception(page)

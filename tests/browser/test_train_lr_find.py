"""Train page in Chromium: the learning-rate range test runs in the background, draws its curve, and "Use this η"
puts the suggestion into the learning-rate box; a reload draws the result again from the workspace."""
import re

from playwright.sync_api import expect

from tests.browser.helpers import assert_no_exception, open_app, screenshot, wait_idle


def test_find_a_learning_rate_and_use_it(app_server, page):
    open_app(page, f"{app_server}/Build?net=p.toy-mlp")
    page.get_by_role("link", name="Train").first.click()
    wait_idle(page)
    page.locator("[data-testid=stExpander] summary", has_text="Find a learning rate").click()
    page.locator(".st-key-tr-lrf-start button").click()
    # The fragment polls on its own until the test ends; then the page draws the curve and the picks.
    expect(page.get_by_text("Suggested η (steepest descent)")).to_be_visible(timeout=60_000)
    wait_idle(page)
    expect(page.locator(".st-key-tr-lrf-chart .scatterlayer .trace")).to_have_count(2)  # raw and smoothed
    page.locator(".st-key-tr-lrf-chart").scroll_into_view_if_needed()
    screenshot(page, "train_lr_find")
    label = page.locator(".st-key-tr-lrf-use button").inner_text()
    suggestion = float(re.search(r"\(([^)]+)\)", label).group(1))
    page.locator(".st-key-tr-lrf-use button").click()
    wait_idle(page)
    page.locator("[data-testid=stExpander] summary", has_text="Data and training settings").click()
    shown = float(page.locator(".st-key-tr-lr-adam input").input_value())
    assert abs(shown - suggestion) <= 0.01 * suggestion  # the button's label rounds to 3 digits
    assert_no_exception(page)
    # A reload (a new session on the same workspace): the curve and the picks are still there, kept with it
    page.reload()
    wait_idle(page)
    expect(page.get_by_text("kept with your workspace")).to_be_visible(timeout=30_000)
    expect(page.locator(".st-key-tr-lrf-chart .scatterlayer .trace")).to_have_count(2)
    expect(page.locator(".st-key-tr-lrf-use button")).to_have_text(label)
    assert_no_exception(page)

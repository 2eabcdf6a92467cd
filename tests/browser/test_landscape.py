"""The loss landscape in Chromium: toy-mlp trained a few epochs on Train, then Inspect's Loss landscape tab draws
the line from the run's initial weights and a small plane, each polled in the background to its chart."""
import re

from playwright.sync_api import expect

from tests.browser.helpers import assert_no_exception, open_app, screenshot, wait_idle


def _set(page, key: str, value: str) -> None:
    field = page.locator(f".st-key-{key} input")
    field.fill(value)
    field.press("Enter")
    wait_idle(page)


def test_a_trained_network_gets_its_loss_line_and_plane(app_server, page):
    open_app(page, f"{app_server}/Build?net=p.toy-mlp")
    page.get_by_role("link", name="Train").first.click()
    wait_idle(page)
    _set(page, "tr-epochs", "3")
    page.locator(".st-key-tr-start button").click()
    expect(page.get_by_text(re.compile(r"finished · step"))).to_be_visible(timeout=120_000)
    wait_idle(page)
    page.get_by_role("link", name="Inspect").first.click()
    wait_idle(page)
    page.get_by_role("tab", name="Loss landscape", exact=True).click()
    wait_idle(page)
    _set(page, "inspect_ls_samples", "64")
    _set(page, "inspect_ls_steps", "7")
    page.locator(".st-key-inspect_ls_line button").click()
    expect(page.locator(".st-key-inspect_ls_line_chart .main-svg").first).to_be_visible(timeout=120_000)
    page.locator(".st-key-inspect_ls_plane button").click()
    expect(page.locator(".st-key-inspect_ls_contour .main-svg").first).to_be_visible(timeout=120_000)
    expect(page.locator(".st-key-inspect_ls_surface")).to_be_visible()
    wait_idle(page)
    assert_no_exception(page)
    screenshot(page, "loss-landscape")

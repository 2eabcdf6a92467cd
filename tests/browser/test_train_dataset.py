"""A preset loaded on Build brings a dataset that fits it to Train (spiral does not fit an autoencoder), in Chromium,
also when the workspace was opened again in between (its saved Train settings still name spiral)."""
import re

from playwright.sync_api import expect

from tests.browser.helpers import assert_no_exception, open_app, wait_idle


def _go(page, name: str) -> None:
    page.locator("[data-testid=stSidebarNav] a", has_text=name).first.click()
    page.wait_for_url(re.compile(rf"/{name}\b"))  # the click navigates in the page: the old page is idle at first
    wait_idle(page)
    expect(page.locator("[data-testid=stSidebarNav] a[aria-current=page]")).to_contain_text(name)
    wait_idle(page)


def test_loading_an_autoencoder_replaces_spiral(app_server, page):
    open_app(page, f"{app_server}/Build?net=p.toy-mlp")
    _go(page, "Train")
    page.locator(".st-key-tr-dataset").click()
    page.get_by_role("option", name=re.compile(r"^spiral ")).click()
    wait_idle(page)
    expect(page.locator(".st-key-tr-dataset input")).to_have_value(re.compile(r"^spiral "))
    _go(page, "Build")
    page.get_by_text("Start from a preset or an empty network").click()
    expect(page.locator(".st-key-preset input")).to_be_visible()
    page.wait_for_timeout(500)  # the expander opens with an animation: a click during it can miss the list
    page.locator(".st-key-preset input").click()
    expect(page.get_by_role("option").first).to_be_visible()  # the list is open: typing filters it
    page.keyboard.type("autoencoder")  # the list scrolls: filter it
    page.get_by_role("option", name=re.compile(r"^autoencoder ")).click()
    wait_idle(page)
    page.locator(".st-key-load-preset button").click()
    wait_idle(page)
    page.reload()  # a reload (or a lost connection) opens the workspace again, with its saved Train settings
    wait_idle(page)
    _go(page, "Train")
    expect(page.locator(".st-key-tr-dataset input")).to_have_value("mnist (Images)")
    expect(page.locator(".st-key-tr-noise input")).to_be_visible()  # the page knows it is an autoencoder
    assert_no_exception(page)

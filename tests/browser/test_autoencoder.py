"""An autoencoder in Chromium: from its Build link to Train on the bundled MNIST, one epoch, its reconstructions
drawn, no accuracy chart and no exception."""
import re

from playwright.sync_api import expect

from tests.browser.helpers import assert_no_exception, open_app, screenshot, wait_idle


def test_an_autoencoder_trains_on_mnist_and_shows_its_reconstructions(app_server, page):
    open_app(page, f"{app_server}/Build?net=p.autoencoder")
    page.get_by_role("link", name="Train").first.click()
    wait_idle(page)
    expect(page.get_by_role("heading", name="Train")).to_be_visible()
    page.locator(".st-key-tr-dataset").click()
    page.get_by_role("option", name=re.compile(r"^mnist \(Images\)")).click()
    wait_idle(page)
    expect(page.locator(".st-key-tr-noise input")).to_be_visible()  # the denoising setting, for autoencoders
    field = page.locator(".st-key-tr-epochs input")
    field.fill("1")
    field.press("Enter")
    wait_idle(page)
    page.locator(".st-key-tr-start button").click()
    chart = page.locator(".st-key-tr-recon-chart")
    expect(chart.locator(".main-svg").first).to_be_visible(timeout=60_000)
    # .first: while the live view redraws, the chart's title can be in the page twice (it was, once, for 20 s)
    expect(chart.get_by_text("Test images and their reconstructions").first).to_be_visible()
    expect(page.get_by_text(re.compile(r"finished · step"))).to_be_visible(timeout=120_000)
    wait_idle(page)
    expect(page.locator(".st-key-tr-recon-chart")).to_be_visible()
    expect(page.locator(".st-key-tr-acc-chart")).to_have_count(0)
    expect(page.get_by_text("Test reconstruction error (MSE)")).to_be_visible()
    assert_no_exception(page)
    screenshot(page, "autoencoder")

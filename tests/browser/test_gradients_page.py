"""The Gradients page in a real browser: the W_hh radius slider redraws the curve; a live run grows by itself and
is still there after a reload."""
import re

from playwright.sync_api import expect

from tests.browser.helpers import assert_no_exception, open_app, screenshot, wait_idle


def _sigma(page) -> float:
    text = page.locator(".st-key-time-readout").inner_text()
    return float(re.search(r"σ_max = ([0-9.]+)", text).group(1))


def test_radius_slider_redraws_the_time_curve(app_server, page):
    open_app(page, f"{app_server}/Gradients")
    assert_no_exception(page)
    page.get_by_role("tab", name="Through time").click()
    readout = page.locator(".st-key-time-readout")
    expect(readout).to_contain_text("σ_max =")
    before = _sigma(page)
    expect(readout).to_contain_text("spectral radius ρ = 1.00")
    line = page.locator(".st-key-time-norms-chart .scatterlayer path.js-line").first
    curve_before = line.get_attribute("d")

    slider = page.locator(".st-key-time-radius input[type=range]")
    slider.focus()
    for _ in range(6):  # 6 × 0.05: ρ 1.00 -> 0.70
        page.keyboard.press("ArrowLeft")
    wait_idle(page)
    expect(readout).to_contain_text("spectral radius ρ = 0.70")
    assert_no_exception(page)
    after = _sigma(page)
    assert after < before  # W_hh was scaled down by 0.7
    assert abs(after / before - 0.7) < 0.01
    expect(line).not_to_have_attribute("d", curve_before)  # the curve was redrawn with new values
    screenshot(page, "gradients-time")


def test_depth_live_run_grows_without_clicks(app_server, page):
    open_app(page, f"{app_server}/Gradients")
    # 50 hidden layers for 500 epochs: tens of seconds of training, so the run is still live when Stop is
    # pressed (the default 10 layers for 5 epochs end in well under a second).
    for slider in ("depth-depth", "depth-epochs"):
        page.locator(f".st-key-{slider} input[type=range]").focus()
        page.keyboard.press("End")
        wait_idle(page)
    page.locator(".st-key-depth-start button").click()
    caption = page.get_by_text(re.compile(r"running · step \d+"))
    expect(caption).to_be_visible(timeout=90_000)
    # The output layer's curve: the first layers' norms underflow to a flat line at 50 sigmoid layers.
    line = page.locator(".st-key-depth-steps-chart .scatterlayer path.js-line").last
    expect(line).to_be_attached(timeout=90_000)
    first = line.get_attribute("d")
    # Both wait on training speed (the next recorded steps; the batch in progress), which a loaded 2-core machine
    # (CI) slows many times over: the timeouts are generous, a passing run waits far less.
    expect(line).not_to_have_attribute("d", first, timeout=60_000)  # redrawn by the fragment alone
    assert_no_exception(page)
    page.locator(".st-key-depth-stop button").click()
    expect(page.get_by_text("stopped by the user")).to_be_visible(timeout=60_000)
    screenshot(page, "gradients-depth-live")
    # A reload opens the workspace again: the same settings, and the stopped run drawn from what it recorded.
    page.reload()
    wait_idle(page, 120_000)
    expect(page.get_by_text("stopped by the user")).to_be_visible(timeout=90_000)
    expect(page.locator(".st-key-depth-steps-chart .scatterlayer path.js-line").last).to_be_attached(timeout=60_000)
    expect(page.locator(".st-key-depth-depth input[type=range]")).to_have_value("50", timeout=30_000)
    assert_no_exception(page)

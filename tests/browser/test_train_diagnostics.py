"""Issue 21 on the Train page in Chromium: the 10-layer sigmoid deep-mlp trained hard on digits shows the saturation
warning and its layers' histograms in the Diagnostics tab; a 10-layer ReLU network with He initialisation shows no
warning."""
import re

from playwright.sync_api import expect

from engine.network import share
from engine.network.init import depth_lab
from tests.browser.helpers import assert_no_exception, open_app, wait_idle

WARNING = re.compile(r"of the units of layer \d+ Sigmoid are saturated")


def _train(page, net: str, settings: dict, init: str | None = None) -> None:
    """Open ``net`` on Build, go to Train, set the fields, start and wait for the run to finish."""
    open_app(page, f"{page.context.app_server}/Build?net={net}")
    page.get_by_role("link", name="Train").first.click()
    wait_idle(page)
    if init is not None:
        settings_box = page.locator("[data-testid=stExpander] details", has_text="Data and training settings")
        if settings_box.get_attribute("open") is None:  # folded once a run exists
            settings_box.locator("summary").click()
            page.wait_for_timeout(500)  # the expander opens with an animation
        page.locator(".st-key-tr-init").click()
        page.get_by_role("option", name=init, exact=True).click()
        wait_idle(page)
    for key, value in settings.items():
        field = page.locator(f".st-key-{key} input")
        field.fill(value)
        field.press("Enter")
        wait_idle(page)
    page.locator(".st-key-tr-start button").click()
    expect(page.get_by_text(re.compile(r"finished · step"))).to_be_visible(timeout=90_000)
    wait_idle(page)
    page.get_by_role("tab", name="Diagnostics").click()
    wait_idle(page)


def test_sigmoid_saturates_and_relu_he_does_not(app_server, page):
    page.context.app_server = app_server
    # Adam at η = 1 drives the sigmoid layers to their bounds within a few hundred steps (seeded, ~300 steps).
    _train(page, "p.deep-mlp", {"tr-batch": "8", "tr-epochs": "2", "tr-lr-adam": "1"})
    expect(page.locator("[data-testid=stAlert]", has_text=WARNING).first).to_be_visible(timeout=30_000)
    expect(page.locator(".st-key-tr-diag-heat-0 .heatmaplayer")).to_have_count(1)  # the first layer's heat map
    expect(page.locator(".st-key-tr-diag-step-chart .barlayer").first).to_be_visible()
    expect(page.locator(".st-key-tr-diag-ratios .scatterlayer")).to_have_count(1)
    assert_no_exception(page)

    relu = share.encode(depth_lab("10-layer ReLU, He init")[0])
    _train(page, relu, {"tr-batch": "8", "tr-epochs": "2", "tr-lr-adam": "0.001"}, init="he")
    expect(page.locator(".st-key-tr-diag-heat-0 .heatmaplayer")).to_have_count(1)
    expect(page.get_by_role("heading", name="Unit health")).to_be_visible()
    expect(page.locator("[data-testid=stDataFrame]").first).to_be_visible()
    expect(page.get_by_text("of the units of layer")).to_have_count(0)
    assert_no_exception(page)

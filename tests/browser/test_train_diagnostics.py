"""Issue 21 on the Train page in Chromium: the 10-layer sigmoid deep-mlp trained hard on digits shows the saturation
warning and its layers' histograms in the Diagnostics tab, the first layer's gradients collapsed to zero; a 10-layer ReLU network with He initialisation shows no
warning."""
import re

from playwright.sync_api import expect

from engine.network import share
from engine.network.init import depth_lab
from tests.browser.helpers import assert_no_exception, open_app, wait_idle
from ui.train.diagnostics import QUANTITY

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


def _last_columns(page) -> list[list[float]]:
    """Each drawn heat map's last recorded histogram (counts bin by bin, from its colour log10(1 + count)), in order:
    the first and the last layer by default."""
    # calcdata: the rows as plotly.js computed them (data[0].z may still be the typed-array form plotly.py sends)
    zs = page.evaluate("() => Array.from(document.querySelectorAll('[class*=st-key-tr-diag-heat-] .js-plotly-plot'),"
                       " gd => Array.from(gd.calcdata[0][0].z, row => Array.from(row)))")
    return [[round(10 ** row[-1] - 1) if row[-1] is not None else 0 for row in z] for z in zs]


def test_sigmoid_saturates_and_relu_he_does_not(app_server, page):
    page.context.app_server = app_server
    # Adam at η = 1 drives the sigmoid layers to their bounds within a few hundred steps (seeded, ~300 steps).
    _train(page, "p.deep-mlp", {"tr-batch": "8", "tr-epochs": "2", "tr-lr-adam": "1"})
    expect(page.locator("[data-testid=stAlert]", has_text=WARNING).first).to_be_visible(timeout=30_000)
    expect(page.locator(".st-key-tr-diag-heat-0 .heatmaplayer")).to_have_count(1)  # the first layer's heat map
    expect(page.locator(".st-key-tr-diag-step-chart .barlayer").first).to_be_visible()
    expect(page.locator(".st-key-tr-diag-ratios .scatterlayer")).to_have_count(1)
    # The first layer's gradient histograms collapse: at the last record every gradient sits in the central bin
    # (|g| below the lowest decade: the saturated sigmoids above it pass none back); the last layer still learns.
    page.locator(f".st-key-{QUANTITY}").get_by_text("weight gradients").click()
    wait_idle(page)
    expect(page.get_by_text("1 Linear: weight gradients over training").first).to_be_visible()
    first, last = _last_columns(page)
    assert sum(first) and first[len(first) // 2] == sum(first), f"first layer's gradients not collapsed: {first}"
    assert sum(last) - last[len(last) // 2] > 0.2 * sum(last), f"the last layer's gradients collapsed too: {last}"
    assert_no_exception(page)

    relu = share.encode(depth_lab("10-layer ReLU, He init")[0])
    _train(page, relu, {"tr-batch": "8", "tr-epochs": "2", "tr-lr-adam": "0.001"}, init="he")
    expect(page.locator(".st-key-tr-diag-heat-0 .heatmaplayer")).to_have_count(1)
    expect(page.get_by_role("heading", name="Unit health")).to_be_visible()
    expect(page.locator("[data-testid=stDataFrame]").first).to_be_visible()
    expect(page.get_by_text("of the units of layer")).to_have_count(0)
    assert_no_exception(page)

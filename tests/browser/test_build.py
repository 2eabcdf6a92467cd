"""Build page in Chromium: open a shared link, see the network, change a stride, see every shape follow."""
from playwright.sync_api import expect

from tests.browser.helpers import assert_no_exception, open_app, screenshot, wait_idle


def test_shared_link_then_stride_edit(app_server, page):
    open_app(page, f"{app_server}/Build?net=p.lenet5")
    assert_no_exception(page)
    metrics = page.locator("[data-testid=stMetricValue]")
    expect(metrics.first).to_have_text("61,706")
    layer = page.locator(".st-key-layer-output")
    expect(layer).to_contain_text("Output of layer 0: 6×28×28")

    stride = page.locator(".st-key-arg-0-stride input")
    stride.fill("2")
    stride.press("Enter")
    wait_idle(page)
    expect(layer).to_contain_text("Output of layer 0: 6×14×14")
    # fc1 now sees 16×1×1 instead of 16×5×5: 61,706 − (400 − 16)·120 parameters.
    expect(metrics.first).to_have_text(f"{61_706 - (400 - 16) * 120:,}")
    link = page.locator("[data-testid=stCode]").filter(has_text="net=z.")
    expect(link).to_have_count(1)  # the edited network's link, ready to share
    shared = link.inner_text().strip()
    assert "ws=" in page.url and "net=" not in page.url and "ws=" not in shared  # the workspace's key stays home
    assert_no_exception(page)
    screenshot(page, "build")

    # The network link reopens exactly this network in a fresh browser context.
    other = page.context.browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        student = other.new_page()
        open_app(student, shared if shared.startswith("http") else app_server + shared)
        expect(student.locator("[data-testid=stMetricValue]").first).to_have_text(f"{61_706 - (400 - 16) * 120:,}")
    finally:
        other.close()

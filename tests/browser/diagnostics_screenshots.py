"""The README's Diagnostics pictures (issue 21): one per view, taken from the running app in Chromium.

Run: ``.venv/bin/python -m tests.browser.diagnostics_screenshots [out-dir]`` (a script, not collected by pytest;
``assets`` refreshes the README's pictures, test-results/diagnostics is the default). It starts its own server,
trains the 10-layer sigmoid deep-mlp hard on digits (the Train page's Diagnostics tab: histograms over training,
one step's histograms, mean and standard deviation, unit health, update ratios), draws toy-mlp's loss line and
plane on Inspect, runs mnist-cnn's learning-rate range test on MNIST, and opens the Gradients depth lab's Glorot
and Bengio figure.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.helpers import RESULTS, wait_idle
from tests.browser.projector_screenshots import shoot

LONG = 180_000  # ms: training and background computations on a loaded 2-core machine


def _shot(page, selector, path: Path) -> None:
    """A screenshot of the first element a selector (or a locator) finds."""
    element = (page.locator(selector) if isinstance(selector, str) else selector).first
    element.scroll_into_view_if_needed()
    page.wait_for_timeout(600)  # Plotly's first draw
    element.screenshot(path=path)
    print("wrote", path)


def _set(page, key: str, value: str) -> None:
    field = page.locator(f".st-key-{key} input")
    field.fill(value)
    field.press("Enter")
    wait_idle(page)


def _train_tab(page, base: str, out: Path) -> None:
    """deep-mlp (10 sigmoid layers) with Adam at η = 1 on digits: its upper layers saturate (README's example)."""
    page.goto(f"{base}/Build?net=p.deep-mlp")
    wait_idle(page)
    page.get_by_role("link", name="Train").first.click()
    wait_idle(page)
    for key, value in (("tr-batch", "8"), ("tr-epochs", "2"), ("tr-lr-adam", "1")):
        _set(page, key, value)
    page.locator(".st-key-tr-start button").click()
    expect(page.get_by_text(re.compile(r"finished · step"))).to_be_visible(timeout=LONG)
    wait_idle(page)
    page.get_by_role("tab", name="Diagnostics").click()
    wait_idle(page)
    _shot(page, ".st-key-tr-diag-heat-0", out / "diagnostics-heatmap.png")
    _shot(page, ".st-key-tr-diag-step-chart", out / "diagnostics-step.png")
    _shot(page, ".st-key-tr-diag-moments", out / "diagnostics-moments.png")
    _shot(page, page.locator("[data-testid=stAlert]", has_text=re.compile("are saturated")),
          out / "diagnostics-health.png")
    _shot(page, ".st-key-tr-diag-ratios", out / "diagnostics-update-ratios.png")


def _lr_find(page, out: Path) -> None:
    page.locator("[data-testid=stExpander] summary", has_text="Find a learning rate").click()
    page.locator(".st-key-tr-lrf-start button").click()
    expect(page.get_by_text("Suggested η (steepest descent)")).to_be_visible(timeout=LONG)
    wait_idle(page)
    _shot(page, ".st-key-tr-lrf-chart", out / "diagnostics-lr-find.png")


def _landscape(page, base: str, out: Path) -> None:
    page.goto(f"{base}/Build?net=p.toy-mlp")
    wait_idle(page)
    page.get_by_role("link", name="Train").first.click()
    wait_idle(page)
    _set(page, "tr-epochs", "5")
    page.locator(".st-key-tr-start button").click()
    expect(page.get_by_text(re.compile(r"finished · step"))).to_be_visible(timeout=LONG)
    wait_idle(page)
    page.get_by_role("link", name="Inspect").first.click()
    wait_idle(page)
    page.get_by_role("tab", name="Loss landscape", exact=True).click()
    wait_idle(page)
    page.locator(".st-key-inspect_ls_line button").click()
    expect(page.locator(".st-key-inspect_ls_line_chart .main-svg").first).to_be_visible(timeout=LONG)
    wait_idle(page)
    _shot(page, ".st-key-inspect_ls_line_chart", out / "diagnostics-loss-line.png")
    page.locator(".st-key-inspect_ls_plane button").click()
    expect(page.locator(".st-key-inspect_ls_contour .main-svg").first).to_be_visible(timeout=LONG)
    wait_idle(page)
    _shot(page, ".st-key-inspect_ls_contour", out / "diagnostics-loss-plane.png")
    _shot(page, ".st-key-inspect_ls_surface", out / "diagnostics-loss-surface.png")


def _glorot(page, base: str, out: Path) -> None:
    page.goto(f"{base}/Gradients")
    wait_idle(page, LONG)
    _shot(page, ".st-key-glorot-Sigmoid", out / "diagnostics-glorot.png")


def run(base: str, out: Path, browser) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1400})
    page = context.new_page()
    _train_tab(page, base, out)
    _landscape(page, base, out)
    page.goto(f"{base}/Build?net=p.mnist-cnn")  # the classic range test: mnist-cnn on MNIST (toy-mlp's barely falls)
    wait_idle(page)
    page.get_by_role("link", name="Train").first.click()
    wait_idle(page)
    _lr_find(page, out)
    _glorot(page, base, out)
    context.close()


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS / "diagnostics"
    shoot(run, out, RESULTS / "diagnostics-streamlit.log")


if __name__ == "__main__":
    main()

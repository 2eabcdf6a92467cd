"""Screenshots of the figures a teacher shows on a projector, at 1400 px and at 200 % zoom (issue 18).

Run: ``.venv/bin/python -m tests.browser.projector_screenshots [out-dir]`` (a script, not collected by pytest).
It starts its own server, opens the Inspect filters and attribution, trains a small CNN on digits for the Train
charts, opens the Gradients depth lab, and writes PNGs (test-results/projector by default: never committed). It
also prints the filter grid's drawn width, measured in the browser.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests import server
from tests.browser.conftest import CHROMIUM_ARGS
from tests.browser.helpers import RESULTS, wait_idle

# (name, viewport width, device scale): 200 % zoom of a 1400 px window lays the page out at 700 CSS px
VIEWS = [("1400", 1400, 1), ("zoom200", 700, 2)]


def _shot(page, key: str, path: Path) -> None:
    element = page.locator(f".st-key-{key}").first
    element.scroll_into_view_if_needed()
    page.wait_for_timeout(400)  # Plotly's first draw
    element.screenshot(path=path)


def _go(page, name: str) -> None:
    """Follow the sidebar's link to a page (same session); at 700 px the sidebar is collapsed, so click it by script."""
    page.locator(f"[data-testid=stSidebarNavLink][href$='/{name}']").first.evaluate("a => a.click()")
    wait_idle(page)


def _filter_cell_px(page) -> float:
    """The drawn width of one 5×5 filter: the heatmap's drawn width / its columns of cells × 5."""
    box = page.locator(".st-key-inspect_filters .heatmaplayer image").first.bounding_box()
    return box["width"]


def run(base: str, out: Path, browser) -> None:
    for name, width, scale in VIEWS:
        context = browser.new_context(viewport={"width": width, "height": 900}, device_scale_factor=scale)
        page = context.new_page()
        page.goto(f"{base}/Build?net=p.mnist-cnn")
        wait_idle(page)
        _go(page, "Inspect")
        page.get_by_role("tab", name="Filters").click()
        wait_idle(page)
        _shot(page, "inspect_filters", out / f"filters-{name}.png")
        print(name, "filter grid drawn", _filter_cell_px(page), "px wide (6 filters + 5 gaps across)")
        page.get_by_role("tab", name="Attribution").click()
        wait_idle(page)
        _shot(page, "inspect_overlay", out / f"saliency-{name}.png")

        page.goto(f"{base}/Build?net=p.tiny-vgg")
        wait_idle(page)
        _go(page, "Train")
        field = page.locator(".st-key-tr-epochs input")
        field.fill("3")
        field.press("Enter")
        wait_idle(page)
        page.locator(".st-key-tr-start button").click()
        page.get_by_text(re.compile("finished")).first.wait_for(timeout=180_000)
        wait_idle(page)
        _shot(page, "tr-loss-chart", out / f"train-loss-{name}.png")
        _shot(page, "tr-wrong", out / f"train-wrong-{name}.png")
        _shot(page, "tr-grad-chart", out / f"train-grad-{name}.png")

        page.goto(f"{base}/Gradients")
        wait_idle(page, 120_000)
        _shot(page, "depth-norms-chart", out / f"gradients-norms-{name}.png")
        _shot(page, "depth-activations-chart", out / f"gradients-activations-{name}.png")
        page.locator(".st-key-depth-activations-chart").first.scroll_into_view_if_needed()
        page.screenshot(path=out / f"gradients-table-{name}.png")
        page.get_by_role("tab", name="Through time").click()
        wait_idle(page, 120_000)
        _shot(page, "time-norms-chart", out / f"gradients-time-{name}.png")
        context.close()


def shoot(run, out: Path, log: Path) -> None:
    """Start a server, run ``run(base_url, out, browser)`` in headless Chromium, stop the server."""
    out.mkdir(parents=True, exist_ok=True)
    port = server.free_port()
    proc = server.start(port, log)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                                 args=CHROMIUM_ARGS)
            run(f"http://127.0.0.1:{port}", out, browser)
            browser.close()
    finally:
        server.stop(proc)
    print("screenshots in", out)


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS / "projector"
    shoot(run, out, out / "streamlit.log")


if __name__ == "__main__":
    main()

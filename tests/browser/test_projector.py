"""A walk through every page as on a projector: 1400 px at 200% zoom, every chart and its controls in view.

200% zoom on a 1400 px wide window is a 700 CSS-pixel viewport drawn at device scale 2. Nothing may need
horizontal scrolling: neither the page nor any chart, table or widget reaching past the window's right edge.
``PLAYGROUND_REFRESH_SCREENSHOT=1`` copies the captures to ``assets/`` for the README.
"""
from __future__ import annotations

import os
import shutil

import pytest

from tests.browser.helpers import ROOT, assert_no_exception, open_app, screenshot, wait_idle

ZOOM_VIEWPORT = {"width": 700, "height": 500}
# Elements that must fit the window: charts, tables, the tabs' headers, widgets and images.
FITTED = ("[data-testid=stPlotlyChart], [data-testid=stDataFrame], [data-testid=stTable], [data-testid=stTabs] "
          "[role=tablist], [data-testid=stImage], [data-testid=stVerticalBlock] > [data-testid=stElementContainer]")
# The main column's content, measured in CSS pixels: what reaches past the window's right edge.
OVERFLOW_JS = """([selector, width]) => {
  const main = document.querySelector('[data-testid=stMain]') || document.body;
  const out = [];
  if (document.documentElement.scrollWidth > width + 1) out.push('page: scrollWidth ' +
      document.documentElement.scrollWidth);
  if (main.scrollWidth > main.clientWidth + 1) out.push('main: scrollWidth ' + main.scrollWidth + ' > ' +
      main.clientWidth);
  for (const el of main.querySelectorAll(selector)) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;  // a closed tab's content
    if (box.right > width + 1) out.push((el.dataset.testid || el.className).toString().slice(0, 40) + ' right ' +
        Math.round(box.right) + ' ' + (el.innerText || '').slice(0, 40).replace(/\\s+/g, ' '));
  }
  // Anything that scrolls sideways inside the page (a wide table, a code block, a chart's container).
  for (const el of main.querySelectorAll('*')) {
    // KaTeX's display boxes run a pixel or two past their own width at any size (italic corrections).
    if (el.scrollWidth <= el.clientWidth + 4 || el.clientWidth === 0) continue;
    const style = getComputedStyle(el);
    if (!['auto', 'scroll'].includes(style.overflowX)) continue;
    const owner = el.closest('[data-testid]');
    out.push('scrolls sideways: ' + (owner ? owner.dataset.testid : el.tagName) + ' ' + el.scrollWidth + ' > ' +
        el.clientWidth + ' ' + (owner ? owner.innerText : '').slice(0, 40).replace(/\\s+/g, ' '));
  }
  // A button whose label is cut to "Start new …" cannot be read from the back of the room.
  for (const el of main.querySelectorAll('button *, [role=tab] *')) {
    if (getComputedStyle(el).textOverflow === 'ellipsis' && el.scrollWidth > el.clientWidth + 1)
      out.push('label cut: ' + el.closest('button, [role=tab]').innerText.slice(0, 40));
  }
  return out;
}"""
# (page, tabs to open in turn); None opens the page's first view only.
WALK = [("", None), ("Build", None), ("Convolution", ["Animation", "Receptive field", "Feature maps"]),
        ("Train", None), ("Inspect", ["Prediction", "Filters", "Activations", "Attribution", "Loss landscape"]),
        ("Gradients", ["Through depth", "Through time"]), ("Class", None), ("Lessons", None),
        ("Lessons?lesson=through-time", None)]


@pytest.fixture
def projector(browser):
    """A page at 200% zoom of a 1400 px window."""
    context = browser.new_context(viewport=ZOOM_VIEWPORT, device_scale_factor=2)
    page = context.new_page()
    yield page
    context.close()


def _overflow(page, tries: int = 10) -> list[str]:
    """What reaches past the window once the page has settled: Plotly, KaTeX and the column layout settle after
    Streamlit's script has ended (on a loaded machine, seconds after), so a problem counts if it stays."""
    for _ in range(tries):
        page.wait_for_timeout(500)
        problems = page.evaluate(OVERFLOW_JS, [FITTED, ZOOM_VIEWPORT["width"]])
        if not problems:
            break
    return problems


def _capture(page, name: str):
    """The whole page at 200% zoom, its full height (the window grows, its width stays)."""
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": ZOOM_VIEWPORT["width"], "height": min(max(height, 500), 4000)})
    page.wait_for_timeout(300)
    shot = screenshot(page, name)
    page.set_viewport_size(ZOOM_VIEWPORT)
    return shot


@pytest.mark.parametrize("path,tabs", WALK, ids=[p or "Home" for p, _ in WALK])
def test_every_view_fits_at_200_percent(app_server, projector, path, tabs):
    page = open_app(projector, f"{app_server}/{path}")
    assert_no_exception(page)
    problems = [f"{path or 'Home'}: {p}" for p in _overflow(page)]
    shots = [_capture(page, f"zoom-{path or 'home'}")]
    for tab in tabs or []:
        page.get_by_role("tab", name=tab, exact=True).click()
        wait_idle(page)
        assert_no_exception(page)
        problems += [f"{path} / {tab}: {p}" for p in _overflow(page)]
        shots.append(_capture(page, f"zoom-{path}-{tab.replace(' ', '-').lower()}"))
    assert not problems, "\n".join(problems)
    if os.environ.get("PLAYGROUND_REFRESH_SCREENSHOT") == "1":
        for shot in shots:
            shutil.copyfile(shot, ROOT / "assets" / shot.name)

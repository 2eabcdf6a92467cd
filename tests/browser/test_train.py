"""Train page in Chromium: start a run, watch it grow, pause, change the learning rate, resume, stop; another
browser sees none of it."""
import re
import time

from playwright.sync_api import expect

from tests.browser.helpers import assert_no_exception, open_app, screenshot, wait_idle

PROGRESS = re.compile(r"step (\d+)/(\d+)")
WAIT_S = 60  # a run's next redraw, pause or stop on a loaded 2-core machine (CI); a passing test waits far less


def _step(page) -> int:
    text = page.locator("[data-testid=stProgress]").first.inner_text()
    return int(PROGRESS.search(text).group(1))


def _loss_path(page) -> str:
    """The drawn loss curve's SVG path (its length is no measure of growth: long curves are thinned and rescaled)."""
    return page.locator(".st-key-tr-loss-chart .scatterlayer .trace path.js-line").first.get_attribute("d") or ""


def _until(condition, what: str, timeout_s: float = WAIT_S) -> None:
    """Poll ``condition`` until it holds: how soon depends on training speed, which a loaded CI machine slows."""
    end = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < end, f"{what}: not within {timeout_s:.0f} s"
        time.sleep(0.25)


def test_live_training_controls_and_isolation(app_server, page, browser):
    open_app(page, f"{app_server}/Build?net=p.toy-mlp")  # choose the network
    page.get_by_role("link", name="Train").first.click()  # same browser session, other page
    wait_idle(page)
    expect(page.get_by_role("heading", name="Train")).to_be_visible()
    # Batch size 1 for 300 epochs: a run of tens of thousands of steps, still live through pause and resume
    # (at the default batch the toy net ends within seconds).
    for key, value in (("tr-batch", "1"), ("tr-epochs", "300")):
        field = page.locator(f".st-key-{key} input")
        field.fill(value)
        field.press("Enter")
        wait_idle(page)
    page.locator(".st-key-tr-start button").click()
    expect(page.get_by_text(re.compile(r"\*\*running\*\*|running · step"))).to_be_visible(timeout=30_000)

    # The fragment redraws on its own: the step count and the loss curve grow without any click.
    first_step, first_path = _step(page), _loss_path(page)
    _until(lambda: _step(page) > first_step, "the step count grows")
    _until(lambda: _loss_path(page) not in ("", first_path), "the loss curve is redrawn with the new records")
    assert_no_exception(page)
    screenshot(page, "train")

    page.locator(".st-key-tr-pause button").click()
    expect(page.get_by_text(re.compile("paused · step"))).to_be_visible(timeout=WAIT_S * 1000)
    paused_at = _step(page)
    time.sleep(2)
    assert _step(page) == paused_at

    # The opening scene: while paused, a smaller learning rate; Resume hands it to the run.
    page.locator("[data-testid=stExpander] summary", has_text="Data and training settings").click()
    field = page.locator(".st-key-tr-lr-adam input")
    field.fill("0.001")
    field.press("Enter")
    wait_idle(page)
    expect(page.get_by_text("On Resume: learning rate 0.03 → 0.001")).to_be_visible()
    page.locator(".st-key-tr-resume button").click()
    expect(page.get_by_text(re.compile("running · step"))).to_be_visible(timeout=WAIT_S * 1000)
    expect(page.get_by_text(re.compile(r"learning rate 0.03 → 0.001 from step \d+"))).to_be_visible(
        timeout=WAIT_S * 1000)
    page.locator(".st-key-tr-stop button").click()
    expect(page.get_by_text(re.compile("stopped · step"))).to_be_visible(timeout=WAIT_S * 1000)
    assert_no_exception(page)

    # A second student (another browser context) sees none of the first one's runs or network.
    other = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        student = other.new_page()
        open_app(student, f"{app_server}/Train")
        expect(student.get_by_text("Choose the data and settings")).to_be_visible()
        expect(student.get_by_text("toy-mlp")).to_have_count(0)
        expect(student.get_by_role("heading", name="Compare runs")).to_have_count(0)
    finally:
        other.close()

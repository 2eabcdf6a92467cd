"""The tab a teacher chose stays open through every rerun: a button, a live view's redraws and full reruns, a
reload; on Gradients, Inspect and Convolution."""
from playwright.sync_api import expect

from tests.browser.helpers import assert_no_exception, open_app, screenshot, wait_idle

TRAINING_MS = 6_000  # the live view redraws about twice a second and reruns the page when a run starts or ends
# A live view's redraw can leave hidden copies of a chart (data-retained, 0 px high) for a moment on a loaded
# machine: the charts are found by their visible copy.


def _is_open(page, name: str) -> None:
    expect(page.get_by_role("tab", name=name, exact=True)).to_have_attribute("aria-selected", "true")


def _open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()
    wait_idle(page)
    _is_open(page, name)


def test_gradients_through_time_stays_open_while_it_trains(app_server, page):
    open_app(page, f"{app_server}/Gradients")
    _open_tab(page, "Through time")
    try:
        page.locator(".st-key-time-start button").click()
        expect(page.locator(".st-key-time-snapshots-chart:visible")).to_be_visible(timeout=30_000)
        page.wait_for_timeout(TRAINING_MS)
        _is_open(page, "Through time")
        expect(page.locator(".st-key-time-snapshots-chart:visible")).to_be_visible()
        page.locator(".st-key-time-compare button").click()
        expect(page.locator(".st-key-time-compare-loss-chart:visible")).to_be_visible(timeout=30_000)
        page.wait_for_timeout(TRAINING_MS)
        _is_open(page, "Through time")
        expect(page.locator(".st-key-time-compare-loss-chart:visible")).to_be_visible()
        assert_no_exception(page)
        screenshot(page, "tabs-gradients-time")
        page.reload()  # the address keeps the tab
        wait_idle(page)
        _is_open(page, "Through time")
    finally:  # the runs stop: a 2-core machine flakes with training left behind
        page.get_by_role("tab", name="Through time", exact=True).click()
        wait_idle(page)
        for stop in ("time-stop", "time-compare-stop"):
            button = page.locator(f".st-key-{stop} button")
            if button.count() and button.is_enabled():
                button.click()
                wait_idle(page)


def test_gradients_depth_settings_survive_a_visit_to_the_time_tab(app_server, page):
    open_app(page, f"{app_server}/Gradients")
    page.locator(".st-key-depth-depth input[type=range]").focus()
    page.keyboard.press("Home")  # 1 hidden layer
    wait_idle(page)
    _open_tab(page, "Through time")
    page.locator(".st-key-time-T input[type=range]").focus()
    page.keyboard.press("End")  # T = 200: a rerun while the depth tab is closed
    wait_idle(page)
    _open_tab(page, "Through depth")
    expect(page.locator(".st-key-depth-depth input[type=range]")).to_have_value("1")
    assert_no_exception(page)


def test_inspect_activations_stays_open_after_a_toggle_and_a_new_sample(app_server, page):
    open_app(page, f"{app_server}/Inspect")
    _open_tab(page, "Activations")
    page.locator(".st-key-inspect_more label").click()  # a widget inside the tab
    wait_idle(page)
    page.locator("[data-testid=stSidebar] .st-key-inspect_index button[data-testid=stNumberInputStepUp]").click()
    wait_idle(page)
    page.wait_for_timeout(2_000)
    _is_open(page, "Activations")
    expect(page.locator(".st-key-inspect_act_0")).to_be_visible()
    assert_no_exception(page)
    page.reload()
    wait_idle(page)
    _is_open(page, "Activations")


def test_convolution_receptive_field_stays_open_after_a_slider(app_server, page):
    open_app(page, f"{app_server}/Convolution")
    _open_tab(page, "Receptive field")
    page.locator(".st-key-rf_layers input[type=range]").focus()
    page.keyboard.press("ArrowRight")  # 4 layers
    wait_idle(page)
    page.wait_for_timeout(2_000)
    _is_open(page, "Receptive field")
    expect(page.locator(".st-key-rf_layers input[type=range]")).to_have_value("4")
    assert_no_exception(page)
    page.reload()
    wait_idle(page)
    _is_open(page, "Receptive field")


def test_inspect_loss_landscape_tab_stays_open_after_a_reload(app_server, page):
    open_app(page, f"{app_server}/Inspect")
    _open_tab(page, "Loss landscape")
    wait_idle(page)
    _is_open(page, "Loss landscape")
    expect(page.locator(".st-key-inspect_ls_steps")).to_be_visible()  # its settings, untrained or not
    page.reload()  # the address keeps the tab
    wait_idle(page)
    _is_open(page, "Loss landscape")
    assert_no_exception(page)

"""A student does lesson 1 (the perceptron and XOR) from the Lessons page to its last tick: predict, Set it up, train
on the Train page, come back, Check my work; a reload keeps the ticks and the predictions."""
from playwright.sync_api import expect

from tests.browser.helpers import assert_no_exception, open_app, screenshot, wait_idle

RUN_TIMEOUT_MS = 120_000
WAIT_MS = 30_000  # a click's rerun on a loaded 2-core machine (a check first saves what is queued)
RIGHT = "about 50 to 75%: no straight line separates the classes"


def _button(page, key: str):
    """A keyed button (a button with help text may be drawn twice inside its tooltip's wrapper)."""
    return page.locator(f".st-key-{key} button").first


def _predict(page, index: int, answer: str) -> None:
    page.locator(f".st-key-lesson-predict-{index} label", has_text=answer).click()
    wait_idle(page)
    _button(page, f"lesson-predict-save-{index}").click()
    wait_idle(page)
    expect(page.locator(f".st-key-lesson-step-{index}").get_by_text("Answer:")).to_be_visible(timeout=WAIT_MS)


def _set_up_and_train(page, index: int) -> None:
    """Set it up opens the Train page with the step's network and data; one run to its end; back to the lesson."""
    _button(page, f"lesson-setup-{index}").click()
    wait_idle(page)
    expect(page.get_by_role("heading", name="Train")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_text(f"step {index + 1} is set up")).to_be_visible(timeout=WAIT_MS)
    _button(page, "tr-start").click()
    expect(page.get_by_text("Test accuracy")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    assert_no_exception(page)
    page.locator("[data-testid=stSidebar]").get_by_role("link", name="Lessons").click()
    wait_idle(page)
    expect(page.get_by_role("heading", name="The perceptron and XOR")).to_be_visible(timeout=WAIT_MS)  # the lesson left open


def _check(page, index: int, run: int) -> None:
    _button(page, f"lesson-check-{index}").click()
    wait_idle(page)
    expect(page.locator(f".st-key-lesson-step-{index}").get_by_text(f"Done by run #{run}")).to_be_visible(timeout=WAIT_MS)


def test_a_student_does_lesson_one_to_the_last_tick_and_a_reload_keeps_it(app_server, page):
    open_app(page, f"{app_server}/Lessons")
    expect(page.get_by_role("heading", name="Feed-forward networks")).to_be_visible(timeout=WAIT_MS)
    _button(page, "lessons-open-topic-perceptron-xor").click()
    wait_idle(page)
    expect(page.get_by_role("heading", name="The perceptron and XOR")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator(".st-key-lesson-step-0 .katex").first).to_be_visible(timeout=WAIT_MS)  # the explanation's LaTeX
    assert "lesson=perceptron-xor" in page.url
    expect(_button(page, "lesson-setup-0")).to_be_disabled(timeout=WAIT_MS)  # predict first

    _predict(page, 0, RIGHT)
    _set_up_and_train(page, 0)
    _check(page, 0, 1)
    _set_up_and_train(page, 1)  # the perceptron is run 1's network: replaced without asking
    _check(page, 1, 2)
    _predict(page, 2, "x1 · x2")
    assert_no_exception(page)
    screenshot(page, "lessons-xor-done")

    page.reload()
    wait_idle(page)
    expect(page.get_by_role("heading", name="The perceptron and XOR")).to_be_visible(timeout=WAIT_MS)
    for index, run in ((0, 1), (1, 2)):
        expect(page.locator(f".st-key-lesson-step-{index}").get_by_text(f"Done by run #{run}")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator(".st-key-lesson-step-2").get_by_text("Your prediction: x1 · x2")).to_be_visible(timeout=WAIT_MS)
    assert_no_exception(page)

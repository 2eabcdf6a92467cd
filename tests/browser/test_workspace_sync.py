"""Two tabs on one workspace in Chromium: what one tab shows, a second tab finds without a click in the first
(a network from a ?net= link, the model a run trained to its end), and a teacher's push reaches an open page."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import expect

from tests.browser.helpers import assert_no_exception, open_app, screenshot, wait_idle

# A run to its end on a loaded 2-core machine (CI failed a 60 s wait); a passing test waits far less.
RUN_TIMEOUT_MS = 180_000
UNTRAINED = "This model is untrained"


def _token(page) -> str:
    return parse_qs(urlparse(page.url).query)["ws"][0]


def _tab(browser):
    return browser.new_context(viewport={"width": 1400, "height": 900}).new_page()


def _network_line(page):
    """The Train page's line naming the session's network."""
    return page.locator("[data-testid=stMarkdown]", has_text=re.compile(r"^Network "))


def test_a_linked_network_is_what_a_second_tab_opens(app_server, browser):
    first = _tab(browser)
    open_app(first, f"{app_server}/Build?net=p.xo-cnn")  # a fresh browser: a new workspace holding the link
    second = _tab(browser)
    open_app(second, f"{app_server}/Train?ws={_token(first)}")  # no click in the first tab
    expect(_network_line(second)).to_contain_text("xo-cnn")
    assert_no_exception(second)

    # An existing workspace (now xo-cnn) opens another link: a third tab finds that one.
    open_app(first, f"{app_server}/Build?ws={_token(first)}&net=p.toy-mlp")
    third = _tab(browser)
    open_app(third, f"{app_server}/Train?ws={_token(first)}")
    expect(_network_line(third)).to_contain_text("toy-mlp")
    for page in (first, second, third):
        page.context.close()


def test_a_model_trained_to_its_end_opens_in_a_second_window(app_server, browser):
    trainer = _tab(browser)
    open_app(trainer, f"{app_server}/Build?net=p.toy-mlp")
    trainer.get_by_role("link", name="Train").first.click()
    wait_idle(trainer)
    field = trainer.locator(".st-key-tr-epochs input")
    field.fill("2")
    field.press("Enter")
    wait_idle(trainer)
    trainer.locator(".st-key-tr-start button").click()
    expect(trainer.get_by_text("Test accuracy")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    # The run ended; nothing is clicked in this tab any more. A projector window opens Inspect.
    projector = _tab(browser)
    open_app(projector, f"{app_server}/Inspect?ws={_token(trainer)}")
    expect(projector.get_by_text("Model toy-mlp")).to_be_visible()
    expect(projector.get_by_text(UNTRAINED)).to_have_count(0)
    assert_no_exception(projector)
    for page in (trainer, projector):
        page.context.close()


def test_a_teachers_push_reaches_a_students_open_train_page(app_server, browser):
    teacher = _tab(browser)
    open_app(teacher, f"{app_server}/Build?net=p.xo-cnn")  # the network and settings the teacher will send
    teacher.get_by_role("link", name="Train").first.click()
    wait_idle(teacher)
    teacher.locator(".st-key-tr-epochs input").fill("7")
    teacher.locator(".st-key-tr-epochs input").press("Enter")
    wait_idle(teacher)
    teacher.get_by_role("link", name="Class").first.click()
    wait_idle(teacher)
    teacher.locator(".st-key-class-name input").fill("Week 5")
    teacher.locator(".st-key-class-name input").press("Enter")
    wait_idle(teacher)
    teacher.locator(".st-key-class-create button").click()
    wait_idle(teacher)
    code = re.search(r"enter code\s+([A-Z0-9]{6})", teacher.locator(".class-join").inner_text()).group(1)
    class_url = teacher.url

    student = _tab(browser)
    open_app(student, f"{app_server}/Build?net=p.toy-mlp")
    student.locator("[data-testid=stSidebar] [data-testid=stExpander] summary",
                    has_text="Share, download, join a class").click()
    student.locator(".st-key-ws-join-code input").fill(code)
    student.locator(".st-key-ws-join-name input").fill("Ada")
    student.locator(".st-key-ws-join-name input").press("Enter")
    wait_idle(student)
    student.locator(".st-key-ws-join button").click()
    wait_idle(student)
    student.get_by_role("link", name="Train").first.click()
    wait_idle(student)
    expect(_network_line(student)).to_contain_text("toy-mlp")

    teacher.locator(".st-key-class-push button").click()
    expect(teacher.get_by_text("Sent (version 1)")).to_be_visible()
    # The student does nothing: the open page takes the push within a few seconds, and says what changed.
    expect(student.get_by_text("Your teacher sent the class a network")).to_be_visible(timeout=20_000)
    expect(_network_line(student)).to_contain_text("xo-cnn")
    expect(student.get_by_text(re.compile(r"epochs \d+ → 7"))).to_be_visible()
    expect(student.locator(".st-key-tr-epochs input")).to_have_value("7")  # the widgets show the pushed values
    assert_no_exception(student)
    screenshot(student, "class-push-received")

    # A student whose run trains is asked first: the run and the network stay until they say so.
    student.locator(".st-key-tr-epochs input").fill("500")
    student.locator(".st-key-tr-epochs input").press("Enter")
    wait_idle(student)
    student.locator(".st-key-tr-start button").click()
    expect(student.get_by_text(re.compile(r"running · step"))).to_be_visible(timeout=RUN_TIMEOUT_MS)
    student.locator(".st-key-tr-pause button").click()  # paused is live too, and cannot end under the test
    expect(student.get_by_text(re.compile(r"paused · step"))).to_be_visible()
    open_app(teacher, f"{app_server}/Build?ws={_token(teacher)}&net=p.toy-mlp")
    open_app(teacher, class_url)
    teacher.locator(".st-key-class-push button").click()
    expect(teacher.get_by_text("Sent (version 2)")).to_be_visible()
    offer = student.get_by_text(re.compile("has not ended, so nothing was changed"))
    expect(offer).to_be_visible(timeout=20_000)
    expect(_network_line(student)).to_contain_text("xo-cnn")
    expect(student.get_by_text(re.compile(r"paused · step"))).to_be_visible()
    offer.scroll_into_view_if_needed()
    screenshot(student, "class-push-offered")
    student.locator(".st-key-ws-take-push button").click()
    wait_idle(student)
    expect(_network_line(student)).to_contain_text("toy-mlp")
    expect(student.get_by_text("Your teacher sent the class a network: toy-mlp")).to_be_visible()
    expect(student.get_by_text(re.compile(r"stopped by the user"))).to_be_visible()  # kept, stopped
    assert_no_exception(student)
    for page in (teacher, student):
        page.context.close()

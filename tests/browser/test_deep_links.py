"""Every kind of link the README names opens the same view under st.navigation as under the old pages/ folder: /,
/Build?net=…, /Train?ws=…, /Convolution, /Inspect, /Gradients, /Class, /Class?teacher=…, /Class?board=…, and a
page's tab kept in its address; the sidebar's first entry says "Home"."""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from playwright.sync_api import expect

from tests.browser.helpers import assert_no_exception, open_app, wait_idle

TIMEOUT_MS = 60_000


def _fresh(browser):
    """A new browser context: a new Streamlit session, as a link opened in another browser."""
    return browser.new_context(viewport={"width": 1400, "height": 900}).new_page()


def _opens(page, url: str, heading: str) -> None:
    open_app(page, url)
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    assert_no_exception(page)


def _param(page, name: str) -> str | None:
    return parse_qs(urlparse(page.url).query).get(name, [None])[0]


def test_home_is_named_home_in_the_sidebar(app_server, page):
    _opens(page, app_server, "Neural-network playground")
    entries = page.locator("[data-testid=stSidebarNav] a")
    expect(entries.first).to_have_accessible_name("Home")  # its text also holds the icon's ligature name
    expect(page.locator("[data-testid=stSidebarNav]")).not_to_contain_text("app")  # the old label of "/"
    expect(entries).to_have_count(8)
    expect(entries.nth(1)).to_have_accessible_name("Lessons")  # the first group: Home, then Lessons
    headers = page.locator("[data-testid=stNavSectionHeader]")  # each also holds its fold icon's ligature name
    expect(headers).to_have_count(3)
    expect(headers).to_contain_text(["Start", "Networks", "Teaching"])
    page.locator(".st-key-device").wait_for()  # the home page itself, not another page shown at "/"
    page.get_by_role("link", name="Build").first.click()  # a card link reaches its page
    wait_idle(page)
    expect(page.get_by_role("heading", name="Build a network", exact=True)).to_be_visible()
    assert urlparse(page.url).path == "/Build"


def test_network_and_workspace_links_open_the_same_view(app_server, browser):
    page = _fresh(browser)
    _opens(page, f"{app_server}/Build?net=p.tiny-vgg", "Build a network")
    expect(page.get_by_text("tiny-vgg").first).to_be_visible()
    token = _param(page, "ws")
    assert token, "every page names its workspace in the address"
    page.context.close()

    for path, heading in (("Train", "Train"), ("Inspect", "Inspect the network"), ("Build", "Build a network")):
        other = _fresh(browser)  # a new session: the link alone finds the workspace again
        _opens(other, f"{app_server}/{path}?ws={token}", heading)
        assert urlparse(other.url).path == f"/{path}" and _param(other, "ws") == token
        expect(other.get_by_text("tiny-vgg").first).to_be_visible()
        other.context.close()


def test_every_page_address_opens_its_page(app_server, browser):
    for path, heading in (("Convolution", "Convolution, step by step"), ("Inspect", "Inspect the network"),
                          ("Gradients", "Vanishing and exploding gradients"), ("Train", "Train"),
                          ("Build", "Build a network"), ("Class", "Class")):
        page = _fresh(browser)
        _opens(page, f"{app_server}/{path}", heading)
        assert urlparse(page.url).path == f"/{path}"
        page.context.close()


def test_a_tab_in_the_address_opens_that_tab(app_server, browser):
    page = _fresh(browser)
    _opens(page, f"{app_server}/Convolution", "Convolution, step by step")
    page.get_by_role("tab", name="Receptive field").click()
    wait_idle(page)
    url = page.url
    assert "conv_tab" in url
    page.context.close()
    other = _fresh(browser)
    _opens(other, url, "Convolution, step by step")
    expect(other.get_by_role("tab", name="Receptive field")).to_have_attribute("aria-selected", "true")
    other.context.close()


def test_teacher_and_board_links_open_the_class(app_server, browser):
    teacher = _fresh(browser)
    _opens(teacher, f"{app_server}/Class", "Class")
    teacher.locator(".st-key-class-name input").fill("Links week")
    teacher.locator(".st-key-class-name input").press("Enter")
    wait_idle(teacher)
    teacher.locator(".st-key-class-create button").click()
    wait_idle(teacher)
    expect(teacher.locator(".class-join")).to_be_visible(timeout=TIMEOUT_MS)
    key = _param(teacher, "teacher")
    board_url = teacher.locator(".st-key-class-board code").inner_text().strip()
    teacher.context.close()
    assert key and "/Class?board=" in board_url

    again = _fresh(browser)  # the teacher's link in another browser
    _opens(again, f"{app_server}/Class?teacher={key}", "Class")
    expect(again.locator(".class-join")).to_be_visible(timeout=TIMEOUT_MS)
    again.context.close()
    board = _fresh(browser)
    _opens(board, f"{app_server}/Class?board={_param_of(board_url, 'board')}", "Class board")
    assert _param(board, "ws") is None  # the board opens no workspace
    board.context.close()


def _param_of(url: str, name: str) -> str:
    return parse_qs(urlparse(url).query)[name][0]

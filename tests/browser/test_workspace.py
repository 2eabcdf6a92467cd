"""Workspaces in Chromium: a run survives a reload and a server restart, stays private to its link, can be shared
read-only and copied; a class of three students shows up on the teacher's page with their runs."""
from __future__ import annotations

import os
import re
import subprocess
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from tests import server as server_mod
from tests.browser.helpers import RESULTS, assert_no_exception, open_app, screenshot, wait_idle
from tests.server import free_port

# A run to its end on a loaded 2-core machine (CI failed a 60 s wait); a passing test waits far less.
RUN_TIMEOUT_MS = 180_000


def _start(port: int, data_dir) -> subprocess.Popen:
    """`streamlit run app.py` on ``port`` keeping its workspaces in ``data_dir``."""
    env = {**os.environ, "PLAYGROUND_DATA_DIR": str(data_dir)}
    try:
        return server_mod.start(port, RESULTS / "workspace-server.log", env=env)
    except RuntimeError as err:
        pytest.fail(str(err))


@pytest.fixture
def server(tmp_path):
    """A server of its own (the restart test stops and starts it again on the same port and database)."""
    port = free_port()
    holder = {"proc": _start(port, tmp_path), "url": f"http://127.0.0.1:{port}", "restart": None}

    def restart():
        server_mod.stop(holder["proc"])
        holder["proc"] = _start(port, tmp_path)

    holder["restart"] = restart
    yield holder
    server_mod.stop(holder["proc"])


def _token(page) -> str:
    return parse_qs(urlparse(page.url).query)["ws"][0]


def _start_training(page) -> None:
    """On Build with the toy MLP: over to Train, 2 epochs on circle, Start."""
    page.get_by_role("link", name="Train").first.click()
    wait_idle(page)
    field = page.locator(".st-key-tr-epochs input")
    field.fill("2")
    field.press("Enter")
    wait_idle(page)
    page.locator(".st-key-tr-start button").click()


def _train_to_the_end(page, url: str) -> None:
    """From a fresh context: the toy MLP on circle for 2 epochs, until its test results show."""
    open_app(page, f"{url}/Build?net=p.toy-mlp")
    _start_training(page)
    expect(page.get_by_text("Test accuracy")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    wait_idle(page)


def _open_panel(page) -> None:
    page.locator("[data-testid=stSidebar] [data-testid=stExpander] summary",
                 has_text="Share, download, join a class").click()


def test_a_run_survives_reload_and_restart_and_stays_private(server, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    _train_to_the_end(page, server["url"])
    token = _token(page)
    text = page.locator("[data-testid=stMetric]", has_text="Test accuracy").inner_text()
    accuracy = re.search(r"\d+\.\d%", text).group(0)
    page.wait_for_timeout(2500)  # the keeper writes about once a second

    page.reload()  # a new Streamlit session: everything comes back from the database
    wait_idle(page)
    expect(page.locator("[data-testid=stMetric]", has_text="Test accuracy")).to_contain_text(accuracy)
    assert _token(page) == token
    assert_no_exception(page)

    other = browser.new_context().new_page()  # no link: a workspace of its own, without the run
    open_app(other, f"{server['url']}/Train")
    expect(other.locator(".st-key-tr-start button")).to_be_visible()
    expect(other.get_by_text("Test accuracy")).to_have_count(0)
    assert _token(other) != token
    other.context.close()

    server["restart"]()  # same database, a fresh process
    open_app(page, f"{server['url']}/Train?ws={token}")
    expect(page.locator("[data-testid=stMetric]", has_text="Test accuracy")).to_contain_text(accuracy)
    assert_no_exception(page)
    screenshot(page, "workspace-after-restart")

    _open_panel(page)  # a read-only snapshot, and a copy of it
    page.locator(".st-key-ws-share button").click()
    wait_idle(page)
    link = page.locator("[data-testid=stSidebar] [data-testid=stCode]").inner_text().strip()
    snapshot = parse_qs(urlparse(link).query)["ws"][0]
    assert snapshot != token
    viewer = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    open_app(viewer, f"{server['url']}/Train?ws={snapshot}")
    expect(viewer.get_by_text("A read-only snapshot")).to_be_visible()
    expect(viewer.locator("[data-testid=stMetric]", has_text="Test accuracy")).to_contain_text(accuracy)
    viewer.locator(".st-key-ws-copy button").click()
    wait_idle(viewer)
    expect(viewer.get_by_text("A read-only snapshot")).to_have_count(0)
    copy = _token(viewer)
    assert copy not in (token, snapshot)
    expect(viewer.locator("[data-testid=stMetric]", has_text="Test accuracy")).to_contain_text(accuracy)
    assert_no_exception(viewer)
    viewer.context.close()
    context.close()


def _create_class(browser, url: str, name: str):
    """A teacher's page with a new class; (page, join code read off the page)."""
    teacher = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    open_app(teacher, f"{url}/Class")
    teacher.locator(".st-key-class-name input").fill(name)
    teacher.locator(".st-key-class-name input").press("Enter")
    wait_idle(teacher)
    teacher.locator(".st-key-class-create button").click()
    wait_idle(teacher)
    expect(teacher.locator(".class-join")).to_be_visible(timeout=30_000)
    code = re.search(r"enter code\s+([A-Z0-9]{6})", teacher.locator(".class-join").inner_text()).group(1)
    return teacher, code


def _join(browser, url: str, code: str, name: str, class_name: str):
    """A student's page on Build with the toy MLP, joined to the class as ``name``."""
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    open_app(page, f"{url}/Build?net=p.toy-mlp")
    _open_panel(page)
    page.locator(".st-key-ws-join-code input").fill(code)
    page.locator(".st-key-ws-join-name input").fill(name)
    page.locator(".st-key-ws-join-name input").press("Enter")
    wait_idle(page)
    page.locator(".st-key-ws-join button").click()
    wait_idle(page)
    expect(page.get_by_text(f"Class {class_name}")).to_be_visible()
    return page


def test_the_class_board_shows_the_code_and_ranking_without_the_teacher_key(server, browser):
    teacher, code = _create_class(browser, server["url"], "Week 3")
    port = urlparse(server["url"]).port
    expect(teacher.locator(".class-join")).to_contain_text(f"Open http://127.0.0.1:{port} and enter code")
    key = parse_qs(urlparse(teacher.url).query)["teacher"][0]
    own = _token(teacher)
    link = teacher.locator(".st-key-class-board [data-testid=stCode]").inner_text().strip()
    assert link.startswith(f"http://127.0.0.1:{port}/Class?board=") and key not in link
    href = teacher.locator(".st-key-class-board-open a").get_attribute("href")
    assert href == link
    student = _join(browser, server["url"], code, "Ada", "Week 3")

    board = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()  # as on the projector
    open_app(board, link)
    expect(board.locator(".class-join-code")).to_have_text(code, timeout=30_000)
    expect(board.get_by_text("No ranking yet")).to_be_visible(timeout=30_000)  # Ada joined, nothing run yet
    wait_idle(board)
    assert_no_exception(board)
    for secret in (key, own):  # neither the teacher's key nor the teacher's workspace, in the page or its links
        assert secret not in board.content() and secret not in board.url
    assert all(key not in (a.get_attribute("href") or "") for a in board.locator("a").all())
    expect(board.locator(".st-key-class-push")).to_have_count(0)
    expect(board.locator(".st-key-class-snapshot")).to_have_count(0)
    screenshot(board, "class-board")
    # 200% zoom on a 1400 px projector: a 700 px window at twice the pixels. The code still shows whole.
    zoomed = browser.new_context(viewport={"width": 700, "height": 500}, device_scale_factor=2).new_page()
    open_app(zoomed, link)
    expect(zoomed.locator(".class-join-code")).to_have_text(code, timeout=30_000)
    fits = zoomed.locator(".class-join-code").evaluate(
        "el => el.scrollWidth <= el.clientWidth && el.getBoundingClientRect().right <= window.innerWidth")
    screenshot(zoomed, "class-board-200")
    assert fits
    zoomed.context.close()

    bad = browser.new_context().new_page()
    open_app(bad, f"{server['url']}/Class?board={'A' * 43}")
    expect(bad.get_by_text("No class board has this link")).to_be_visible(timeout=30_000)
    for page in (teacher, student, board, bad):
        page.context.close()


def test_a_class_of_three_shows_up_on_the_teachers_page(server, browser):
    teacher, code = _create_class(browser, server["url"], "Week 3")
    students = [_join(browser, server["url"], code, name, "Week 3") for name in ("Ada", "Grace", "Alan")]
    for page in students:
        _start_training(page)
    for page in students:
        expect(page.get_by_text("Test accuracy")).to_be_visible(timeout=RUN_TIMEOUT_MS)

    chart = teacher.locator(".st-key-class-loss")  # the table is drawn on a canvas: the chart's legend names them
    expect(chart.locator(".scatterlayer .trace")).to_have_count(3, timeout=30_000)  # one curve per student's run
    for name in ("Ada", "Grace", "Alan"):
        expect(chart.locator(".legendtext", has_text=name)).to_have_count(1)
    assert_no_exception(teacher)
    screenshot(teacher, "class")

    # A student's workspace, read-only, in a new tab. The select sits at the window's bottom edge under the
    # Students/Lessons tabs: scrolled into view first, then typed into (its menu may open above or below).
    select = teacher.locator(".st-key-class-member input")
    select.scroll_into_view_if_needed()
    teacher.mouse.wheel(0, 400)
    select.click()
    select.fill("Grace")
    teacher.get_by_role("option", name="Grace").click()
    wait_idle(teacher)
    teacher.locator(".st-key-class-snapshot button").click()
    link = teacher.locator(".st-key-class-snapshot-open a")
    expect(link).to_have_attribute("href", re.compile(r"/Train\?ws="), timeout=30_000)
    assert link.get_attribute("target") == "_blank"
    viewer = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    open_app(viewer, link.get_attribute("href"))
    expect(viewer.get_by_text("A read-only snapshot")).to_be_visible()
    expect(viewer.locator("[data-testid=stMetric]", has_text="Test accuracy")).to_be_visible()
    assert_no_exception(viewer)
    viewer.context.close()
    for page in [teacher, *students]:
        page.context.close()

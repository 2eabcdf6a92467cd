"""The teacher's Lessons tab in a browser: a class of two with one assigned challenge; both students are on the
grid, and each one's valid result appears on the challenge's leaderboard as it is posted, without a reload.

The students' runs are real short seeded runs, stored and posted through the store (the server reads the same
database: tests/conftest.py points both at one data folder)."""
from __future__ import annotations

from playwright.sync_api import expect

from engine import workspace as store_mod
from tests.browser.helpers import assert_no_exception, open_app, screenshot
from tests.browser.test_projector import ZOOM_VIEWPORT, _overflow
from tests.engine.lesson_runs import mlp, train

XOR = "perceptron-xor"  # its challenge: spiral, at most 200 parameters
SPEC = {"input": [2], "layers": [{"type": "Linear", "out_features": 2}]}
LIVE_MS = 30_000  # the tab polls every 2 s; a loaded 2-core machine may take a few polls


def _frame(page, key: str):
    """The table inside the container of this key (the grid draws on a canvas; its table is the canvas's
    accessible content)."""
    return page.locator(f".st-key-{key} [data-testid=stDataFrame] table")


def test_the_teacher_sees_both_students_on_the_grid_and_each_result_arrive(app_server, page):
    store = store_mod.get_store()
    teacher, code = store.create_class("Period 3")
    students = {}
    for name in ("Ada", "Bob"):
        students[name] = store.create(spec=SPEC)
        store.join_class(code, name, students[name])
    store.assign(teacher, "lesson", XOR)
    store.assign(teacher, "challenge", XOR)
    run = train(1, mlp("small", [2], [10, 10]), dataset="spiral", epochs=20, lr=0.03)  # 162 parameters

    open_app(page, f"{app_server}/Class?teacher={teacher}&class_tab=Lessons")
    assert_no_exception(page)
    grid = _frame(page, f"class-grid-{XOR}")
    expect(grid).to_contain_text("Ada", timeout=LIVE_MS)
    expect(grid).to_contain_text("Bob")
    leaderboard = page.get_by_text("No valid result yet")
    expect(leaderboard).to_be_visible()

    for name in ("Ada", "Bob"):  # each posts a valid run; the page is not reloaded
        store.save_run(students[name], run)
        assert store.post_challenge(students[name], XOR, 1).counts
        expect(_frame(page, f"class-leaderboard-{XOR}")).to_contain_text(name, timeout=LIVE_MS)
    board = _frame(page, f"class-leaderboard-{XOR}")
    expect(board).to_contain_text("Ada")
    expect(board).to_contain_text("162")
    assert_no_exception(page)
    screenshot(page, "class-lessons")


def test_the_board_shows_the_lessons_read_only_and_fits_a_projector(app_server, browser):
    """The board at 200% zoom of a 1400 px window: the grid of a 4-step lesson and a leaderboard fit, and
    nothing on it assigns."""
    store = store_mod.get_store()
    teacher, code = store.create_class("Projected")
    for name in ("Ada", "Bob with a rather long display name"):
        store.join_class(code, name, store.create(spec=SPEC))
    store.assign(teacher, "lesson", "through-time")
    store.assign(teacher, "challenge", "through-time")
    context = browser.new_context(viewport=ZOOM_VIEWPORT, device_scale_factor=2)
    try:
        page = open_app(context.new_page(), f"{app_server}/Class?board={store.class_board(teacher)}")
        grid = _frame(page, "class-grid-through-time")
        expect(grid).to_contain_text("Bob with a rather long display name", timeout=LIVE_MS)
        expect(page.get_by_text("Leaderboard: The adding problem at T = 30")).to_be_visible()
        expect(page.get_by_role("button", name="Assign")).to_have_count(0)
        assert_no_exception(page)
        assert not _overflow(page)
    finally:
        context.close()

"""The Gradients page's tabs keep the one chosen through every rerun; only it computes; the closed one's settings
are kept."""
import pytest
from streamlit.testing.v1 import AppTest

from tests.app.gradients.test_gradients_page import PAGE, has_chart, open_tab, poll_until_ended, runs, trainers

TAB = "gradients_tab"


@pytest.fixture
def at():
    app = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not app.exception
    yield app
    for trainer in trainers(app):
        assert trainer.stop()


def test_the_open_tab_is_kept_and_survives_start_and_compare(at):
    assert at.session_state[TAB] == "Through depth"
    open_tab(at, "Through time")
    at.slider(key="time-T").set_value(8).run()
    at.select_slider(key="time-seconds").set_value(10).run()
    at.select_slider(key="time-compare-steps").set_value(100).run()
    at.button(key="time-start").click().run()
    at.button(key="time-compare").click().run()
    at.run()
    assert not at.exception and at.session_state[TAB] == "Through time"
    assert has_chart(at, "time-snapshots-chart") and has_chart(at, "time-compare-loss-chart")


def test_only_the_open_tab_computes(at):
    assert has_chart(at, "depth-norms-chart") and not has_chart(at, "time-norms-chart")
    open_tab(at, "Through time")
    assert has_chart(at, "time-norms-chart") and not has_chart(at, "depth-norms-chart")


def test_the_closed_tabs_settings_are_kept(at):
    at.slider(key="depth-depth").set_value(3).run()
    at.select_slider(key="depth-epochs").set_value(1).run()
    at.get("button_group")[0].set_value("Plain 20-layer vs residual 20-layer").run()
    open_tab(at, "Through time")
    at.slider(key="time-T").set_value(12).run()
    at.select_slider(key="time-seconds").set_value(60).run()
    at.run()
    open_tab(at, "Through depth")
    assert not at.exception
    assert at.slider(key="depth-depth").value == 3 and at.select_slider(key="depth-epochs").value == 1
    assert at.get("button_group")[0].value == "Plain 20-layer vs residual 20-layer"
    at.run()
    open_tab(at, "Through time")
    assert at.slider(key="time-T").value == 12 and at.select_slider(key="time-seconds").value == 60


def test_a_comparison_goes_on_and_a_live_run_keeps_its_snapshots_while_the_depth_tab_is_open(at):
    """The closed time tab draws nothing, but its comparison still starts each next cell, and its live run still
    takes a ‖∂L/∂h_t‖ snapshot about every second (what the heatmap shows when the tab opens again)."""
    open_tab(at, "Through time")
    at.slider(key="time-T").set_value(8).run()
    at.select_slider(key="time-seconds").set_value(10).run()
    at.select_slider(key="time-compare-steps").set_value(100).run()
    at.button(key="time-start").click().run()
    at.button(key="time-compare").click().run()
    open_tab(at, "Through depth")
    poll_until_ended(at, "compare", seconds=120)
    assert all(t.status.step >= 100 for t in runs(at)["compare"]["trainers"])  # every cell had its turn
    poll_until_ended(at, "time", seconds=60)  # it trains for 10 s
    assert len(runs(at)["time"]["snaps"]) >= 3  # at the start, while it trained behind the depth tab, at the end
    assert not has_chart(at, "time-snapshots-chart")

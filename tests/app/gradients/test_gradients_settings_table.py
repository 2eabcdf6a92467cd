"""The Gradients settings' table (``ui.gradients.settings.TABLE``) declares each setting once: a default changed there
shows in its widget, is what the workspace saves and what the lab's run gets; a lesson's set-up queued through
``ui.core.settings.queue_settings`` and an older workspace saved by widget key reach the widgets through it."""
import dataclasses

import pytest
from streamlit.testing.v1 import AppTest

import engine
from tests.app.gradients.test_gradients_page import PAGE, open_tab, poll_until_ended, runs, trainers
from ui.core import database, workspace
from ui.core.session import KEY
from ui.core.settings import QUEUED
from ui.gradients import settings


def _with_default(name: str, value) -> settings.Table:
    return settings.Table(dataclasses.replace(r, default=value) if r.name == name else r for r in settings.TABLE)


def _opened(token: str | None = None, tab: str | None = None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    if token:
        at.query_params[workspace.PARAM] = token
    if tab:
        at.query_params["gradients_tab"] = tab
    at.run()
    assert not at.exception and not at.error
    return at


@pytest.mark.parametrize("name, value, widget, tab, start, field",
                         [("init", "he", "selectbox", None, "depth-start", "init"),
                          ("clip", 2.5, "slider", "Through time", "time-start", "clip_norm")])
def test_a_default_changed_in_the_table_reaches_the_page_the_workspace_and_the_engine(monkeypatch, name, value,
                                                                                       widget, tab, start, field):
    assert settings.TABLE.row(name).default != value  # not the page's own default
    monkeypatch.setattr(settings, "TABLE", _with_default(name, value))
    at = _opened(tab=tab)
    try:
        if tab:
            open_tab(at, tab)
        assert getattr(at, widget)(key=settings.TABLE.key(name)).value == value  # the page
        assert at.session_state[KEY].settings[settings.PAGE][name] == value
        store, flusher = database.services()
        assert flusher.flush(30)
        assert store.open(at.session_state[KEY].token).settings[settings.PAGE][name] == value  # the saved workspace
        if not tab:
            at.select_slider(key=settings.TABLE.key("epochs")).set_value(1).run()
        at.button(key=start).click().run()
        (trainer,) = runs(at)["depth" if not tab else "time"]["trainers"]
        assert getattr(trainer.config, field) == value  # the engine's config of the lab's run
    finally:
        for trainer in trainers(at):
            trainer.stop()


def test_a_queued_lesson_set_up_reaches_the_widgets_once():
    at = _opened()
    at.slider(key="depth-depth").set_value(7).run()
    at.toggle(key="depth-bn").set_value(True).run()
    at.session_state[QUEUED] = {settings.PAGE: {"time_lab": {"cell": "LSTM", "T": 12, "hidden": 40, "clip": 0,
                                                             "scale": "singular"},
                                                "depth_lab": {"depth": 3, "width": 20, "init": "he"}}}
    at.run()
    assert not at.exception
    # Named fields as given (a width or hidden size between the sliders' steps: the nearest), the rest of a lab
    # named by the set-up back to the defaults (batch norm off again), clip 0: clipping off.
    assert at.slider(key="depth-depth").value == 3 and at.select_slider(key="depth-width").value == 16
    assert at.selectbox(key="depth-init").value == "he" and at.toggle(key="depth-bn").value is False
    assert at.selectbox(key="time-cell").value == "LSTM" and at.slider(key="time-T").value == 12
    assert at.select_slider(key="time-hidden").value == 32 and at.radio(key="time-radius-kind").value == "σ_max"
    assert at.toggle(key="time-clip-on").value is False
    saved = at.session_state[KEY].settings[settings.PAGE]
    assert (saved["depth"], saved["T"], saved["clip_on"]) == (3, 12, False)
    at.slider(key="depth-depth").set_value(5).run()  # taken once: the student's next change stays
    assert at.slider(key="depth-depth").value == 5 and settings.PAGE not in at.session_state[QUEUED]


def test_a_workspace_saved_by_widget_key_opens_with_its_settings():
    """Before the table, the page saved its widgets' keys: such a workspace still opens with its settings, bad
    values left out, and is saved by name from then on."""
    store, flusher = database.services()
    spec = engine.network.presets.get("toy-mlp").to_dict()
    token = store.create(spec=spec, settings={settings.PAGE: {"depth-depth": 6, "depth-width": 64, "time-T": "x",
                                                              "time-radius-kind": "σ_max"}})
    at = _opened(token)
    assert at.slider(key="depth-depth").value == 6 and at.select_slider(key="depth-width").value == 64
    assert at.slider(key="time-T").value == 30 and at.radio(key="time-radius-kind").value == "σ_max"
    saved = at.session_state[KEY].settings[settings.PAGE]
    assert saved["depth"] == 6 and saved["radius_kind"] == "σ_max" and "depth-depth" not in saved


def test_the_table_names_every_widget_once_and_reads_values_its_widgets_can_take():
    keys = [r.key for r in settings.TABLE]
    assert len(keys) == len(set(keys)) and len({r.name for r in settings.TABLE}) == len(keys)
    read = settings.TABLE.read({"depth": 80, "width": 100, "T": 7.0, "radius": "1", "batch_norm": 1, "epochs": True,
                                "contrast": None, "unknown": 3})
    # clamped to the range, snapped to the nearest step, an integral float taken; wrong types left out
    assert read == {"depth": 50, "width": 128, "T": 7, "contrast": None}
    # A lesson's set-up names the engine's fields: every one the lessons' schema allows is in the table or converted.
    lesson_names = set(engine.lessons.schema.DEPTH_LAB.params) | set(engine.lessons.schema.TIME_LAB.params)
    assert lesson_names - {r.name for r in settings.TABLE} == {"scale"}

"""The Gradients page's experiments are kept in the workspace: a new session opened with the token shows the
same settings, the finished depth, time and comparison runs drawn from what they recorded, and the table."""
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from engine.training import SavedRun
from tests.app.gradients.test_gradients_page import chart, markdown_text, open_tab, poll_until_ended, runs, trainers
from ui.core import database, workspace
from ui.core.session import KEY

PAGE = str(Path(__file__).resolve().parents[3] / "views" / "5_Gradients.py")
TAB = "gradients_tab"  # bound to the address: a reload opens the same tab


def _reopen(at: AppTest) -> AppTest:
    """A reload: the page's work written out, then a new session with the same address (and open tab)."""
    assert database.services()[1].flush(30)
    again = AppTest.from_file(PAGE, default_timeout=60)
    again.query_params[workspace.PARAM] = at.session_state[KEY].token
    again.query_params[TAB] = at.session_state[TAB]
    again.run()
    assert not again.exception and not again.error
    return again


def _stop_all(at: AppTest) -> None:
    for trainer in trainers(at):
        assert trainer.stop()


def test_a_depth_run_comes_back_with_its_settings_curves_and_weights():
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    try:
        at.slider(key="depth-depth").set_value(4).run()
        at.select_slider(key="depth-width").set_value(16).run()
        at.select_slider(key="depth-epochs").set_value(1).run()
        at.button(key="depth-start").click().run()
        poll_until_ended(at, "depth")
        at.run()
        (trainer,) = runs(at)["depth"]["trainers"]
        norms = chart(at, "depth-norms-chart")
        again = _reopen(at)
    finally:
        _stop_all(at)
    assert again.slider(key="depth-depth").value == 4 and again.select_slider(key="depth-width").value == 16
    assert again.select_slider(key="depth-epochs").value == 1
    (restored,) = runs(again)["depth"].runs
    assert isinstance(restored.trainer, SavedRun) and restored.state == "finished"
    assert restored.trainer.records() == trainer.records()
    # The curve after training is measured again from the stored weights: the same numbers as before.
    assert chart(again, "depth-norms-chart")["data"] == norms["data"]
    assert len(chart(again, "depth-steps-chart")["data"]) == 5


def test_time_and_comparison_runs_come_back_with_snapshots_verdict_and_table():
    at = open_tab(AppTest.from_file(PAGE, default_timeout=60).run())
    try:
        at.slider(key="time-T").set_value(8).run()
        at.select_slider(key="time-seconds").set_value(10).run()
        at.select_slider(key="time-compare-steps").set_value(100).run()
        at.button(key="time-start").click().run()
        at.button(key="time-compare").click().run()
        time.sleep(2)
        at.run()
        runs(at)["time"]["trainers"][0].stop()  # why it ended is kept too
        poll_until_ended(at, "time", seconds=60)
        poll_until_ended(at, "compare", seconds=120)
        at.run()
        time_run, compare = runs(at)["time"], runs(at)["compare"]
        verdict = next(line for line in markdown_text(at).splitlines() if line.startswith("Measured: "))
        compare_chart = chart(at, "time-compare-chart")
        table = at.dataframe[-1].value
        again = _reopen(at)
    finally:
        _stop_all(at)
    assert again.slider(key="time-T").value == 8 and again.select_slider(key="time-compare-steps").value == 100
    back_time, back_compare = runs(again)["time"], runs(again)["compare"]
    assert all(isinstance(r.trainer, SavedRun) for r in back_time.runs + back_compare.runs)  # from the database
    assert back_time["trainers"][0].status.message == "stopped by the user"
    assert any(c.value.startswith("stopped by the user: ") for c in again.caption)
    assert back_time["snap_steps"] == time_run["snap_steps"] and len(back_time["snaps"]) >= 2
    for a, b in zip(time_run["snaps"], back_time["snaps"]):
        assert np.array_equal(a, b) and a.dtype == b.dtype
    assert (back_time["clip"], back_time["baseline"], back_time["cell"]) == \
        (time_run["clip"], time_run["baseline"], time_run["cell"])
    assert len(chart(again, "time-snapshots-chart")["data"]) == min(len(time_run["snaps"]), 10)
    # The three cells share one context again, and the verdict is the one measured before the reload.
    assert len({id(r.shared) for r in back_compare.runs}) == 1
    assert [t.records() for t in back_compare["trainers"]] == [t.records() for t in compare["trainers"]]
    for cell, curve in compare["at_init"].items():
        assert np.array_equal(back_compare["at_init"][cell], curve)
    # The curves after training are kept with the comparison, and drawn again as they were.
    assert set(compare["after"]) == set(compare["at_init"])
    for cell, curve in compare["after"].items():
        assert np.array_equal(back_compare["after"][cell], curve) and curve.dtype == back_compare["after"][cell].dtype
    assert chart(again, "time-compare-chart")["data"] == compare_chart["data"]
    assert len(compare_chart["data"]) == 6
    assert verdict in markdown_text(again)
    assert again.dataframe[-1].value.equals(table) and len(table) == 1  # not recorded a second time
    saved = json.dumps(again.session_state[KEY].settings["gradients"])
    assert '"T": 8' in saved

    # A comparison cut short (the server stopped while it trained) is drawn, but not added to the table; one saved
    # without its curves after training (before they were kept) has them measured from its stored weights.
    store, flusher = database.services()
    assert flusher.flush(30)
    token = again.session_state[KEY].token
    for record in [r for r in store.open(token).runs if r.group == "compare"]:
        context = json.loads(json.dumps(record.context))
        context["shared"] = {k: v for k, v in context["shared"].items() if k not in ("recorded", "saved", "after")}
        store.save_run(token, dataclasses.replace(record, state="interrupted", context=context))
    cut = AppTest.from_file(PAGE, default_timeout=60)
    cut.query_params[workspace.PARAM] = token
    cut.query_params[TAB] = "Through time"
    cut.run()
    assert not cut.exception and [t.state for t in runs(cut)["compare"]["trainers"]] == ["interrupted"] * 3
    assert cut.dataframe[-1].value.equals(table) and "Measured: " in markdown_text(cut)
    assert chart(cut, "time-compare-chart")["data"] == compare_chart["data"]

    # A run that ended after its last snapshot (its tab closed first): the last curve is measured once from the
    # stored weights on the same probe batch, the numbers the live page had measured.
    record = next(r for r in store.open(token).runs if r.group == "time")
    context = json.loads(json.dumps(record.context))
    context["shared"]["snaps"].pop()
    last = context["shared"]["snap_steps"].pop()
    store.save_run(token, dataclasses.replace(record, context=context))
    third = AppTest.from_file(PAGE, default_timeout=60)
    third.query_params[workspace.PARAM] = token
    third.query_params[TAB] = "Through time"
    third.run()
    assert not third.exception
    remeasured = runs(third)["time"]
    assert remeasured["snap_steps"] == time_run["snap_steps"] and remeasured["snap_steps"][-1] == last
    assert np.array_equal(remeasured["snaps"][-1], time_run["snaps"][-1])


def test_a_reload_right_after_a_change_opens_it_before_the_database_has_it(monkeypatch):
    """Fields are written about once a second: a reload in between gets them from the flusher's queue."""
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    token = at.session_state[KEY].token
    flusher = database.services()[1]
    assert flusher.flush(30)
    monkeypatch.setattr(flusher, "_write_fields", lambda fields: fields)  # a slow database: nothing written yet
    at.slider(key="depth-depth").set_value(7).run()
    assert flusher.queued_fields(token)["settings"]["gradients"]["depth"] == 7
    again = AppTest.from_file(PAGE, default_timeout=60)
    again.query_params[workspace.PARAM] = token
    again.run()
    assert not again.exception and again.slider(key="depth-depth").value == 7
    monkeypatch.undo()
    assert flusher.flush(30)
    assert database.services()[0].open(token).settings["gradients"]["depth"] == 7


APP = str(Path(__file__).resolve().parents[3] / "app.py")


def test_going_to_another_page_and_back_keeps_the_settings_and_the_runs():
    """Streamlit forgets a widget's value on a page that is not drawn: the saved settings give it back, so the
    runs started for them stay (and stay saved), on Gradients and on Train."""
    at = AppTest.from_file(APP, default_timeout=60).run()
    try:
        at.switch_page("views/3_Train.py").run()
        at.number_input(key="tr-epochs").set_value(7).run()
        at.switch_page("views/5_Gradients.py").run()
        at.slider(key="depth-depth").set_value(4).run()
        at.select_slider(key="depth-epochs").set_value(1).run()
        at.button(key="depth-start").click().run()
        poll_until_ended(at, "depth")
        (number,) = [r.number for r in runs(at)["depth"].runs]
        at.switch_page("views/2_Convolution.py").run()
        at.switch_page("views/5_Gradients.py").run()
        assert not at.exception and at.slider(key="depth-depth").value == 4
        assert [r.number for r in runs(at)["depth"].runs] == [number]
        at.switch_page("views/3_Train.py").run()
        assert at.number_input(key="tr-epochs").value == 7
        store, flusher = database.services()
        assert flusher.flush(30)
        stored = store.open(at.session_state[KEY].token)
        assert [r.number for r in stored.runs if r.group == "depth"] == [number]
        assert stored.settings["gradients"]["depth"] == 4 and stored.settings["train"]["epochs"] == 7
    finally:
        _stop_all(at)


def test_a_comparisons_waiting_cells_are_written_once_not_every_second(monkeypatch):
    at = open_tab(AppTest.from_file(PAGE, default_timeout=60).run())
    store, flusher = database.services()
    writes = []
    save_run = store.save_run
    monkeypatch.setattr(store, "save_run", lambda token, run: (writes.append((run.number, run.state)),
                                                              save_run(token, run)))
    try:
        at.slider(key="time-T").set_value(30).run()
        at.select_slider(key="time-compare-steps").set_value(4000).run()  # the first cell trains for a while
        at.button(key="time-compare").click().run()
        rnn, lstm, gru = runs(at)["compare"].runs
        time.sleep(3.5)
        assert lstm.state == gru.state == "idle"
        assert [w for w in writes if w[0] in (lstm.number, gru.number)] == [(lstm.number, "idle"),
                                                                           (gru.number, "idle")]
    finally:
        _stop_all(at)


def test_stored_experiments_of_the_wrong_shape_are_dropped_not_drawn():
    """An edited or old workspace file: a lab run whose context cannot be drawn is left out, the page works."""
    from engine.network import presets
    from engine.workspace import RunRecord

    store, flusher = database.services()
    spec = presets.get("toy-mlp").to_dict()
    token = store.create(spec=spec, settings={"gradients": {"depth-depth": "many"}, "gradients-compare": [1]})
    no_snapshots = {"snaps": [], "snap_steps": [], "clip": 1.0, "baseline": 0.1, "cell": "LSTM"}
    for number, group, context in ((1, "time", {"key": "T=8", "shared": [1, 2]}),
                                   (2, "compare", {"key": ["copy", 8], "shared": {"T": 8}}),
                                   (3, "time", {"key": ["rnn"], "shared": no_snapshots})):
        store.save_run(token, RunRecord(number, group=group, spec=spec, config={}, state="finished",
                                        context=context))
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params[workspace.PARAM] = token
    at.query_params[TAB] = "Through time"  # the lab whose runs are read
    at.run()
    assert not at.exception and not at.error
    assert "time" not in runs(at) and "compare" not in runs(at)
    assert at.slider(key="depth-depth").value == 10  # the bad saved value was not used

"""Train page controls in AppTest: one live run per session, pause → new learning rate → resume, Start after Reset,
the heartbeat from every page."""
import json
import time

import pytest
from streamlit.testing.v1 import AppTest

import engine
from engine.training import TrainConfig
from tests.app.train.test_train import at, configure, runs, wait_for  # noqa: F401 - the page fixture and helpers
from ui.core import runs_ui
from ui.core.session import KEY, SessionState


def _long_run(at):
    configure(at, epochs=400)
    at.button(key="tr-start").click().run()
    return wait_for(at, ("running",))


def _text(at) -> str:
    return " ".join(c.value for c in [*at.caption, *at.info, *at.error, *at.markdown])


def _poll(at, ready, timeout=30):
    """Rerun the page until ``ready()`` holds (the run's thread moves on its own)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        if ready():
            return
        time.sleep(0.2)
    raise AssertionError("the run did not get there in time")


def test_a_second_start_stops_the_first_live_run(at):
    first = _long_run(at)
    at.button(key="tr-start").click().run()
    assert any("stopped first" in i.value for i in at.info)  # shown once, until the next full rerun
    second = wait_for(at, ("running",))
    assert second is not first and first.state == "stopped"
    assert not first.thread.is_alive()
    assert [r.state for r in runs(at)] == ["stopped", "running"]
    assert not at.exception


def test_a_paused_run_shows_what_resume_will_change(at):
    _long_run(at)
    at.button(key="tr-pause").click().run()
    wait_for(at, ("paused",))
    at.number_input(key="tr-lr-adam").set_value(0.001).run()
    assert "On Resume: learning rate 0.03 → 0.001" in _text(at)
    at.number_input(key="tr-batch").set_value(8).run()
    assert "batch size" in _text(at) and "new run or after Reset" in _text(at)


def test_pause_change_the_learning_rate_resume(at):
    trainer = _long_run(at)
    at.button(key="tr-pause").click().run()
    wait_for(at, ("paused",))
    step = trainer.status.step
    at.number_input(key="tr-lr-adam").set_value(0.001).run()
    at.button(key="tr-resume").click().run()
    wait_for(at, ("running",))
    # The engine records a change when it first acts (the batch after Resume), and the page shows its record.
    _poll(at, lambda: trainer.status.changes)
    assert all(g["lr"] == pytest.approx(0.001) for g in trainer.loop.optimizer.param_groups)
    assert f"learning rate 0.03 → 0.001 from step {step}" in _text(at)
    assert [c["step"] for c in trainer.status.changes] == [step]
    _poll(at, lambda: any(r["step"] > step + trainer.config.metrics_every for r in trainer.records()))
    later = [r for r in trainer.records() if r["step"] > step + trainer.config.metrics_every]
    assert later and all(r["lr"] == pytest.approx(0.001) for r in later)
    loss_chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    markers = [a["text"] for a in loss_chart["layout"]["annotations"]]
    assert markers == ["learning rate 0.03 → 0.001"]  # where the change happened, on the loss chart
    assert loss_chart["layout"]["shapes"][0]["x0"] == pytest.approx(step / trainer.loop.batches_per_epoch)
    assert list(at.dataframe[0].value["η"]) == ["0.03→0.001"]  # the run table reads the rate from the status
    assert not at.exception


def test_a_paused_run_says_when_it_ends_itself(at, monkeypatch):
    monkeypatch.setattr(engine.limits, "MAX_PAUSED_SECONDS", 600)
    trainer = _long_run(at)
    at.button(key="tr-pause").click().run()
    wait_for(at, ("paused",))
    assert 540 < trainer.status.paused_left <= 600
    assert "ends itself in 10 min unless resumed" in _text(at)
    monkeypatch.setattr(engine.limits, "MAX_PAUSED_SECONDS", 3600)  # the time left follows the server's cap
    at.run()
    assert "ends itself in 60 min unless resumed" in _text(at) and trainer.state == "paused"


def test_the_status_shows_the_engines_notes_on_the_settings(at):
    configure(at, epochs=1)
    at.number_input(key="tr-bptt").set_value(5).run()
    at.button(key="tr-start").click().run()
    trainer = wait_for(at, ("finished",))
    assert trainer.status.notes and "truncated BPTT (bptt=5) is not used" in trainer.status.notes[0]
    assert f"Note: {trainer.status.notes[0]}" in [c.value for c in at.caption]


def test_a_refused_change_keeps_the_run_paused(at):
    trainer = _long_run(at)
    at.button(key="tr-pause").click().run()
    wait_for(at, ("paused",))
    at.number_input(key="tr-clip").set_value(5.0).run()
    def refuse(**changes):  # what Trainer.update does with a bad value
        raise engine.InputError("clip_norm is too large")

    trainer.update = refuse
    at.button(key="tr-resume").click().run()
    assert trainer.state == "paused"
    assert any("clip_norm is too large" in e.value for e in at.error) and not at.exception


def test_after_reset_start_plays_with_the_current_settings(at):
    trainer = _long_run(at)
    at.button(key="tr-stop").click().run()
    at.number_input(key="tr-epochs").set_value(3)
    at.selectbox(key="tr-init").set_value("he").run()
    at.button(key="tr-reset").click().run()
    assert trainer.state == "idle" and trainer.status.step == 0
    assert trainer.config.epochs == 3 and trainer.config.init == "he"
    resume = at.button(key="tr-resume")
    assert resume.label == "Start" and not resume.disabled
    resume.click().run()
    wait_for(at, ("finished",))
    assert [r["epoch"] for r in trainer.records() if r["kind"] == "epoch"] == [1, 2, 3]
    assert not at.exception


def test_reset_keeps_the_runs_data(at):
    trainer = _long_run(at)
    at.button(key="tr-pause").click().run()
    at.selectbox(key="tr-dataset").set_value("spiral").run()
    at.button(key="tr-reset").click().run()
    assert trainer.state == "idle" and trainer.dataset.name == "circle" and trainer.config.dataset == "circle"


def test_the_queue_message_counts_the_limiters_slots(at, monkeypatch):
    from engine.training import LIMITER

    monkeypatch.setattr(LIMITER, "slots", 0)  # nothing may train: the run waits in the queue
    configure(at, epochs=1)
    at.button(key="tr-start").click().run()
    at.run()
    assert runs(at)[-1].state == "queued"
    assert any("(0 runs train at once" in i.value for i in at.info)


def test_the_live_view_ticks_slowly_only_while_the_run_waits_for_a_slot(at, monkeypatch):
    from engine.training import LIMITER
    from ui.core import runs_ui

    monkeypatch.setattr(LIMITER, "slots", 0)
    configure(at, epochs=400)
    at.button(key="tr-start").click().run()
    trainer = runs(at)[-1].trainer
    assert trainer.state == "queued" and not runs_ui.trains_now(trainer)  # every 2 s: only the queue place moves
    monkeypatch.setattr(LIMITER, "slots", 1)  # a slot is free: about to run, so twice a second already
    assert runs_ui.trains_now(trainer)
    wait_for(at, ("running",))
    assert runs_ui.trains_now(trainer) and not at.exception
    at.button(key="tr-pause").click().run()
    assert not runs_ui.trains_now(wait_for(at, ("paused",)))


class _Run:
    """A stand-in trainer that counts heartbeats."""

    def __init__(self, state):
        self.state, self.beats = state, 0

    def heartbeat(self):
        self.beats += 1


def _any_page():
    from ui.core.page import state

    state()


def test_every_page_that_reads_the_session_beats_its_live_runs():
    live, ended, lab = _Run("paused"), _Run("stopped"), _Run("running")
    session = SessionState(spec=engine.network.presets.get("toy-mlp"))
    spec, config = session.spec, TrainConfig()
    session.book.add("train", live, spec, config)
    session.book.add("train", ended, spec, config)
    session.book.add("depth", lab, spec, config)
    app = AppTest.from_function(_any_page)
    app.session_state[KEY] = session
    app.run()
    app.run()
    assert not app.exception
    assert (live.beats, ended.beats, lab.beats) == (2, 0, 2)


def test_paused_adam_takes_new_betas(at):
    trainer = _long_run(at)
    at.button(key="tr-pause").click().run()
    wait_for(at, ("paused",))
    at.number_input(key="tr-beta1").set_value(0.8).run()
    assert "On Resume: Adam's betas 0.9, 0.999 → 0.8, 0.999" in _text(at)
    at.button(key="tr-resume").click().run()
    wait_for(at, ("running",))
    assert all(g["betas"] == (0.8, 0.999) for g in trainer.loop.optimizer.param_groups)
    assert not at.exception


def test_a_message_stays_through_the_rerun_the_live_view_asks_for(at):
    """The live view reruns the page itself when its runs end or start training: a message a click left (here:
    the first run stopped) must still be there then. It was popped by the click's own run and gone (the full
    suite caught this when a new run started training within the click's rerun)."""
    _long_run(at)
    at.button(key="tr-start").click().run()
    assert any("stopped first" in i.value for i in at.info)
    at.session_state[runs_ui.AGAIN] = True  # as the live view leaves it before its st.rerun()
    at.run()
    assert any("stopped first" in i.value for i in at.info), "gone after the live view's own rerun"
    assert not at.exception

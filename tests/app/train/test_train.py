"""Train page in AppTest: runs start, finish, stop, pause/step/resume, diverge, and compare; no thread is left."""
import time
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

import engine
from ui.core.session import SessionState

PAGE = str(Path(__file__).resolve().parents[3] / "views" / "3_Train.py")


@pytest.fixture
def at():
    app = AppTest.from_file(PAGE, default_timeout=60)
    app.session_state["playground"] = SessionState(spec=engine.network.presets.get("toy-mlp"))
    app.run()
    assert not app.exception
    yield app
    for run in app.session_state["playground"].book.runs:
        run.trainer.stop()
        assert run.trainer.thread is None or not run.trainer.thread.is_alive()


def runs(at):
    return at.session_state["playground"].book.of("train")


def wait_for(at, states, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()  # run_every never ticks in AppTest: each run() is one poll
        if runs(at)[-1].state in states:
            at.run()  # the state may have changed after that run drew the page: draw it once more in that state
            return runs(at)[-1].trainer
        time.sleep(0.2)
    raise AssertionError(f"run still {runs(at)[-1].state}")


def configure(at, dataset="circle", epochs=2, lr=None):
    at.selectbox(key="tr-dataset").set_value(dataset).run()
    at.number_input(key="tr-epochs").set_value(epochs)
    if lr is not None:
        at.number_input(key="tr-lr-adam").set_value(lr)
    at.run()


def test_page_renders_without_a_run(at):
    assert any("Start new run" in b.label for b in at.button)
    assert at.selectbox(key="tr-dataset").value == "circle"  # suggested for a 2-input network


def test_a_run_trains_to_the_end_and_shows_results(at):
    configure(at, epochs=3)
    at.button(key="tr-start").click().run()
    trainer = wait_for(at, ("finished",))
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert "Test accuracy" in metrics and float(metrics["Test accuracy"].rstrip("%")) > 50
    keys = {c.proto.id for c in at.get("plotly_chart")}
    assert keys  # loss, accuracy, gradient norms, decision boundary, confusion matrix
    records = trainer.records()
    assert [r["epoch"] for r in records if r["kind"] == "epoch"] == [1, 2, 3]
    assert not trainer.thread.is_alive()
    # The trained network is now the session's model, for the Inspect and Gradients pages.
    session = at.session_state["playground"]
    assert session.adopted == [1]
    trained = dict(session.model.state_dict())
    assert all(torch.equal(trained[k], v.cpu()) for k, v in trainer.model.state_dict().items())


def test_stop_pause_step_resume(at):
    configure(at, epochs=400)
    at.button(key="tr-start").click().run()
    trainer = wait_for(at, ("running",))
    at.button(key="tr-pause").click().run()
    trainer = wait_for(at, ("paused",))
    before = trainer.status.step
    at.button(key="tr-step").click().run()
    assert trainer.status.step == before + 1 and trainer.state == "paused"
    at.button(key="tr-resume").click().run()
    wait_for(at, ("running",))
    started = time.monotonic()
    at.button(key="tr-stop").click().run()
    assert trainer.state == "stopped" and time.monotonic() - started < 5
    assert not trainer.thread.is_alive()
    assert not at.exception


def test_the_live_charts_are_built_again_only_when_the_run_records_more(at):
    def live_specs():  # loss, accuracy, gradient norms, decision boundary (then the comparison's two)
        return [c.proto.spec for c in at.get("plotly_chart")][:4]

    configure(at, epochs=400)
    at.button(key="tr-start").click().run()
    wait_for(at, ("running",))
    at.button(key="tr-pause").click().run()
    wait_for(at, ("paused",))
    run = runs(at)[-1]
    kept, specs = run.figures[1], live_specs()
    assert list(kept) == ["loss", "acc", "grad", "boundary"]
    at.run()  # a tick with nothing new draws the kept figures again
    assert run.figures[1] is kept and live_specs() == specs
    at.button(key="tr-step").click().run()  # one more batch, recorded: every chart is built again
    assert run.figures[1] is not kept
    assert all(new != old for new, old in zip(live_specs(), specs))
    assert not at.exception


def test_divergence_is_reported_with_a_hint(at):
    # A ReLU net (a tanh one saturates and its loss stays finite even at this rate).
    relu = engine.ModelSpec.from_dict({"input": [2], "layers": [
        {"type": "Linear", "out_features": 16}, {"type": "ReLU"}, {"type": "Linear", "out_features": 16},
        {"type": "ReLU"}, {"type": "Linear", "out_features": 2}]})
    at.session_state["playground"].set_spec(relu)
    configure(at, epochs=5)
    at.selectbox(key="tr-opt").set_value("sgd").run()
    at.number_input(key="tr-lr-sgd").set_value(1e6).run()
    at.button(key="tr-start").click().run()
    trainer = wait_for(at, ("diverged",))
    message = " ".join(e.value for e in at.error)
    assert "learning rate" in message
    assert all(bool(t.isfinite().all()) for t in trainer.model.state_dict().values())  # last good weights kept
    assert not at.exception


def test_two_runs_are_compared(at):
    configure(at, epochs=1)
    at.button(key="tr-start").click().run()
    wait_for(at, ("finished",))
    at.selectbox(key="tr-init").set_value("he").run()
    at.button(key="tr-start").click().run()
    wait_for(at, ("finished",))
    assert len(runs(at)) == 2
    assert len(at.multiselect(key="tr-compare").value) == 2
    table = at.dataframe[0].value
    assert list(table["init"]) == ["default", "he"]
    at.selectbox(key="tr-run-pick").set_value(runs(at)[0].label)
    at.button(key="tr-delete").click().run()
    assert len(runs(at)) == 1 and not at.exception


def test_an_invalid_network_is_explained_not_trained(at):
    bad = engine.ModelSpec.from_dict({"input": [2], "layers": [{"type": "Conv2d", "out_channels": 2,
                                                                 "kernel_size": 3}]})
    at.session_state["playground"].set_spec(bad)
    at.run()
    assert any("invalid" in e.value for e in at.error)
    at.button(key="tr-start").click().run()
    assert any("Cannot start" in e.value for e in at.error) and not runs(at)
    assert not at.exception


def test_a_dataset_brings_settings_that_learn(at):
    assert at.number_input(key="tr-epochs").value == 50  # circle: a toy set needs more epochs and a larger rate
    at.selectbox(key="tr-dataset").set_value("xo").run()
    assert at.number_input(key="tr-epochs").value == 30
    assert at.number_input(key="tr-lr-adam").value == pytest.approx(0.01)
    at.number_input(key="tr-epochs").set_value(7).run()  # the student's choice stands until the data changes
    assert at.number_input(key="tr-epochs").value == 7

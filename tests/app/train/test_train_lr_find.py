"""The Train page's learning-rate range test in AppTest: it runs on a copy, draws the curve and the suggestion, "Use
this η" reaches the learning-rate widget and the next run; the one-run rule and the server's slots apply."""
import time

import pytest
import torch

from streamlit.testing.v1 import AppTest

from engine.training import LIMITER
from tests.app.train.test_train import at, configure, runs, wait_for  # noqa: F401 - the page fixture and helpers
from tests.app.train.test_train_autoencoder import stop_all
from tests.app.train.test_train_dataset_follows import APP, _load_preset
from ui.core import database, workspace
from ui.core.session import KEY
from ui.train import lr_find
from ui.train.settings import row

LOWEST = row("lr").lo  # the learning-rate box's smallest rate: a smaller pick is set to it
STEPS = 30  # fewer rates than the page's 100: fast, still enough for a curve with a minimum


@pytest.fixture(autouse=True)
def few_steps(monkeypatch):
    monkeypatch.setattr(lr_find, "STEPS", STEPS)


def _job(at):
    return at.session_state["playground"].extras.get("train", {}).get(lr_find.KEY)


def _finish(at, timeout=60):
    """Poll the page (run_every never ticks in AppTest) until the range test has ended, then draw it once more."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        if _job(at) is not None and not _job(at).live:
            at.run()
            return _job(at)
        time.sleep(0.1)
    raise AssertionError("the range test did not end in time")


def _text(at) -> str:
    return " ".join(e.value for e in [*at.caption, *at.info, *at.warning, *at.error, *at.markdown])


def test_the_range_test_draws_its_curve_and_leaves_the_session_alone(at):
    configure(at)
    session = at.session_state["playground"]
    model = session.get_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    spec, version = session.spec, session.version
    at.button(key="tr-lrf-start").click().run()
    job = _finish(at)
    assert job.state == "done" and not job.thread.is_alive()
    result = job.result
    assert 2 <= len(result.lrs) <= STEPS and len(result.losses) == len(result.smoothed) == len(result.lrs)
    assert at.get("plotly_chart") and not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Suggested η (steepest descent)"] == f"{result.suggestion:.3g}"
    assert metrics["Minimum / 10"] == f"{result.min_tenth:.3g}"
    assert "falls fastest" in _text(at) and result.stopped in _text(at)
    # Nothing of the student's changed: no run, the same network, model object and weights.
    assert runs(at) == [] and session.spec is spec and session.version == version
    assert session.model is model
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_same_seed_same_curve(at):
    configure(at)
    at.button(key="tr-lrf-start").click().run()
    first = _finish(at).result
    at.button(key="tr-lrf-start").click().run()
    second = _finish(at)
    assert second.result is not first
    assert (second.result.lrs, second.result.losses) == (first.lrs, first.losses)


def test_use_this_rate_sets_the_widget_and_the_next_run(at):
    configure(at)
    at.button(key="tr-lrf-start").click().run()
    result = _finish(at).result
    before = at.number_input(key="tr-lr-adam").value
    assert before != pytest.approx(max(result.suggestion, LOWEST))  # the button has something to change
    at.button(key="tr-lrf-use").click().run()
    assert at.number_input(key="tr-lr-adam").value == pytest.approx(max(result.suggestion, LOWEST))
    saved = at.session_state["playground"].settings["train"]  # the TrainConfig the page built
    assert saved["lr"] == pytest.approx(max(result.suggestion, LOWEST))
    at.selectbox(key="tr-opt").set_value("sgd").run()  # another optimiser meanwhile: the found rate is Adam's
    at.button(key="tr-lrf-use-min").click().run()
    assert at.selectbox(key="tr-opt").value == "adam"
    assert at.number_input(key="tr-lr-adam").value == pytest.approx(max(result.min_tenth, LOWEST))
    at.button(key="tr-start").click().run()
    trainer = wait_for(at, ("finished",))
    assert trainer.config.learning_rate == pytest.approx(max(result.min_tenth, LOWEST))


def test_refused_while_a_run_is_live(at):
    configure(at, epochs=400)
    at.button(key="tr-start").click().run()
    trainer = wait_for(at, ("running",))
    at.button(key="tr-lrf-start").click().run()
    assert _job(at) is None
    assert any("still live" in e.value and f"#{runs(at)[0].number}" in e.value for e in at.error)
    assert trainer.state == "running"  # the run goes on
    trainer.stop()


def test_a_queued_range_test_blocks_a_new_run_and_can_be_cancelled(at):
    configure(at)
    taken = [-10_000 - i for i in range(LIMITER.slots)]
    for token in taken:  # every training slot of the server busy: the test waits in the queue
        assert LIMITER.acquire(token, lambda: False)
    try:
        at.button(key="tr-lrf-start").click().run()
        at.run()
        job = _job(at)
        assert job.state == "queued" and "queued: place 1" in " ".join(p.proto.text for p in at.get("progress"))
        at.button(key="tr-start").click().run()
        assert runs(at) == [] and any("range test is still running" in e.value for e in at.error)
        at.button(key="tr-lrf-cancel").click().run()
        job.thread.join(5)
        assert job.state == "cancelled" and not job.thread.is_alive()
    finally:
        for token in taken:
            LIMITER.release(token)


def test_a_test_nobody_polls_cancels_itself(at, monkeypatch):
    """A closed tab stops polling: the test ends on its own instead of outliving the session."""
    configure(at)
    monkeypatch.setattr(lr_find, "HEARTBEAT_TIMEOUT", 0.3)
    taken = [-20_000 - i for i in range(LIMITER.slots)]
    for token in taken:  # it waits for a slot, so that it is still live when the page goes quiet
        assert LIMITER.acquire(token, lambda: False)
    try:
        at.button(key="tr-lrf-start").click().run()
        job = _job(at)
        job.thread.join(10)  # no more polls from here on
        assert job.state == "cancelled" and not job.thread.is_alive()
    finally:
        for token in taken:
            LIMITER.release(token)


def test_a_diverging_network_says_so(at, monkeypatch):
    monkeypatch.setattr(lr_find, "STEPS", 100)  # rates close enough together that the loss turns NaN before 4×
    configure(at, dataset="sine")
    at.selectbox(key="tr-opt").set_value("momentum").run()  # SGD with momentum on a regression: blows up by η ≈ 1.5
    at.button(key="tr-lrf-start").click().run()
    job = _finish(at)
    assert job.result.diverged and job.result.usable  # NaN at η ≈ 1.5, past a curve with its minimum
    assert not at.warning and any("diverged" in c.value for c in at.caption)


def test_a_network_that_diverges_before_its_loss_falls_is_warned_about(at, monkeypatch):
    monkeypatch.setattr(lr_find, "START", 5.0)  # far too large from the first step: no curve worth reading
    monkeypatch.setattr(lr_find, "END", 1000.0)
    configure(at, dataset="sine")
    at.selectbox(key="tr-opt").set_value("momentum").run()
    at.button(key="tr-lrf-start").click().run()
    job = _finish(at)
    assert job.result.diverged and not job.result.usable
    assert any("diverged" in w.value and "smaller rate" in w.value for w in at.warning)


def test_the_expected_end_is_a_caption_not_a_warning(at, monkeypatch):
    """The smoothed loss passing 4× its best is how the test normally ends: said plainly, no warning."""
    monkeypatch.setattr(lr_find, "STEPS", 100)  # the page's own count: the rates reach far enough to blow up
    configure(at)
    at.selectbox(key="tr-opt").set_value("momentum").run()  # toy-mlp on circle: past 4× its best at η = 10
    at.button(key="tr-lrf-start").click().run()
    result = _finish(at).result
    assert "4×" in result.stopped and not result.diverged  # the usual end, not a divergence
    assert not at.warning
    assert any(result.stopped in c.value for c in at.caption)


def test_the_last_result_is_kept_with_the_workspace_and_drawn_again_after_a_reload():
    """A reload (or a second tab) starts a new session: the range test's curve, picks and buttons come back from
    the workspace; before, they were in the session only and a reload lost them."""
    at = AppTest.from_file(APP, default_timeout=90).run()
    again = None
    try:
        _load_preset(at, "toy-mlp")
        at.switch_page("views/3_Train.py").run()
        at.button(key="tr-lrf-start").click().run()
        while _job(at).live:  # no further run once the page has drawn the end: a reload right after it
            time.sleep(0.1)
            at.run()
        result = _job(at).result
        assert database.services()[1].flush(30)
        again = AppTest.from_file(APP, default_timeout=90)
        again.query_params[workspace.PARAM] = at.session_state[KEY].token
        again.run()
        again.switch_page("views/3_Train.py").run()
        assert _job(again) is None and not again.exception
        metrics = {m.label: m.value for m in again.metric}
        assert metrics["Suggested η (steepest descent)"] == f"{result.suggestion:.3g}"
        assert metrics["Minimum / 10"] == f"{result.min_tenth:.3g}"
        assert again.get("plotly_chart") and result.stopped in _text(again)
        assert "kept with your workspace: network **toy-mlp** on **circle** with adam" in _text(again)
        again.button(key="tr-lrf-use").click().run()
        assert again.number_input(key="tr-lr-adam").value == pytest.approx(max(result.suggestion, LOWEST))
    finally:
        stop_all(at)
        if again is not None:
            stop_all(again)


def test_a_kept_result_that_cannot_be_read_says_so_and_the_page_works(at):
    at.session_state["playground"].settings[lr_find.SAVED] = {"result": {"lrs": "not a curve"}, "optimizer": "adam"}
    at.run()
    assert not at.exception and "could not be read" in _text(at) and "run it again" in _text(at)
    at.session_state["playground"].settings[lr_find.SAVED] = {"result": {}, "optimizer": ["adam"]}
    at.run()
    assert not at.exception and "optimiser is not one the playground has" in _text(at)
    configure(at)
    at.button(key="tr-lrf-start").click().run()
    assert _finish(at).state == "done" and "could not be read" not in _text(at)


def test_a_kept_result_is_shown_as_text_and_a_new_test_replaces_it_even_when_it_fails(at, monkeypatch):
    """Stored data may come from an imported file: its ending is shown as text (no link), and the kept result is
    the last test's: a test that fails leaves none, rather than the one before it under "the last range test"."""
    configure(at)
    at.button(key="tr-lrf-start").click().run()
    _finish(at)
    kept = dict(at.session_state["playground"].settings[lr_find.SAVED])
    kept["result"] = dict(kept["result"], stopped="see [here](http://example.com)")
    at.session_state["playground"].settings[lr_find.SAVED] = kept
    at.session_state["playground"].extras["train"].pop(lr_find.KEY)  # a new session: the kept result only
    at.run()
    assert "\\[here\\]" in _text(at) and "[here](http" not in _text(at)
    monkeypatch.setattr(lr_find.diagnostics, "lr_find", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    at.button(key="tr-lrf-start").click().run()
    assert _finish(at).state == "failed" and lr_find.SAVED not in at.session_state["playground"].settings

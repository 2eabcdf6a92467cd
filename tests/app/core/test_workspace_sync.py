"""What one tab shows is what another tab opening the same workspace finds, with no further click in the first:
a network opened from a ``?net=`` link, the model a run trained to its end, and a teacher's push."""
import time
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

import engine
from engine import workspace as store_mod
from engine.training import TERMINAL
from tests.app.train.test_train import configure, runs, wait_for
from ui.core import database, pushes, workspace
from ui.core.session import KEY

ROOT = Path(__file__).resolve().parents[3]
BUILD = str(ROOT / "views" / "1_Build.py")
TRAIN = str(ROOT / "views" / "3_Train.py")
INSPECT = str(ROOT / "views" / "4_Inspect.py")


def _page(path: str, **params) -> AppTest:
    at = AppTest.from_file(path, default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception
    return at


def _stop_all(*pages) -> None:
    for at in pages:
        for run in at.session_state[KEY].book.runs:
            run.trainer.stop()


@pytest.mark.parametrize("existing", [False, True], ids=["new-workspace", "existing-workspace"])
def test_a_network_opened_from_a_link_is_saved_by_the_run_that_shows_it(existing):
    params = {}
    if existing:  # a workspace that already holds another network opens the link
        params[workspace.PARAM] = _page(TRAIN).session_state[KEY].token
        assert database.services()[1].flush(30)
    build = _page(BUILD, net="p.xo-cnn", **params)
    token = build.session_state[KEY].token
    assert build.session_state[KEY].spec == engine.network.presets.get("xo-cnn")
    # No further run of the Build page: a second tab (a new session) opens the workspace.
    train = _page(TRAIN, **{workspace.PARAM: token})
    assert train.session_state[KEY].spec == engine.network.presets.get("xo-cnn")
    assert database.services()[1].flush(30)
    assert store_mod.get_store().open(token).spec == engine.network.presets.get("xo-cnn").to_dict()


def test_a_run_trained_to_its_end_is_the_model_another_tab_opens_without_a_click():
    at = _page(TRAIN)
    at.session_state[KEY].set_spec(engine.network.presets.get("toy-mlp"))
    configure(at, epochs=2)
    at.button(key="tr-start").click().run()
    run = runs(at)[-1]
    try:
        deadline = time.monotonic() + 60
        while run.live and time.monotonic() < deadline:  # no rerun of the page: the tab is left alone
            time.sleep(0.2)
        assert run.state in TERMINAL
        assert database.services()[1].flush(30)
        inspect = _page(INSPECT, **{workspace.PARAM: at.session_state[KEY].token})
        session = inspect.session_state[KEY]
        assert session.trained and session.adopted == [run.number]
        assert not any("untrained" in i.value for i in inspect.info)
        x = run.trainer.dataset.x_test
        with torch.no_grad():  # the trained weights, checked against the run's own model in PyTorch
            assert torch.allclose(session.get_model()(x), run.trainer.model.eval()(x), atol=1e-6)
        config = run.config
        assert session.dataset == {"name": "circle", "seed": config.seed, "options": dict(config.dataset_options)}
        # The first tab's next rerun adopts the same model: nothing is lost or doubled.
        at.run()
        assert at.session_state[KEY].adopted == [run.number] and not at.exception
    finally:
        _stop_all(at)


def _student(monkeypatch):
    """A Train page of a class member on toy-mlp, and the class's teacher token."""
    monkeypatch.setattr(pushes, "PUSH_POLL", 0.0)
    at = _page(TRAIN)
    at.session_state[KEY].set_spec(engine.network.presets.get("toy-mlp"))
    configure(at, epochs=300)
    teacher, code = workspace.create_class("Week 4")
    workspace.join_class(at.session_state[KEY], code, "Ada")
    at.run()
    return at, teacher


def test_a_push_waits_for_the_students_live_run_and_applies_on_request(monkeypatch):
    at, teacher = _student(monkeypatch)
    try:
        at.button(key="tr-start").click().run()
        wait_for(at, ("running",))
        pushed = engine.network.presets.get("xo-cnn")
        store_mod.get_store().push(teacher, pushed.to_dict(), None)
        at.run()  # a poll while the run trains: nothing changes, the student is asked
        session = at.session_state[KEY]
        assert session.spec == engine.network.presets.get("toy-mlp") and runs(at)[-1].live
        assert any("xo-cnn" in w.value and "has not ended" in w.value for w in at.warning)
        at.run()  # asked once more on later polls, still not applied
        assert session.spec == engine.network.presets.get("toy-mlp") and runs(at)[-1].live
        at.button(key="ws-take-push").click().run()
        assert session.spec == pushed and not at.exception
        assert [r.state for r in runs(at)] == ["stopped"]  # the run is kept, stopped
        assert any("xo-cnn" in i.value for i in at.info)
        assert not [b for b in at.button if b.key == "ws-take-push"]
    finally:
        _stop_all(at)


def test_a_push_to_an_idle_page_applies_with_a_notice_of_what_changed(monkeypatch):
    at, teacher = _student(monkeypatch)
    pushed = engine.network.presets.get("xo-cnn")
    store_mod.get_store().push(teacher, pushed.to_dict(), {"train": {"dataset": "xo", "epochs": 7}})
    at.run()
    assert at.session_state[KEY].spec == pushed and not at.exception
    notice = " ".join(i.value for i in at.info)
    assert "xo-cnn" in notice and "toy-mlp" in notice  # what it is now, and what it was
    assert "dataset circle → xo" in notice and "epochs 300 → 7" in notice
    assert at.selectbox(key="tr-dataset").value == "xo" and at.number_input(key="tr-epochs").value == 7


def test_a_push_notice_shows_names_as_text_and_counts_long_changes():
    notice = pushes.push_notice("my *net*", "[click](http://x)", [f"setting {i} 0 → 1" for i in range(9)], True)
    assert "\\[click\\]" in notice and "my \\*net\\*" in notice  # markdown shown as the text it is
    assert "setting 5 0 → 1" in notice and "setting 6" not in notice and "and 3 more." in notice
    assert pushes.settings_changes({"dataset": "circle", "epochs": 5}, {"dataset": "circle", "epochs": 5}) == []


def test_a_held_back_push_is_described_as_it_is():
    from types import SimpleNamespace as NS

    def session(*numbers):
        return NS(book=NS(live=lambda: [NS(number=n) for n in numbers]))

    bare = NS(spec={"name": "xo-cnn"}, settings={"train": None})
    text = pushes.offer_text(session(4, 5, 6), bare)
    assert "training settings" not in text and "runs #4, #5, #6 have not ended" in text
    assert "stops your runs (they stay in your runs with what they learnt)" in text
    text = pushes.offer_text(session(4), NS(spec={"name": "xo-cnn"}, settings={"train": {"epochs": 3}}))
    assert "xo-cnn, with training settings" in text and "run #4 has not ended" in text
    assert "stops your run (it stays" in text
    assert "training settings" not in pushes.offer_text(session(), bare)


def test_a_push_accepted_while_saving_is_off_still_opens(monkeypatch):
    from types import SimpleNamespace as NS

    from ui.core.session import SessionState

    monkeypatch.setattr(database, "services", lambda: (None, None))  # the database cannot be reached
    s = SessionState(spec=engine.network.presets.get("toy-mlp"))
    pushed = engine.network.presets.get("xo-cnn")
    s.extras["push_offer"] = NS(version=3, spec=pushed.to_dict(), settings=None)
    pushes.accept_push(s)
    assert s.spec == pushed and s.pushed_version == 3 and pushes.offered_push(s) is None
    assert "xo-cnn" in s.notice

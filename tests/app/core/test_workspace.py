"""Workspaces through the pages in AppTest: every page names its workspace in the address; a new session opened
with that token gets the network, the settings, the finished runs (results and weights) and the model back; bad
tokens, snapshots, the database going away and a teacher's push each get a clear message."""
import time
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

import engine
from engine import workspace as store_mod
from engine.training import SavedRun, evaluate
from tests.app.train.test_train import configure, runs, wait_for
from ui.core import database, pushes, saved_runs, workspace
from ui.core.session import KEY

ROOT = Path(__file__).resolve().parents[3]
TRAIN = str(ROOT / "views" / "3_Train.py")
INSPECT = str(ROOT / "views" / "4_Inspect.py")


def _page(path: str, token: str | None = None) -> AppTest:
    at = AppTest.from_file(path, default_timeout=60)
    if token is not None:
        at.query_params[workspace.PARAM] = token
    at.run()
    assert not at.exception
    return at


def _flusher():
    return database.services()[1]


@pytest.fixture
def trained():
    """A Train page that has trained toy-mlp on circle to the end; its workspace written out."""
    at = AppTest.from_file(TRAIN, default_timeout=60)
    at.run()
    at.session_state[KEY].set_spec(engine.network.presets.get("toy-mlp"))
    configure(at, epochs=2)
    at.button(key="tr-start").click().run()
    wait_for(at, ("finished",))
    assert not at.exception
    assert _flusher().flush(30)
    yield at
    for run in at.session_state[KEY].book.runs:
        run.trainer.stop()


def test_every_page_names_its_workspace_in_the_address():
    for script in ("app.py", "views/1_Build.py", "views/2_Convolution.py", "views/3_Train.py",
                   "views/4_Inspect.py", "views/5_Gradients.py", "views/6_Class.py", "views/7_Lessons.py"):
        at = _page(str(ROOT / script))
        token = at.query_params[workspace.PARAM]
        assert isinstance(token, list) and len(token[0]) >= 32 or len(token) >= 32, script
        assert at.session_state[KEY].token in (token, token[0] if isinstance(token, list) else None)


def test_a_new_session_with_the_token_gets_everything_back(trained):
    session = trained.session_state[KEY]
    run = runs(trained)[-1]
    token, accuracy = session.token, run.results["accuracy"]
    again = _page(TRAIN, token)  # a reload: a new Streamlit session, the same address
    restored = again.session_state[KEY]
    assert restored.spec == session.spec and restored.token == token
    (saved,) = runs(again)
    assert isinstance(saved.trainer, SavedRun) and saved.state == "finished" and saved.label == run.label
    assert saved.trainer.records() == run.trainer.records()
    assert saved.results["accuracy"] == accuracy
    metrics = {m.label: m.value for m in again.metric}
    assert metrics["Test accuracy"] == f"{100 * accuracy:.1f}%"
    # The weights came back too: the rebuilt model computes what the trained one did, on PyTorch's own terms.
    x = run.trainer.dataset.x_test
    with torch.no_grad():
        assert torch.allclose(saved.trainer.model(x), run.trainer.model.eval()(x), atol=1e-6)
    assert evaluate(saved.trainer.model, saved.trainer.dataset, "test")["accuracy"] == accuracy
    # The run's network was adopted: the new session's model is the trained one, for Inspect.
    assert restored.trained and restored.adopted == [run.number]
    with torch.no_grad():
        assert torch.allclose(restored.get_model()(x), run.trainer.model.eval()(x), atol=1e-6)
    inspect = _page(INSPECT, token)
    assert inspect.session_state[KEY].trained and not inspect.exception


def test_the_train_settings_come_back_in_their_widgets(trained):
    trained.number_input(key="tr-batch").set_value(16).run()
    trained.selectbox(key="tr-opt").set_value("sgd").run()
    assert _flusher().flush(30)
    again = _page(TRAIN, trained.session_state[KEY].token)
    assert again.number_input(key="tr-batch").value == 16
    assert again.selectbox(key="tr-opt").value == "sgd"
    assert again.number_input(key="tr-epochs").value == 2


def test_a_bad_or_unknown_token_opens_a_new_workspace_with_a_message():
    for token in ("short", "x" * 500, "A" * 32 + "!?", store_mod.Store.__name__ * 4):
        at = _page(TRAIN, token)
        session = at.session_state[KEY]
        assert session.token != token and not at.exception
        assert any("new, empty workspace" in i.value for i in at.info), token


def test_a_snapshot_opens_read_only_and_copies(trained):
    session = trained.session_state[KEY]
    snapshot = workspace.share(session)
    viewer = _page(TRAIN, snapshot)
    assert viewer.session_state[KEY].read_only
    assert any("read-only snapshot" in w.value for w in viewer.sidebar.warning)
    assert len(runs(viewer)) == 1 and runs(viewer)[0].results is not None
    viewer.session_state[KEY].set_spec(engine.network.presets.get("xo-cnn"))  # a change is never saved
    viewer.run()
    assert store_mod.get_store().open(snapshot).spec == session.spec.to_dict()
    viewer.sidebar.button(key="ws-copy").click().run()
    copy = viewer.session_state[KEY]
    assert not copy.read_only and copy.token not in (snapshot, session.token) and not viewer.exception
    assert len(runs(viewer)) == 1


def test_the_database_going_away_keeps_the_page_working(monkeypatch):
    def down(*args, **kwargs):
        raise store_mod.StoreUnavailable("the database is locked")

    monkeypatch.setattr(database, "_services", down)
    at = _page(TRAIN)
    assert not at.exception and at.session_state[KEY].token is None
    assert any("Saving is off" in w.value for w in at.sidebar.warning)
    assert at.button(key="tr-start")  # the page works in memory


def test_a_teachers_push_opens_in_the_students_workspace(trained, monkeypatch):
    monkeypatch.setattr(pushes, "PUSH_POLL", 0.0)
    session = trained.session_state[KEY]
    teacher, code = workspace.create_class("Week 3")
    workspace.join_class(session, code, "Ada")
    pushed = engine.network.presets.get("xo-cnn")
    settings = dict(session.settings)
    settings["train"] = dict(settings["train"], dataset="xo", epochs=7)
    store_mod.get_store().push(teacher, pushed.to_dict(), settings)
    again = _page(TRAIN, session.token)
    assert again.session_state[KEY].spec == pushed
    assert again.selectbox(key="tr-dataset").value == "xo" and again.number_input(key="tr-epochs").value == 7
    assert any("teacher" in i.value for i in again.info)
    assert again.session_state[KEY].settings["train_chosen"] is True  # saved: a reload keeps xo while it fits
    view = store_mod.get_store().class_view(teacher, None)
    assert [m.display_name for m in view.members] == ["Ada"]
    # A student whose page is open takes the next push on its next rerun or tick, without a reload.
    second = engine.network.presets.get("deep-mlp")
    store_mod.get_store().push(teacher, second.to_dict(), settings)
    again.run()
    assert again.session_state[KEY].spec == second and not again.exception
    again.run()
    assert again.selectbox(key="tr-dataset").value == "xo"  # the teacher's dataset, which fits deep-mlp, is kept


def test_a_run_cut_off_by_a_restart_comes_back_interrupted_and_resumes(monkeypatch):
    """The server stops mid-run (here: its process forgets the run): the reopened workspace shows the run as
    interrupted with its records, and Resume trains on from the last checkpoint's step."""
    monkeypatch.setattr(saved_runs, "CHECKPOINT_EVERY", 0.0)
    at = AppTest.from_file(TRAIN, default_timeout=60)
    at.run()
    session = at.session_state[KEY]
    session.set_spec(engine.network.presets.get("toy-mlp"))
    configure(at, epochs=400)
    at.button(key="tr-start").click().run()
    wait_for(at, ("running",))
    run = runs(at)[-1]
    flusher = _flusher()
    time.sleep(1.5)
    assert flusher.flush(30)
    flusher.unwatch(session.token, run.number)  # as if this process had died: nothing saves the run any more
    saved_runs._live.clear()
    run.trainer.stop()
    store = store_mod.get_store()
    monkeypatch.setattr(store, "interrupt_after", 0.0)
    again = _page(TRAIN, session.token)
    (cut,) = runs(again)
    assert cut.state == "interrupted" and cut.trainer.resumable and cut.trainer.record_count > 0
    step = cut.trainer.checkpoint().step
    assert step > 0 and not again.button(key="tr-resume").disabled
    again.button(key="tr-resume").click().run()
    resumed = runs(again)[-1].trainer
    assert resumed.state in ("queued", "running") and resumed.status.step >= step and not again.exception
    resumed.stop()


def test_a_workspace_file_with_an_oversized_manifest_is_refused_in_the_sidebar(monkeypatch):
    import io
    import zipfile

    from engine import limits

    monkeypatch.setattr(limits, "MAX_MANIFEST_BYTES", 8_000)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("workspace.json", '{"format": "nn-playground-workspace", "notes": "' + "ab" * 10_000 + '"}')
    at = _page(str(ROOT / "views" / "1_Build.py"))
    token, spec = at.session_state[KEY].token, at.session_state[KEY].spec
    at.file_uploader(key="ws-upload").upload("workspace.zip", out.getvalue(), "application/zip").run()
    at.button(key="ws-open").click().run()
    assert not at.exception
    shown = " ".join(e.value for e in at.error)
    assert "Cannot open this file" in shown and "PLAYGROUND_MAX_MANIFEST_BYTES" in shown, shown
    assert at.session_state[KEY].token == token and at.session_state[KEY].spec == spec  # the work is kept


def test_a_student_leaves_their_class_from_the_sidebar():
    teacher, code = workspace.create_class("Week 4")
    at = _page(INSPECT)
    token = at.session_state[KEY].token
    store_mod.get_store().join_class(code, "Ada", token)
    at = _page(INSPECT, token)
    assert at.session_state[KEY].class_name == "Week 4"
    at.button(key="ws-leave").click().run()
    assert not at.exception
    assert at.session_state[KEY].class_name is None and at.session_state[KEY].display_name is None
    assert store_mod.get_store().open(token).class_name is None
    assert store_mod.get_store().class_view(teacher).members == []
    at.text_input(key="ws-join-code")  # the join panel is back: they may join a class again


def test_a_removed_students_open_page_learns_it_without_a_reload(monkeypatch):
    monkeypatch.setattr(pushes, "PUSH_POLL", 0.0)
    teacher, code = workspace.create_class("Week 5")
    at = _page(INSPECT)
    token = at.session_state[KEY].token
    store_mod.get_store().join_class(code, "Ada", token)
    at = _page(INSPECT, token)
    assert at.session_state[KEY].class_name == "Week 5"
    key = store_mod.get_store().class_view(teacher).member_keys[0]
    store_mod.get_store().remove_member(teacher, key)
    at.run()  # the push watch's next tick
    assert not at.exception
    assert at.session_state[KEY].class_name is None
    assert any("no longer in the class" in i.value for i in at.info)
    at.text_input(key="ws-join-code")  # free to join again

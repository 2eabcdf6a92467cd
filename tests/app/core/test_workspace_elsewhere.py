"""A run another server trains (a replica behind the balancer) opens on the Train page as training there: its
records shown, no Resume or Reset that would train it a second time here and overwrite it, and never written."""
from pathlib import Path

from streamlit.testing.v1 import AppTest

import engine
from engine import workspace as store_mod
from engine.training import RunLimiter, TrainConfig, Trainer
from engine.workspace import RunRecord
from tests.app.train.test_train import runs
from ui.core import workspace

ROOT = Path(__file__).resolve().parents[3]
TRAIN = str(ROOT / "views" / "3_Train.py")


def _checkpointed(spec, config) -> RunRecord:
    """Run 1 as another server flushes it while it trains: live, with records and a checkpoint."""
    trainer = Trainer(spec, config, dataset=engine.data.load("circle", seed=0), limiter=RunLimiter(1))
    for _ in range(3):
        assert trainer.step() is not None
    checkpoint = trainer.checkpoint()
    return RunRecord(1, label="#1 toy-mlp", spec=trainer.spec.to_dict(), config=config.to_dict(), state="running",
                     records=trainer.records(), weights=checkpoint.weights, optimizer=checkpoint.state_blob())


def _elsewhere_workspace():
    """A workspace whose run 1 server "replica-a" is training, and the Train page opened on it here."""
    store = store_mod.get_store()
    spec = engine.network.presets.get("toy-mlp")
    config = TrainConfig(dataset="circle", epochs=400, batch_size=32, device="cpu", seed=0)
    token = store.create(spec=spec.to_dict())
    original = getattr(store, "server_id", None)  # None until the app first ran
    store.server_id = "replica-a:8501"  # written as that server's
    try:
        store.save_run(token, _checkpointed(spec, config))
    finally:
        store.server_id = original
    at = AppTest.from_file(TRAIN, default_timeout=60)
    at.query_params[workspace.PARAM] = token
    at.run()
    assert not at.exception, at.exception
    return store, token, at


def test_a_run_another_server_trains_is_shown_without_resume_or_reset():
    store, token, at = _elsewhere_workspace()
    before = store.open(token).runs[0]
    (shown,) = runs(at)
    assert at.button(key="tr-resume").disabled and at.button(key="tr-reset").disabled
    assert shown.trainer.elsewhere and shown.trainer.record_count == len(before.records)
    assert any("training on another server" in i.value and "reload" in i.value for i in at.info), \
        "the page says where it trains and how to follow it"
    at.run()  # a rerun saves what changed: never this run
    store_mod.get_flusher().flush(30)
    after = store.open(token).runs[0]
    assert (after.state, after.server, after.updated_at) == ("running", "replica-a:8501", before.updated_at)


def _still_there(store, token) -> None:
    store_mod.get_flusher().flush(30)
    assert store_mod.get_flusher().error_for(token) is None  # no delete was even sent
    stored = store.open(token).runs[0]
    assert (stored.number, stored.state, stored.server) == (1, "running", "replica-a:8501")


def test_delete_refuses_a_run_another_server_trains():
    store, token, at = _elsewhere_workspace()
    at.selectbox(key="tr-run-pick").set_value(runs(at)[0].label)
    at.button(key="tr-delete").click().run()
    assert not at.exception, at.exception
    assert [r.number for r in runs(at)] == [1]  # kept on the page
    assert any("Run 1 is training on another server" in e.value and "not deleted" in e.value for e in at.error)
    _still_there(store, token)


def test_the_run_count_cap_keeps_a_run_another_server_trains(monkeypatch):
    """Start over PLAYGROUND_MAX_RUNS_KEPT deletes the oldest run, but never one another server trains."""
    monkeypatch.setattr(engine.limits, "MAX_RUNS_KEPT", 1)
    store, token, at = _elsewhere_workspace()
    at.number_input(key="tr-epochs").set_value(1).run()  # it may end within the click's rerun: the message stays
    at.button(key="tr-start").click().run()
    assert not at.exception, at.exception
    assert not any("delete" in w.value for w in at.warning)  # nothing to confirm: run 1 is not for deleting
    assert [r.number for r in runs(at)] == [1, 2]
    assert any("Run #1 is training on another server" in i.value and "kept" in i.value for i in at.info), \
        ([i.value for i in at.info], runs(at)[1].state)
    for run in runs(at):
        run.trainer.stop()
    _still_there(store, token)

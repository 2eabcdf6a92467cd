"""Issue 17 #6: Start keeps PLAYGROUND_MAX_RUNS_KEPT runs of the session, but never deletes a stored run without
asking first, and never an imported one (imported runs count against the workspace's cap, which the file was
accepted under)."""
from pathlib import Path

from streamlit.testing.v1 import AppTest

import engine
from engine import workspace as store_mod
from engine.training import TrainConfig
from engine.workspace import RunRecord, files
from tests.app.train.test_train import configure, runs
from ui.core import workspace

ROOT = Path(__file__).resolve().parents[3]
TRAIN = str(ROOT / "views" / "3_Train.py")
SPEC = engine.network.presets.get("toy-mlp")


def _run(number: int) -> RunRecord:
    config = TrainConfig(dataset="circle", epochs=2, device="cpu", seed=0)
    return RunRecord(number, label=f"#{number} stored", spec=SPEC.to_dict(), config=config.to_dict(), state="finished",
                     records=[{"kind": "epoch", "epoch": 1, "step": 7, "train_loss": 0.5}],
                     results={"loss": 0.3, "accuracy": 0.9})


def _train(token: str) -> AppTest:
    at = AppTest.from_file(TRAIN, default_timeout=60)
    at.query_params[workspace.PARAM] = token
    at.run()
    assert not at.exception, at.exception
    configure(at)
    return at


def _stop(at):
    for run in runs(at):
        run.trainer.stop()


def test_start_never_deletes_imported_runs():
    """20 imported runs, one Start: 9 of them were deleted for good, without a word."""
    token = store_mod.get_store().import_zip(files.write(files.WorkspaceFile(
        spec=SPEC.to_dict(), runs=[_run(n) for n in range(1, 21)])))
    at = _train(token)
    assert [r.number for r in runs(at)] == list(range(1, 21))
    at.button(key="tr-start").click().run()
    assert not at.exception, at.exception
    assert [r.number for r in runs(at)] == list(range(1, 22))
    _stop(at)


def test_start_asks_before_deleting_a_stored_run_over_the_cap():
    store = store_mod.get_store()
    token = store.create(spec=SPEC.to_dict())
    kept = engine.limits.MAX_RUNS_KEPT
    for n in range(1, kept + 1):
        store.save_run(token, _run(n))
    at = _train(token)
    at.button(key="tr-start").click().run()
    assert not at.exception, at.exception
    assert [r.number for r in runs(at)] == list(range(1, kept + 1))  # nothing started, nothing deleted yet
    assert any("#1" in w.value and "delete" in w.value for w in at.warning)
    at.button(key="tr-start-cancel").click().run()
    assert [r.number for r in runs(at)] == list(range(1, kept + 1)) and not at.warning
    at.button(key="tr-start").click().run()
    at.button(key="tr-start-confirm").click().run()
    assert not at.exception, at.exception
    assert [r.number for r in runs(at)] == [*range(2, kept + 1), kept + 1]
    _stop(at)


def test_imported_runs_count_against_the_workspace_cap_and_start_asks_first(monkeypatch):
    """A file is accepted with up to PLAYGROUND_MAX_RUNS_PER_WORKSPACE runs: one more run asks before deleting one."""
    monkeypatch.setattr(engine.limits, "MAX_RUNS_PER_WORKSPACE", 5)
    token = store_mod.get_store().import_zip(files.write(files.WorkspaceFile(
        spec=SPEC.to_dict(), runs=[_run(n) for n in range(1, 6)])))
    at = _train(token)
    at.button(key="tr-start").click().run()
    assert [r.number for r in runs(at)] == [1, 2, 3, 4, 5]
    assert any("#1" in w.value and "PLAYGROUND_MAX_RUNS_PER_WORKSPACE" in w.value for w in at.warning)
    at.button(key="tr-start-confirm").click().run()
    assert not at.exception, at.exception
    assert [r.number for r in runs(at)] == [2, 3, 4, 5, 6]
    _stop(at)

"""A run interrupted without a stored checkpoint (a database outage, a size-cap refusal, an older server that
cleared it) opens on the Train page as interrupted, with its records and Reset offered, and never raises."""
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

import engine
from engine import workspace as store_mod
from engine.training import Checkpoint, TrainConfig
from engine.workspace import RunRecord
from tests.app.train.test_train import configure, runs
from ui.core import workspace

ROOT = Path(__file__).resolve().parents[3]
TRAIN = str(ROOT / "views" / "3_Train.py")


def _records(n):
    return [{"kind": "epoch" if i % 5 == 4 else "step", "step": i + 1, "epoch": i // 5, "train_loss": 1.0 / (i + 1),
             "train_acc": 0.5, "elapsed": 0.1 * i} for i in range(n)]


def test_an_interrupted_run_without_weights_opens_with_its_records_and_reset():
    store = store_mod.get_store()
    spec = engine.network.presets.get("toy-mlp")
    token = store.create(spec=spec.to_dict())
    config = TrainConfig(dataset="circle", epochs=400, batch_size=32, device="cpu", seed=0)
    for state in ("interrupted", "running"):  # "running": its server stopped flushing it (a restart)
        number = 1 if state == "interrupted" else 2
        store.save_run(token, RunRecord(number, label=f"#{number} toy-mlp", spec=spec.to_dict(),
                                        config=config.to_dict(), state=state, records=_records(33)))
    store.db.dispose()
    original = store.interrupt_after
    store.interrupt_after = 0.0
    try:
        time.sleep(0.05)
        for _ in range(2):  # every load, not only the first
            at = AppTest.from_file(TRAIN, default_timeout=60)
            at.query_params[workspace.PARAM] = token
            at.run()
            assert not at.exception, at.exception
            shown = runs(at)
            assert [r.state for r in shown] == ["interrupted", "interrupted"]
            assert all(r.trainer.record_count == 33 and not r.trainer.has_weights for r in shown)
            assert not at.button(key="tr-reset").disabled
            assert at.button(key="tr-resume").disabled  # nothing to resume from: Reset trains it again
            assert any("weights were not kept" in c.value or "not saved" in c.value
                       for c in (*at.caption, *at.info, *at.warning)), "the page says why it cannot resume"
    finally:
        store.interrupt_after = original
    at.button(key="tr-reset").click().run()
    assert not at.exception
    assert runs(at)[-1].state in ("idle", "queued", "running")
    for run in runs(at):
        run.trainer.stop()


def _curve_is_continuous(records):
    steps = [r["step"] for r in records if r.get("kind") == "step"]
    epochs = [r["epoch"] for r in records if r.get("kind") == "epoch"]
    assert steps == sorted(set(steps)), "step records repeat or go back"
    assert epochs == list(range(epochs[0], epochs[0] + len(epochs))) if epochs else True, "an epoch is missing"


def test_a_resumed_run_keeps_its_records_and_continues_the_same_curve(monkeypatch):
    """Killed inside the checkpoint window (records written after the last checkpoint), reopened and resumed: the
    run keeps every record up to its checkpoint, its curve goes on from there, and what is stored is the whole
    curve, not only what the resumed run recorded."""
    from tests.app.core.test_workspace import _flusher
    from ui.core import saved_runs
    from ui.core.session import KEY

    monkeypatch.setattr(saved_runs, "CHECKPOINT_EVERY", 2.5)  # rounds (1 s) between checkpoints write records
    at = AppTest.from_file(TRAIN, default_timeout=60)
    at.run()
    session = at.session_state[KEY]
    session.set_spec(engine.network.presets.get("toy-mlp"))
    configure(at, epochs=500)
    # Batches of 4: about 56,000 steps, so the run outlasts several checkpoints even on an idle machine (with
    # batches of 32 it could end in 2 s, before its first checkpoint).
    at.number_input(key="tr-batch").set_value(4).run()
    at.button(key="tr-start").click().run()
    run = runs(at)[-1]
    store, flusher = store_mod.get_store(), _flusher()

    def stored_window():  # stored records past the stored checkpoint's
        stored = store.open(session.token).runs
        weights, state = store.run_blobs(session.token, run.number) if stored else (None, None)
        if weights is None or state is None:
            return 0
        return len(stored[0].records) - Checkpoint.from_blobs(weights, state).records

    end = time.monotonic() + 30
    while stored_window() < 1 and time.monotonic() < end:
        run.trainer.heartbeat()
        time.sleep(0.05)
    assert stored_window() >= 1
    flusher.unwatch(session.token, run.number)  # killed: nothing saves the run any more
    saved_runs._live.clear()
    run.trainer.stop()
    assert flusher.flush(30)
    (cut_record,) = store.open(session.token).runs
    before = cut_record.records
    monkeypatch.setattr(store, "interrupt_after", 0.0)
    again = AppTest.from_file(TRAIN, default_timeout=60)
    again.query_params[workspace.PARAM] = session.token
    again.run()
    (cut,) = runs(again)
    checkpoint = cut.trainer.checkpoint()
    assert cut.state == "interrupted" and checkpoint.records < len(before)
    monkeypatch.setattr(store, "interrupt_after", 60.0)
    again.button(key="tr-resume").click().run()
    resumed = runs(again)[-1].trainer
    try:
        assert not again.exception
        assert resumed.records()[:checkpoint.records] == before[:checkpoint.records]
        assert wait_for_count(resumed, len(before) + 5)
        _curve_is_continuous(resumed.records())
        again.run()  # the page hands the resumed run to the flusher
        assert flusher.flush(30)
        stored = store.open(session.token).runs[0].records
        assert len(stored) >= len(before) and stored[:checkpoint.records] == before[:checkpoint.records]
        # Those after the checkpoint are recorded again (which steps get a record depends on timing).
        assert max(r["step"] for r in stored) >= max(r["step"] for r in before)
        _curve_is_continuous(stored)
    finally:
        resumed.stop()


def wait_for_count(trainer, n, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        trainer.heartbeat()
        if trainer.record_count >= n:
            return True
        time.sleep(0.05)
    return False

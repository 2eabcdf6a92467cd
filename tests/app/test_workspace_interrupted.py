"""A run interrupted without a stored checkpoint (a database outage, a size-cap refusal, an older server that
cleared it) opens on the Train page as interrupted, with its records and Reset offered, and never raises."""
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

import engine
from engine import workspace as store_mod
from engine.training import TrainConfig
from engine.workspace import RunRecord
from tests.app.test_train import runs
from ui import workspace

ROOT = Path(__file__).resolve().parents[2]
TRAIN = str(ROOT / "pages" / "3_Train.py")


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

"""A live run's checkpoints in a real store (temp SQLite, short checkpoint interval): a stored checkpoint is only
ever replaced by a newer one, a database outage still ends with the run's final state stored, and a resumed run
keeps its records and continues the same curve."""
import threading
import time

import pytest

import engine
from engine import data
from engine.training import TERMINAL, Checkpoint, RunLimiter, TrainConfig, Trainer
from engine.workspace import Flusher, Store, StoreUnavailable
from ui.core import saved_runs
from ui.core.session import Run


@pytest.fixture
def store(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'playground.db'}")
    yield store
    store.db.dispose()


@pytest.fixture
def flusher(store):
    made = []

    def make(target=store):
        made.append(Flusher(target, interval=0.05))
        return made[-1]

    yield make
    for f in made:
        f.close(5.0)


def _wait(condition, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return False


def _run(number=1, epochs=10_000, resume=None, history=None):
    dataset = data.load("circle", 0, n=200)
    config = TrainConfig(dataset="circle", epochs=epochs, batch_size=8, device="cpu", seed=0, metrics_every=5)
    trainer = Trainer(engine.network.presets.get("toy-mlp"), config, dataset=dataset, limiter=RunLimiter(4),
                      resume=resume, **({"history": history} if history is not None else {}))
    return Run(number, "train", trainer, trainer.spec, config, label=f"#{number}")


def test_a_stored_checkpoint_stays_until_a_newer_one_replaces_it(store, flusher, monkeypatch):
    """Sampled many times while the run trains: once a checkpoint is stored, every sample has weights and optimiser
    state, and the stored checkpoint's step never goes back."""
    monkeypatch.setattr(saved_runs, "CHECKPOINT_EVERY", 0.4)
    token = store.create(spec=engine.network.presets.get("toy-mlp").to_dict())
    f = flusher()
    run = _run()
    saved_runs.watch(f, token, run)
    run.trainer.start()
    try:
        samples = []
        end = time.monotonic() + 4.0
        while time.monotonic() < end:
            run.trainer.heartbeat()
            samples.append(store.run_blobs(token, 1) if store.open(token).runs else (None, None))
            time.sleep(0.03)
    finally:
        run.trainer.stop()
    first = next(i for i, (w, _) in enumerate(samples) if w is not None)
    later = samples[first:]
    assert len(later) > 20
    missing = sum(w is None or o is None for w, o in later)
    assert missing == 0, f"{missing} of {len(later)} samples after the first checkpoint had no checkpoint"
    steps = [Checkpoint.from_blobs(w, o).step for w, o in later]
    assert steps == sorted(steps) and steps[-1] > steps[0]


class Outage:
    """A Store whose writes fail with StoreUnavailable while ``down`` is set."""

    def __init__(self, store):
        self.store, self.down = store, threading.Event()

    def __getattr__(self, name):
        method = getattr(self.store, name)

        def call(*args, **kwargs):
            if self.down.is_set():
                raise StoreUnavailable("the database is read-only (test)")
            return method(*args, **kwargs)

        return call


def test_a_run_that_ends_during_an_outage_is_stored_finished_afterwards(store, flusher, monkeypatch):
    """The database fails while a checkpointed run trains on and finishes with its results: once it answers again,
    the stored run is finished, with its final weights and results (not the older failed "running" write)."""
    monkeypatch.setattr(saved_runs, "CHECKPOINT_EVERY", 0.2)
    token = store.create(spec=engine.network.presets.get("toy-mlp").to_dict())
    outage = Outage(store)
    f = flusher(outage)
    run = _run(epochs=30)
    saved_runs.watch(f, token, run)
    run.trainer.start()
    assert _wait(lambda: store.open(token).runs and store.run_blobs(token, 1)[0] is not None)
    outage.down.set()
    assert _wait(lambda: f.last_error is not None, 10)
    assert _wait(lambda: run.trainer.state in TERMINAL, 60)
    run.results = {"loss": 0.5, "accuracy": 0.75, "confusion": None, "misclassified": [1, 2],
                   "predictions": [0, 1, 0]}
    time.sleep(0.5)  # a few failed rounds read the ended run meanwhile
    outage.down.clear()
    assert f.flush(30)
    (stored,) = store.open(token).runs
    assert stored.state == "finished"
    assert stored.results is not None and stored.results["accuracy"] == 0.75
    assert stored.has_weights and store.run_blobs(token, 1)[0] == run.trainer.weights(with_initial=True)
    assert len(stored.records) == run.trainer.record_count

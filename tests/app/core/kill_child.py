"""A training process for the kill -9 test: trains run 1 of a workspace with the store, resuming it when stored.

Usage: python tests/app/kill_child.py DATABASE_URL TOKEN EPOCHS. Prints "training resumed" (or "fresh") once the run trains, "done"
when it has finished and been written.
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from engine import data, network  # noqa: E402
from engine.training import TERMINAL, RunLimiter, SavedRun, TrainConfig, Trainer, evaluate  # noqa: E402
from engine.workspace import Flusher, Store  # noqa: E402
from ui import saved_runs  # noqa: E402
from ui.core.session import Run  # noqa: E402

CHECKPOINT_EVERY = 0.2  # seconds: many checkpoints, and records written between them


def main(url: str, token: str, epochs: int) -> None:
    saved_runs.CHECKPOINT_EVERY = CHECKPOINT_EVERY
    store = Store(url)
    flusher = Flusher(store, interval=0.05)
    spec = network.presets.get("toy-mlp")
    config = TrainConfig(dataset="circle", seed=0, epochs=epochs, batch_size=16, device="cpu", metrics_every=10)
    dataset = data.load("circle", seed=0)
    stored = store.open(token).runs
    saved = saved_runs.stored_run(stored[0], token, store, flusher).trainer if stored else None
    if isinstance(saved, SavedRun) and saved.state == "finished":
        print("done", flush=True)
        return
    resumed = isinstance(saved, SavedRun) and saved.resumable
    if resumed:  # as the Train page's Resume
        trainer = Trainer(spec, config, dataset=dataset, limiter=RunLimiter(1), resume=saved.checkpoint(),
                          history=saved.records())
    else:  # killed before its first checkpoint was stored: trained again, as Reset
        trainer = Trainer(spec, config, dataset=dataset, limiter=RunLimiter(1))
    run = Run(1, "train", trainer, trainer.spec, config, label="#1")
    saved_runs.watch(flusher, token, run)
    trainer.start()
    print("training", "resumed" if resumed else "fresh", flush=True)
    while trainer.state not in TERMINAL:
        trainer.heartbeat()
        time.sleep(0.02)
    run.results = evaluate(trainer.model, trainer.dataset, "test")
    assert flusher.flush(30)
    flusher.close(10)
    print("done", trainer.state, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))

"""A training process for the kill -9 test: trains run 1 of a workspace with the store, resuming it when stored.

Usage: python tests/app/core/kill_child.py DATABASE_URL TOKEN EPOCHS. Prints "training resumed" (or "fresh") once the
run trains, "done" when it has finished and been written.

With ``--serve`` in front it imports everything once, then starts one such process per line read from stdin
(``os.fork``: each life is its own process, killed with SIGKILL, without paying torch's and the app's imports
again): it prints "pid N" before the life prints anything, and "exit STATUS" once that process has ended.
"""
import os
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

import torch  # noqa: E402

from engine import data, network  # noqa: E402
from engine.training import TERMINAL, RunLimiter, SavedRun, TrainConfig, Trainer, evaluate  # noqa: E402
from engine.workspace import Flusher, Store  # noqa: E402
from ui.core import saved_runs  # noqa: E402
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


def serve(url: str, token: str) -> None:
    """One life per line of stdin (its EPOCHS), each a forked process; nothing here has started a thread yet."""
    # What each life would otherwise import first, loaded once: torch._dynamo behind a module's call (2 s, also on
    # meta tensors, which compute nothing: no thread pool starts before the forks) and Alembic.
    torch.nn.Linear(2, 3, device="meta")(torch.empty(1, 2, device="meta"))
    Store(url).db.dispose()
    for line in sys.stdin:
        sys.stdout.flush()  # a child must not inherit (and print again) what this process buffered
        go_read, go_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(go_write)
            os.read(go_read, 1)  # after the parent's "pid N": the test reads that line first
            status = 1
            try:
                main(url, token, int(line))
                status = 0
            except BaseException:  # noqa: BLE001 - said on stderr; the test sees the exit status
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                os._exit(status)
        os.close(go_read)
        print("pid", pid, flush=True)
        os.write(go_write, b"x")
        os.close(go_write)
        _, status = os.waitpid(pid, 0)
        print("exit", status, flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "--serve":
        serve(sys.argv[2], sys.argv[3])
    else:
        main(sys.argv[1], sys.argv[2], int(sys.argv[3]))

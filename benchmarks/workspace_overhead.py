"""Training throughput with the workspace saved as it trains, against the same run unsaved and a bare PyTorch loop.

The saved run is watched by the process's flusher exactly as the Train page has it watched (``ui.core.workspace``):
its records written to a SQLite database about once a second and a checkpoint (weights, optimiser state, place in
the data) every ``--checkpoint`` seconds (the app's 15 by default; the mnist-cnn run lasts long enough for one),
from the flusher's own thread. Cases: the tiny CNN on 8×8 digits (a
fast loop, where per-step overhead shows most) and mnist-cnn on 28×28 (large weights to checkpoint). Goal: the
saved run keeps ≥ 0.90 of the bare loop's samples/s. Run: python benchmarks/workspace_overhead.py [--repeats 1] [--checkpoint 15]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ["PLAYGROUND_DATA_DIR"] = tempfile.mkdtemp(prefix="workspace-bench-")

import torch  # noqa: E402
from train_overhead import TINY_CNN, bare, dataset  # noqa: E402

import engine  # noqa: E402
from engine import data, workspace  # noqa: E402
from engine.training import RunLimiter, TrainConfig, Trainer  # noqa: E402
from ui import workspace as saving  # noqa: E402
from ui.core.session import Run  # noqa: E402


def run_once(spec, ds, batch: int, token: str | None, number: int) -> float:
    """Wall seconds from start() to "finished" for one epoch; saved to workspace ``token`` when given."""
    config = TrainConfig(optimizer="adam", batch_size=batch, epochs=1, device="cpu", metrics_every=10)
    trainer = Trainer(spec, config, ds, limiter=RunLimiter(1))
    if token is not None:
        # group "bench": no test results are awaited, so the run is done once it ends with its weights
        saving._watch(workspace.get_flusher(), token, Run(number, "bench", trainer, spec, config, label="bench"))
    t0 = time.perf_counter()
    trainer.start()
    trainer.thread.join()
    elapsed = time.perf_counter() - t0
    assert trainer.state == "finished", trainer.status.message
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--checkpoint", type=float, default=saving.CHECKPOINT_EVERY,
                        help="seconds between checkpoints of the saved run (default: the app's)")
    args = parser.parse_args()
    saving.CHECKPOINT_EVERY = args.checkpoint
    engine.device.configure_threads()
    store, flusher = workspace.get_store(), workspace.get_flusher()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads; database {store.db.url}; "
          f"checkpoint every {args.checkpoint:g} s")
    cases = [("tiny CNN on 8×8 digits", engine.ModelSpec.from_dict(TINY_CNN), 8, 32, 32 * 600),
             ("mnist-cnn on 28×28 upsampled digits", engine.network.presets.get("mnist-cnn"), 28, 64, 64 * 100)]
    number = 0
    for label, spec, side, batch, n in cases:
        ds = dataset(side, n, batch)
        spec, _ = data.adapt_spec(spec, ds)
        token = store.create(spec=spec.to_dict())
        bare(spec, ds, batch, "cpu")  # warm-up
        timings = {"bare": [], "unsaved": [], "saved": []}
        for _ in range(args.repeats):  # alternate, keep the best of each: the machine may be shared
            timings["bare"].append(bare(spec, ds, batch, "cpu")[0])
            timings["unsaved"].append(run_once(spec, ds, batch, None, 0))
            number += 1
            timings["saved"].append(run_once(spec, ds, batch, token, number))
            assert flusher.flush(60), "the flusher could not write"
        rate = {k: n / min(v) for k, v in timings.items()}
        saved = store.open(token).runs[-1]
        print(f"{label:38s} batch {batch:3d}: bare {rate['bare']:7.0f}, unsaved Trainer {rate['unsaved']:7.0f}, "
              f"saved Trainer {rate['saved']:7.0f} samples/s; saved/bare {rate['saved'] / rate['bare']:.3f}, "
              f"saved/unsaved {rate['saved'] / rate['unsaved']:.3f} (goal ≥ 0.90); stored: {saved.state}, "
              f"{len(saved.records)} records", flush=True)


if __name__ == "__main__":
    main()

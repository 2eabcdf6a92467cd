"""Train a small CNN on scikit-learn's 8×8 digits to ≥ 97% test accuracy with the Trainer; goal under 30 s on 2 cores.

Run: python benchmarks/train_to_accuracy.py [--target 0.97] [--epochs 40]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import engine  # noqa: E402
from engine import data  # noqa: E402
from engine.training import RunLimiter, TrainConfig, Trainer, evaluate  # noqa: E402

SMALL_CNN = {"name": "small-cnn", "input": [1, 8, 8], "layers": [
    {"type": "Conv2d", "out_channels": 16, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
    {"type": "Conv2d", "out_channels": 16, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
    {"type": "MaxPool2d", "kernel_size": 2},
    {"type": "Conv2d", "out_channels": 32, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
    {"type": "MaxPool2d", "kernel_size": 2}, {"type": "Flatten"}, {"type": "Dropout", "p": 0.2},
    {"type": "Linear", "out_features": 10}]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=float, default=0.97)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    ds = data.load("digits", args.seed)
    config = TrainConfig(optimizer="adam", lr=3e-3, batch_size=32, epochs=args.epochs, seed=args.seed,
                         shift=1, early_stopping=True, patience=6, device="cpu")
    run = Trainer(engine.ModelSpec.from_dict(SMALL_CNN), config, ds, limiter=RunLimiter(1))
    t0 = time.perf_counter()
    run.start()
    reached = None
    while run.thread.is_alive():
        run.thread.join(0.3)  # poll like a page: every 0.3 s
        run.heartbeat()
        epochs = [r for r in run.records() if r["kind"] == "epoch"]
        if reached is None and epochs and epochs[-1]["val_acc"] >= args.target:
            reached = (time.perf_counter() - t0, epochs[-1]["epoch"])
    seconds = time.perf_counter() - t0
    result = evaluate(run.model, ds, "test")
    print(f"{engine.device.describe()}: {run.status.state} ({run.status.message}) in {seconds:.1f} s, "
          f"{run.status.epoch} epochs")
    if reached:
        print(f"validation accuracy ≥ {args.target:.0%} after epoch {reached[1]} ({reached[0]:.1f} s)")
    ok = result["accuracy"] >= args.target
    print(f"test accuracy {result['accuracy']:.4f} ({len(ds.x_test)} images) — goal ≥ {args.target:.2f}: "
          f"{'met' if ok else 'NOT met'}; time goal < 30 s: {'met' if seconds < 30 else 'NOT met'}")


if __name__ == "__main__":
    main()

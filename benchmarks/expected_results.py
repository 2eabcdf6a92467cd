"""The README's expected-results table: each preset trained with the Train page's settings for its dataset.

Adam with the learning rate and epochs the Train page pre-fills (``suggested_settings``), batch 32, seed 0, CPU.
Prints one Markdown row per run: test accuracy (an autoencoder's test reconstruction error) and training time.

Run: python benchmarks/expected_results.py [--only tiny-vgg] [--threads 2]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from engine import data  # noqa: E402
from engine.network import presets
from engine.training import RunLimiter, TrainConfig, Trainer, evaluate  # noqa: E402
from engine.training.config import suggested_settings  # noqa: E402

RUNS = [("toy-mlp", "circle"), ("toy-mlp", "xor"), ("toy-mlp", "gaussians"), ("toy-mlp", "spiral"),
        ("xo-cnn", "xo"), ("tiny-vgg", "digits"), ("deep-mlp", "digits"),
        ("mnist-cnn", "mnist"), ("lenet5", "mnist32"), ("autoencoder", "mnist")]


def train(preset: str, dataset: str, seed: int = 0) -> tuple[str, float, str]:
    """(test accuracy or reconstruction error, training seconds, end state) of one preset on one dataset."""
    hint = suggested_settings(dataset)
    config = TrainConfig(dataset=dataset, optimizer="adam", lr=hint["lr"], epochs=hint["epochs"], batch_size=32,
                         seed=seed, device="cpu")
    ds = data.load(dataset, seed=seed)
    run = Trainer(presets.get(preset), config, dataset=ds, limiter=RunLimiter(1))
    t0 = time.perf_counter()
    run.start()
    while run.thread.is_alive():
        run.thread.join(0.3)
        run.heartbeat()  # as the page's poll does
    seconds = time.perf_counter() - t0
    result = evaluate(run.model, run.dataset, "test")  # run.dataset: an autoencoder's is the reconstruction task
    score = f"{result['accuracy']:.1%}" if result["accuracy"] is not None else f"MSE {result['loss']:.4f}"
    return score, seconds, run.status.state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="one preset name")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (the table: 1; MNIST rows: 2)")
    args = parser.parse_args()
    import torch

    os.environ["PLAYGROUND_TORCH_THREADS"] = str(args.threads)  # the loop's configure_threads would reset it
    torch.set_num_threads(args.threads)
    print("| preset | dataset | test accuracy | training time |\n|---|---|---:|---:|")
    for preset, dataset in RUNS:
        if args.only and preset != args.only:
            continue
        score, seconds, state = train(preset, dataset)
        print(f"| `{preset}` | {dataset} | {score} | {seconds:.1f} s |" + ("" if state == "finished" else
                                                                         f" ({state})"), flush=True)


if __name__ == "__main__":
    main()

"""Timings of the diagnostics on mnist-cnn and the bundled MNIST: the learning-rate range test (100 steps at most),
a 21×21 loss plane on 512 samples and the loss line with 41 points.

Goals on a 2-core CPU: LR test < 15 s, plane < 60 s, line < 5 s (wall and process CPU time are printed: on a shared
machine read the CPU time). Run: python benchmarks/diagnostics.py [--steps 21]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

import engine  # noqa: E402
from engine import data, diagnostics  # noqa: E402
from engine.training import TrainConfig, Trainer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=21, help="grid points per axis of the plane")
    parser.add_argument("--skip-lr", action="store_true", help="time the line and the plane only")
    parser.add_argument("--nice", type=int, help="the landscape threads' nice value (default PLAYGROUND_TRAIN_NICE); "
                                                 "1: nearly the benchmark's own priority on a machine shared with others")
    args = parser.parse_args()
    if args.nice is not None:
        engine.limits.TRAIN_NICE = args.nice
    engine.device.configure_threads()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, {os.cpu_count()} cores; the landscape "
          f"on {getattr(engine.limits, 'LANDSCAPE_THREADS', 1)} cores (PLAYGROUND_LANDSCAPE_THREADS) at nice {engine.limits.TRAIN_NICE}; "
          f"load average "
          f"{os.getloadavg()[0]:.1f}")
    ds = data.load("mnist", 0)
    spec, _ = data.adapt_spec(engine.network.presets.get("mnist-cnn"), ds)
    config = TrainConfig(dataset="mnist", device="cpu", seed=0)

    if not args.skip_lr:
        _lr_test(spec, ds, config)
    _landscape(spec, ds, args.steps)


def _lr_test(spec, ds, config) -> None:
    t0, c0 = time.perf_counter(), time.process_time()
    result = diagnostics.lr_find(spec, ds, config)
    lr_s, lr_c = time.perf_counter() - t0, time.process_time() - c0
    print(f"LR test, mnist-cnn on MNIST (batch {config.batch_size}, {config.optimizer}): {len(result.lrs)} steps in "
          f"{lr_s:.1f} s ({lr_c:.1f} s CPU; goal < 15 s); suggestion {result.suggestion:.2g}, minimum/10 {result.min_tenth:.2g}; "
          f"{result.stopped}", flush=True)


def _landscape(spec, ds, steps: int) -> None:
    trainer = Trainer(spec, TrainConfig(dataset="mnist", device="cpu", seed=0, epochs=1), dataset=ds)
    for _ in range(50):  # a little training, so the line has somewhere to go
        trainer.step()
    model = trainer.model
    start, end = trainer.initial_state(), {k: v.clone() for k, v in model.state_dict().items()}
    x, y = ds.split("test")
    g = torch.Generator().manual_seed(0)
    pick = torch.randperm(len(x), generator=g)[:512]
    x, y = x[pick], y[pick]

    t0, c0 = time.perf_counter(), time.process_time()
    line = diagnostics.loss_line(model, start, end, x, y, "cross-entropy", diagnostics.line_alphas(41))
    line_s, line_c = time.perf_counter() - t0, time.process_time() - c0
    print(f"loss line, 41 points on 512 samples: {line_s:.2f} s ({line_c:.2f} s CPU; goal < 5 s); loss at 0 {line[10]:.3f}, at 1 "
          f"{line[30]:.3f}", flush=True)

    print(f"(load average {os.getloadavg()[0]:.1f})")
    t0, c0 = time.perf_counter(), time.process_time()
    plane = diagnostics.loss_plane(model, x, y, "cross-entropy", steps=steps)
    plane_s, plane_c = time.perf_counter() - t0, time.process_time() - c0
    print(f"loss plane, {steps}×{steps} on 512 samples: {plane_s:.1f} s ({plane_c:.1f} s CPU; goal < 60 s "
          f"at 21×21); centre {plane.centre:.3f}; load average {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()

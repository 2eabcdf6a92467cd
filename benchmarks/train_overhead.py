"""Throughput of the Trainer (thread, every metric on) against a bare PyTorch loop on the same model and data.

Cases: the mnist-cnn preset on digits upsampled to 28×28 (bilinear; 50 steps of 75 ms on this CPU; the 150 measured
until the evening of 7 December, --mnist-steps 150, take a minute more), and a tiny CNN on the 8×8 digits (150 steps,
and 900: 20 epochs of digits); each on CPU, and on CUDA too when a GPU is visible (400 steps each, the 900-step run
left out). Same spec, seed, batch size, optimiser (Adam) and batches by index permutation; the Trainer's time
includes its thread, metric reads every 10 steps and a (tiny) validation.
Two ratios: wall-clock samples/s (best of the repeats) and process CPU time, which a busy shared machine
disturbs less (on CUDA, CPU time mostly measures the launch overhead; read the wall ratio there). Goal: ratio ≥ 0.90.
The Trainer records its diagnostics as a run does (histograms, update ratios and unit health: every how many steps is
printed); it is also timed with them off, and the difference divided by the records gives what one record costs.
It also keeps its weight snapshots for the landscape's principal directions (engine.training.trajectory; off with
the diagnostics): how many it took and what one costs (timed apart, 100 snapshots of the model) are printed.
Each case repeats (alternating) at least ``--repeats`` times and until ``--seconds`` have passed: a tiny CNN's epoch
takes a tenth of a second, and its best of three swung by ±0.05 here between runs of the same code.
Run: python benchmarks/train_overhead.py [--repeats 3] [--seconds 8] [--steps 150] [--mnist-steps 50] (about a
minute)
"""
from __future__ import annotations

import argparse
import copy
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import engine  # noqa: E402
from engine import data  # noqa: E402
from engine.training import RunLimiter, Snapshots, TrainConfig, Trainer  # noqa: E402

TINY_CNN = {"name": "tiny-cnn", "input": [1, 8, 8], "layers": [
    {"type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
    {"type": "MaxPool2d", "kernel_size": 2},
    {"type": "Conv2d", "out_channels": 16, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
    {"type": "MaxPool2d", "kernel_size": 2}, {"type": "Flatten"}, {"type": "Linear", "out_features": 10}]}


def dataset(side: int, n: int, batch: int):
    """Digits (upsampled to side×side when side > 8), n training images and one batch of validation."""
    base = data.load("digits", 0)
    x = base.x_train
    while len(x) < n:
        x = torch.cat([x, base.x_train])
    y = torch.cat([base.y_train] * (len(x) // len(base.y_train) + 1))[:len(x)]
    x, y = x[:n], y[:n]
    if side != 8:
        x = F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False)  # (N, 1, side, side)
    ds = copy.copy(base)
    ds.input_shape = (1, side, side)
    ds.x_train, ds.y_train = x.contiguous(), y
    ds.x_val, ds.y_val = x[:batch].clone(), y[:batch].clone()
    ds.x_test, ds.y_test = ds.x_val, ds.y_val
    return ds


def bare(spec, ds, batch: int, device: str, seed: int = 0) -> tuple[float, float]:
    """(wall, CPU) seconds for one epoch of a plain PyTorch loop."""
    model = engine.build(spec, seed=seed).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = ds.x_train.to(device), ds.y_train.to(device)
    gen = torch.Generator().manual_seed(seed)
    _sync(device)
    t0, c0 = time.perf_counter(), time.process_time()
    perm = torch.randperm(len(x), generator=gen).to(device)
    model.train()
    for i in range(0, len(x), batch):
        idx = perm[i:i + batch]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
    loss.item()
    _sync(device)
    return time.perf_counter() - t0, time.process_time() - c0


def trainer(spec, ds, batch: int, device: str, seed: int = 0, diagnostics: bool = True,
            counts: dict | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds from start() to "finished" for one epoch of the Trainer with every metric on (and the
    diagnostics' records, unless ``diagnostics`` is False); ``counts`` gets the intervals and records made."""
    run = Trainer(spec, TrainConfig(optimizer="adam", batch_size=batch, epochs=1, device=device, seed=seed,
                                    metrics_every=10, heartbeat_timeout=3600.0), ds, limiter=RunLimiter(1))
    recorder, snapshots = run.loop.recorder, run.loop.snapshots
    if not diagnostics:
        run.loop.recorder = None
        snapshots.drop("off for the benchmark")
    _sync(device)
    t0, c0 = time.perf_counter(), time.process_time()
    run.start()
    run.thread.join()  # a page polls every 0.3 s or so; joining costs the worker nothing
    elapsed = time.perf_counter() - t0, time.process_time() - c0
    assert run.state == "finished", run.status.message
    assert run.records() and run.records()[0]["grad_norm"], "metrics were on"
    if counts is not None and diagnostics:
        counts.update(hist_every=recorder.hist_every, health_every=recorder.health_every, steps=run.status.step,
                      hist=sum("hist" in r for r in run.records()), health=sum("health" in r for r in run.records()),
                      snapshots=snapshots.taken)
    return elapsed


def snapshot_cost(spec, device: str, count: int = 100) -> float:
    """CPU milliseconds one weight snapshot takes (stride 1: ``count`` of them, the halvings included)."""
    snaps = Snapshots(engine.build(spec, seed=0).to(device), total_steps=1)
    c0 = time.process_time()
    for step in range(count):
        snaps.offer(step)
    _sync(device)
    return (time.process_time() - c0) / count * 1000


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="repeats of each case at least")
    parser.add_argument("--seconds", type=float, default=8.0, help="and repeats until a case has taken this long")
    parser.add_argument("--steps", type=int, default=150, help="training steps of the tiny CNN's timed epoch (CPU)")
    parser.add_argument("--mnist-steps", type=int, default=50, help="training steps of mnist-cnn's timed epoch (CPU)")
    args = parser.parse_args()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    engine.device.configure_threads()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
          + (f", {torch.cuda.get_device_name()}" if "cuda" in devices else ", no CUDA"))
    # (label, spec, side, batch, CPU steps): the tiny CNN also as a run of 20 epochs of digits (900 steps): at 150
    # steps it trains for a tenth of a second, and a run's one-off costs (its thread, the first record's edges, the
    # last validation) weigh as much as its recording
    mnist = engine.network.presets.get("mnist-cnn")
    cases = [("mnist-cnn on 28×28 upsampled digits", mnist, 28, 64, args.mnist_steps),
             ("tiny CNN on 8×8 digits", engine.ModelSpec.from_dict(TINY_CNN), 8, 32, args.steps),
             ("tiny CNN on 8×8 digits, 20 epochs", engine.ModelSpec.from_dict(TINY_CNN), 8, 32, 900)]
    for device in devices:
        for label, spec, side, batch, steps in cases:
            if device == "cuda" and steps == 900:
                continue  # on CUDA every case runs 400 steps
            n = batch * steps if device == "cpu" else batch * 400
            ds = dataset(side, n, batch)
            spec, _ = data.adapt_spec(spec, ds)
            bare(spec, ds, batch, device)  # warm-up
            trainer(spec, ds, batch, device)
            b, t, off, counts = [], [], [], {}
            start = time.perf_counter()
            while len(b) < args.repeats or time.perf_counter() - start < args.seconds:  # alternate, keep the best
                b.append(bare(spec, ds, batch, device))
                t.append(trainer(spec, ds, batch, device, counts=counts))
                off.append(trainer(spec, ds, batch, device, diagnostics=False))
            bare_rate, trainer_rate = n / min(w for w, _ in b), n / min(w for w, _ in t)
            off_rate = n / min(w for w, _ in off)
            cpu_ratio = min(c for _, c in b) / min(c for _, c in t)
            off_cpu = min(c for _, c in b) / min(c for _, c in off)
            per_record = (min(c for _, c in t) - min(c for _, c in off)) / max(counts["hist"], 1) * 1000
            print(f"{device:4s} {label:40s} batch {batch:3d}, {counts['steps']} steps: bare {bare_rate:8.0f} "
                  f"samples/s, Trainer {trainer_rate:8.0f} samples/s, ratio {trainer_rate / bare_rate:.3f} wall (best "
                  f"of {len(b)}), {cpu_ratio:.3f} CPU time (goal ≥ 0.90); diagnostics off {off_rate:8.0f} "
                  f"samples/s ({off_rate / bare_rate:.3f} wall, {off_cpu:.3f} CPU); histograms every "
                  f"{counts['hist_every']} steps ({counts['hist']} records), unit health every "
                  f"{counts['health_every']} ({counts['health']}): {per_record:.1f} ms CPU a record; "
                  f"{counts['snapshots']} weight snapshots, {snapshot_cost(spec, device):.2f} ms CPU each", flush=True)


if __name__ == "__main__":
    main()

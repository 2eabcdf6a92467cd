"""The CUDA path, measured: mnist-cnn trained on CUDA and on the CPU, Inspect's attributions and the time-step
gradient lab on CUDA.

Trains on full MNIST when it is in the download cache (``PLAYGROUND_DATA_DIR``), else on the bundled 5,000-digit
subset (it says which; it never downloads). Prints samples/s on each device and their ratio, then the time of each
attribution method and of ‖∂L/∂h_t‖ for an RNN, LSTM and GRU on CUDA, each checked against the CPU's numbers.
Without a CUDA device it measures the CPU only and says so (exit status 0). Runs in well under a minute.

Run: python benchmarks/gpu_check.py [--steps 60] [--threads 2]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._timing import median_ms  # noqa: E402
from engine import build, data, gradients  # noqa: E402
from engine.network import presets  # noqa: E402
from engine.training import TrainConfig  # noqa: E402
from engine.training.loop import Loop  # noqa: E402

BATCH = 64
WARMUP = 5  # first steps: cuDNN picks its algorithms, caches fill


def training_data():
    """Full MNIST when cached (no download here), else the bundled subset; with a line saying which."""
    if not data.needs_download("mnist-full"):
        return data.load("mnist-full", n_train=20_000), "full MNIST (from the cache), 20,000 training images"
    return data.load("mnist"), "the bundled 5,000-digit MNIST subset (full MNIST is not in the cache)"


def samples_per_second(ds, device: str, steps: int) -> float:
    """mnist-cnn trained for ``steps`` batches after a warm-up, synchronised at both ends."""
    config = TrainConfig(dataset=ds.name, epochs=1000, batch_size=BATCH, device=device, metrics_every=10, seed=0)
    loop = Loop(presets.get("mnist-cnn"), config, ds)
    for _ in range(WARMUP):
        loop.train_batch()
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        loop.train_batch()
    sync()
    return steps * BATCH / (time.perf_counter() - start)


def attributions_on_cuda(ds) -> None:
    """Each Inspect attribution of one test digit on CUDA: its time, and how far it is from the CPU's."""
    from engine.inspect import attribution

    cpu = build(presets.get("mnist-cnn"), seed=0).eval()
    gpu = build(presets.get("mnist-cnn"), seed=0).eval().to("cuda")
    x = ds.x_test[0]
    print(f"{'attribution':22s} {'CUDA ms':>8s} {'max |CUDA − CPU|':>17s}")
    for method in attribution.METHODS:
        options = {"window": 7} if method == "occlusion" else {}

        def on_gpu():
            result = attribution.attribute(gpu, x, method, target=3, **options)
            torch.cuda.synchronize()
            return result
        ms = median_ms(on_gpu, 3)
        diff = np.abs(on_gpu() - attribution.attribute(cpu, x, method, target=3, **options)).max()
        print(f"{method:22s} {ms:8.1f} {diff:17.2e}")


def timestep_lab_on_cuda() -> None:
    """‖∂L/∂h_t‖ (T = 100) for each cell on CUDA, against the same model on the CPU."""
    torch.manual_seed(0)
    x, y = torch.randn(32, 100, 32), torch.randint(0, 32, (32, 100))
    print(f"{'time-step gradients':22s} {'CUDA ms':>8s} {'max rel. diff':>17s}")
    for cell in ("RNN", "LSTM", "GRU"):
        spec = presets.get("char-rnn").copy(input=[100, 32], vocab_size=None, layers=[
            {"type": cell, "hidden_size": 64}, {"type": "Linear", "out_features": 32}])
        cpu = build(spec, seed=0)
        gpu = build(spec, seed=0).to("cuda")

        def on_gpu():
            norms = gradients.timestep_grad_norms(gpu, x, y)
            torch.cuda.synchronize()
            return norms
        ms = median_ms(on_gpu, 3)
        reference = gradients.timestep_grad_norms(cpu, x, y)
        diff = float(np.max(np.abs(on_gpu() - reference) / np.maximum(np.abs(reference), 1e-30)))
        print(f"{cell:22s} {ms:8.1f} {diff:17.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="training batches timed on each device")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: the app's own choice, all cores but one)")
    args = parser.parse_args()
    if args.threads:
        os.environ["PLAYGROUND_TORCH_THREADS"] = str(args.threads)  # what engine.device.configure_threads reads
    ds, which = training_data()
    print(f"mnist-cnn (3,274,634 parameters), batch {BATCH}, {args.steps} steps after {WARMUP} warm-up, on {which}")
    cpu = samples_per_second(ds, "cpu", args.steps)
    threads = torch.get_num_threads()
    print(f"CPU ({threads} thread{'s' if threads != 1 else ''}): {cpu:,.0f} samples/s")
    if not torch.cuda.is_available():
        print("No CUDA device here: the CUDA measurements (training, attributions, time-step gradients) were "
              "skipped. Run this on a machine with an NVIDIA GPU and a CUDA build of torch.")
        return
    gpu = samples_per_second(ds, "cuda", args.steps)
    print(f"CUDA ({torch.cuda.get_device_name()}): {gpu:,.0f} samples/s, {gpu / cpu:.1f}× the CPU")
    attributions_on_cuda(ds)
    timestep_lab_on_cuda()


if __name__ == "__main__":
    main()

"""Time the Inspect page's calls on the mnist-cnn preset, one 28×28 input, CPU, against a bare forward+backward.

Run: ``.venv/bin/python benchmarks/inspect_bench.py`` (not "inspect.py": a script of that name hides the
standard library's inspect module). Goals: Saliency and Grad-CAM under 100 ms,
Integrated Gradients (50 steps) under 1 s, all activations under 100 ms. Every call includes the
private deep copy of the model (13 MB of weights) that keeps the session's model untouched.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import engine  # noqa: E402
from benchmarks._timing import median_ms  # noqa: E402
from engine import inspect  # noqa: E402
from engine.inspect import attribution


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    # One input is too small for intra-op threads: on a shared 2-core machine two threads measured
    # 170 ms for a bare forward+backward against 20 ms with one.
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = engine.build(engine.network.presets.get("mnist-cnn"), seed=0)
    x = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(0))
    bare_model = inspect.private_copy(model)

    def bare():  # what any gradient method costs at least: one forward and one backward to the input
        xb = x.unsqueeze(0).requires_grad_()
        torch.autograd.grad(bare_model(xb)[0, 0], xb)

    cases = [
        ("predict (top 5)", lambda: inspect.predict(model, x), None),
        ("activations (all layers)", lambda: inspect.activations(model, x), 100),
        ("copy.deepcopy of the model", lambda: inspect.private_copy(model), None),
        ("saliency", lambda: attribution.attribute(model, x, "saliency"), 100),
        ("gradcam (last conv)", lambda: attribution.attribute(model, x, "gradcam"), 100),
        ("guided_backprop", lambda: attribution.attribute(model, x, "guided_backprop"), None),
        ("smoothgrad (25 samples)", lambda: attribution.attribute(model, x, "smoothgrad"), None),
        ("integrated_gradients (50 steps)", lambda: attribution.attribute(model, x, "integrated_gradients"), 1000),
        ("occlusion (window 4, stride 2)", lambda: attribution.attribute(model, x, "occlusion"), None),
    ]
    base = median_ms(bare, args.repeats)
    print(f"mnist-cnn, one input, CPU, {torch.get_num_threads()} torch threads, median of {args.repeats}")
    print(f"{'bare forward+backward':34s} {base:8.1f} ms")
    failed = []
    for name, fn, goal in cases:
        ms = median_ms(fn, max(1, args.repeats // 2) if "occlusion" in name or "smooth" in name else args.repeats)
        verdict = "" if goal is None else ("  ok" if ms < goal else f"  OVER {goal} ms")
        if goal is not None and ms >= goal:
            failed.append(name)
        print(f"{name:34s} {ms:8.1f} ms  {ms / base:6.1f}× bare{verdict}")
    if failed:
        print("over goal: " + ", ".join(failed) + " (on a loaded machine, compare the ratios)")


if __name__ == "__main__":
    main()
